"""A collection's documents: upload (the browser's multipart body streamed on to the internal
API, never parsed or spooled here), live ingest progress (the API's ``/events`` SSE turned into
rendered status cells for htmx's SSE extension), cancel, reprocess and delete."""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import ServerSentEvent, ServerSentEventMessage
from multipart import (  # type: ignore[import-untyped]
    MultipartSegment,
    ParserError,
    PushMultipartParser,
    parse_options_header,
)

from builtin_plugins.dashboard.api import ApiAnswer, ApiFailure, InternalApi
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.pages_documents import (
    TERMINAL,
    WRITERS,
    collection_page,
    collection_path,
)
from builtin_plugins.dashboard.render import SECURITY_HEADERS, Pages, is_htmx
from builtin_plugins.dashboard.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    CsrfRefused,
    PasswordChangeRequired,
    SignInRequired,
    Viewer,
    csrf_token,
    load_viewer,
    verify_csrf,
)
from builtin_plugins.dashboard.signed_in import act, chosen
from builtin_plugins.dashboard.stream import StreamedAnswer, open_stream
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel

__all__ = ["DOCUMENT_FILE_HANDLERS"]

_CSRF_PREFIX_BYTES = 16 * 1024
"""How far into a form's body the CSRF field (its first field) must have ended."""
_EVENT_SPLIT = re.compile(r"\r?\n\r?\n")
_ACTIONS = frozenset({"cancel", "reprocess", "delete"})


def _document_path(document_id: str) -> str:
    return f"/rag/documents/{quote(document_id, safe='')}"


def _page_url(collection_id: str) -> str:
    return f"/dashboard/documents/{quote(collection_id, safe='')}"


async def _leading_csrf(content_type: str, stream: AsyncIterator[bytes]) -> tuple[bytes, str]:
    """The body read so far and the value of its first part when that is the CSRF field."""
    _, options = parse_options_header(content_type)
    read, value, segment = bytearray(), bytearray(), None
    try:  # no ``with``: closing the parser before the body's end would raise
        parser = PushMultipartParser(str(options.get("boundary", "")))
        async for chunk in stream:
            read.extend(chunk)
            for part in parser.parse(chunk):
                if isinstance(part, MultipartSegment):
                    if part.name != CSRF_FIELD or part.filename:
                        return bytes(read), ""
                    segment = part
                elif part:
                    value.extend(part)
                elif segment is not None:
                    return bytes(read), value.decode(errors="replace")
            if len(read) > _CSRF_PREFIX_BYTES:
                break
    except (ParserError, ValueError):
        pass
    return bytes(read), ""


