"""Documents: the caller's collections (and those shared with them; an admin's: all), create and
delete, and one collection's page — its documents with their ingest state, the upload area and
a search box showing hits with document, position and score. Everything goes through the
internal API's ``/rag`` routes, which decide who may read, upload or delete."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from builtin_plugins.dashboard.api import ApiAnswer, ApiFailure, InternalApi
from builtin_plugins.dashboard.forms import read_form, writer
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.render import Pages, is_htmx, redirect
from builtin_plugins.dashboard.session import Viewer, load_viewer
from builtin_plugins.dashboard.signed_in import act
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel

__all__ = ["DOCUMENTS_HANDLERS", "TERMINAL", "WRITERS", "collection_page", "collection_path"]

URL = "/dashboard/documents"
TERMINAL = frozenset({"indexed", "failed", "cancelled"})
WRITERS = frozenset({"owner", "admin", "editor"})
"""The collection ``access`` values that may upload, cancel, reprocess and delete documents."""
_LISTED = 200
_MODES = ("hybrid", "dense", "sparse")


def collection_path(collection_id: str) -> str:
    return f"/rag/collections/{quote(collection_id, safe='')}"


async def _collections(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    *,
    failed: ApiAnswer | None = None,
    form: dict[str, str] | None = None,
) -> Response[Any]:
    answer = await InternalApi(request, viewer.token).call(
        "GET", "/rag/collections", params={"limit": _LISTED}
    )
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    field = (failed.param or "form") if failed else ""
    return pages.page(
        "documents_list.html",
        status=failed.status if failed else 200,
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        collections=answer.body["data"],
        total=answer.body["total"],
        errors={field if field in {"name", "description"} else "form": failed.message}
        if failed
        else {},
        form=form or {},
    )


@get("/documents")
async def documents_page(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """The collections the caller may read, with their document and chunk counts."""
    return await _collections(request, kernel, pages, await load_viewer(request))


@post("/documents")
async def create_collection(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Create a collection; the API's refusal shows next to the field."""
    viewer = await writer(request, kernel)
    form = await read_form(request)
    body = {"name": form.text("name"), "description": form.text("description")}
    answer = await InternalApi(request, viewer.token).call("POST", "/rag/collections", json=body)
    if answer.ok and isinstance(answer.body, dict):
        return redirect(request, f"{URL}/{quote(str(answer.body['id']), safe='')}")
    return await _collections(request, kernel, pages, viewer, failed=answer, form=form.fields())


async def _search(
    api: InternalApi, collection_id: str, query: str, mode: str
) -> tuple[list[dict[str, Any]], str]:
    """The hits of ``query`` and the API's refusal, if any."""
    if not query:
        return [], ""
    body = {"query": query, "mode": mode if mode in _MODES else "hybrid", "top_k": 10}
    answer = await api.call("POST", f"{collection_path(collection_id)}/search", json=body)
    if answer.ok and isinstance(answer.body, dict):
        return list(answer.body["data"]), ""
    return [], answer.message


async def collection_page(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    collection_id: str,
    *,
    query: str = "",
    mode: str = "hybrid",
    uploaded: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> Response[Any]:
    """One collection: documents, the upload area and the search box (with hits for ``q``)."""
    api = InternalApi(request, viewer.token)
    hits, search_error = await _search(api, collection_id, query, mode)
    if is_htmx(request) and query:
        return pages.page("documents_hits.html", hits=hits, query=query, search_error=search_error)
    found = await api.call("GET", collection_path(collection_id))
    listing = await api.call(
        "GET", f"{collection_path(collection_id)}/documents", params={"limit": _LISTED}
    )
    for answer in (found, listing):
        if not answer.ok or not isinstance(answer.body, dict):
            raise ApiFailure(answer)
    collection: dict[str, Any] = found.body
    return pages.page(
        "documents_collection.html",
        status=status,
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        collection=collection,
        documents=listing.body["data"],
        total=listing.body["total"],
        may_write=viewer.can_write and collection["access"] in WRITERS,
        may_manage=viewer.can_write and collection["access"] in {"owner", "admin"},
        terminal=TERMINAL,
        hits=hits,
        query=query,
        mode=mode,
        modes=_MODES,
        search_error=search_error,
        uploaded=uploaded,
        error=error,
    )


@get("/documents/{collection_id:str}")
async def collection_view(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    collection_id: FromPath[str],
    q: FromQuery[str] = "",
    mode: FromQuery[str] = "hybrid",
) -> Response[Any]:
    """A collection's documents and search (hits only, for htmx)."""
    viewer = await load_viewer(request)
    return await collection_page(
        request, kernel, pages, viewer, collection_id, query=q.strip(), mode=mode
    )


@post("/documents/{collection_id:str}/delete")
async def delete_collection(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], collection_id: FromPath[str]
) -> Response[Any]:
    """Delete a collection with its documents (its owner or an admin; the API decides)."""
    return await act(request, kernel, "DELETE", collection_path(collection_id), URL)


DOCUMENTS_HANDLERS = [documents_page, create_collection, collection_view, delete_collection]