async def _chained(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


async def _checked_body(
    request: Request[Any, Any, Any], kernel: Kernel, viewer: Viewer
) -> AsyncIterator[bytes]:
    """The upload's body once its CSRF token (header, or the form's first field) is right."""
    bound = f"session:{viewer.token}"
    if request.headers.get(CSRF_HEADER):
        await verify_csrf(kernel, request, bound)  # the header only: the body is not parsed
        return request.stream()
    stream = request.stream()
    read, sent = await _leading_csrf(request.headers.get("content-type", ""), stream)
    if not sent or not hmac.compare_digest(sent, csrf_token(kernel, bound)):
        raise CsrfRefused
    return _chained(read, stream)


async def _upload_answer(
    request: Request[Any, Any, Any], kernel: Kernel, viewer: Viewer, collection_id: str
) -> ApiAnswer:
    answer = await open_stream(
        request,
        viewer.token,
        "POST",
        f"{collection_path(collection_id)}/documents",
        body=await _checked_body(request, kernel, viewer),
        content_type=request.headers.get("content-type", ""),
    )
    raw = await answer.read()
    try:
        body = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        body = None
    return ApiAnswer(status=answer.status, body=body)


@post(
    "/documents/{collection_id:str}/upload",
    request_max_body_size=None,
    opt={"enclava_max_body_bytes": 2**63 - 1},  # the internal API caps each file as it streams
)
async def upload_documents(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    collection_id: FromPath[str],
) -> Response[Any]:
    """Upload files (one ingest job each): new rows for the page's script, else the page."""
    viewer = await load_viewer(request)
    answer = await _upload_answer(request, kernel, viewer, collection_id)
    if answer.status in {401, 404}:
        raise ApiFailure(answer)
    result = answer.body if answer.ok and isinstance(answer.body, dict) else None
    error = "" if result is not None else answer.message
    if is_htmx(request):
        return pages.page(
            "documents_uploaded.html",
            status=200 if result is not None else answer.status,
            documents=result["documents"] if result else [],
            errors=result["errors"] if result else [],
            error=error,
            csrf=session_csrf(kernel, viewer.token),
            may_write=True,
            terminal=TERMINAL,
            collection_id=collection_id,
        )
    return await collection_page(
        request,
        kernel,
        pages,
        viewer,
        collection_id,
        uploaded=result,
        error=error,
        status=200 if result is not None else answer.status,
    )


def _sse_events(buffer: str) -> tuple[list[tuple[str, str]], str]:
    """The complete (event, data) pairs in ``buffer`` and what is left of it."""
    *complete, rest = _EVENT_SPLIT.split(buffer)
    found = []
    for block in complete:
        event, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data.append(line.removeprefix("data:").lstrip())
        if data:
            found.append((event, "\n".join(data)))
    return found, rest


async def _progress(
    answer: StreamedAnswer,
    render: Callable[[dict[str, Any]], str],
    read_document: Callable[[], Awaitable[dict[str, Any]]],
) -> AsyncIterator[ServerSentEventMessage]:
    """A rendered ``progress`` event per job change of the API's stream (the final one with the
    document's chunk count), then ``done``."""
    buffer = ""
    async for chunk in answer.chunks():
        found, buffer = _sse_events(buffer + chunk.decode(errors="replace"))
        for event, data in found:
            if event not in {"progress", "deleted"}:
                continue
            job = msgspec.json.decode(data) if event == "progress" else {"state": "deleted"}
            ended = job.get("state") in TERMINAL or event == "deleted"
            document = await read_document() if ended and event != "deleted" else {}
            html = render({**document, "job": {"progress": 0, "error": None, **job}})
            yield ServerSentEventMessage(event="progress", data=" ".join(html.splitlines()))
            if ended:
                yield ServerSentEventMessage(event="done", data=str(job.get("state", "")))
                return
    yield ServerSentEventMessage(event="done", data="ended")


@get("/documents/{collection_id:str}/files/{document_id:str}/events")
async def document_events(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    collection_id: FromPath[str],
    document_id: FromPath[str],
) -> Response[Any]:
    """``text/event-stream`` of the document's status cell until its ingest ends; 204 without
    a session or a document the caller may read (EventSource then stops reconnecting)."""
    try:
        viewer = await load_viewer(request)
    except (SignInRequired, PasswordChangeRequired):
        return Response(b"", status_code=204, headers=SECURITY_HEADERS)
    api = InternalApi(request, viewer.token)
    collection = await api.call("GET", collection_path(collection_id))
    if not collection.ok or not isinstance(collection.body, dict):
        return Response(b"", status_code=204, headers=SECURITY_HEADERS)
    answer = await open_stream(
        request, viewer.token, "GET", f"{_document_path(document_id)}/events"
    )
    if not answer.ok:
        await answer.aclose()
        return Response(b"", status_code=204, headers=SECURITY_HEADERS)
    context = {
        "csrf": session_csrf(kernel, viewer.token),
        "collection_id": collection_id,
        "may_write": viewer.can_write and collection.body["access"] in WRITERS,
        "terminal": TERMINAL,
    }

    def render(document: dict[str, Any]) -> str:
        return pages.html(
            "documents_status.html", **context, document={"id": document_id, **document}
        )

    async def read_document() -> dict[str, Any]:
        found = await api.call("GET", _document_path(document_id))
        return found.body if found.ok and isinstance(found.body, dict) else {}

    events = _progress(answer, render, read_document)
    return ServerSentEvent(events, headers=SECURITY_HEADERS)


@post("/documents/{collection_id:str}/files/{document_id:str}/{action:str}")
async def act_on_document(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    collection_id: FromPath[str],
    document_id: FromPath[str],
    action: FromPath[str],
) -> Response[Any]:
    """``cancel`` a queued or running ingest (the API answers 409 once it ended), ``reprocess``
    a document, or ``delete`` it with its chunks and stored original."""
    path = _document_path(document_id)
    back = _page_url(collection_id)
    if chosen(action, _ACTIONS) == "delete":
        return await act(request, kernel, "DELETE", path, back)
    return await act(request, kernel, "POST", f"{path}/{action}", back)


DOCUMENT_FILE_HANDLERS = [
    upload_documents,
    document_events,
    act_on_document,
]
