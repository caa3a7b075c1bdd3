"""OpenAI-compatible handlers: chat completions, embeddings, models.

Bodies are read raw and forwarded as bytes; only the fields routing needs are decoded. Each
route declares its scope and where its model is named; the kernel gate enforces both.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Stream

from builtin_plugins.llm.gateway import Gateway
from builtin_plugins.llm.openapi import chat_doc, embeddings_doc
from builtin_plugins.llm.pipeline import Answer
from builtin_plugins.llm.wire import ChatView, EmbeddingsView, ModelEntry, ModelList, decode_view
from kernel.admission import DEFERRED_OPT, AdmittedFirst
from kernel.direct import DIRECT_OPT
from kernel.errors import InvalidRequestError, ModelNotFoundError, UpstreamError
from kernel.exchange import Exchange
from kernel.gate import request_context
from kernel.openapi import OPERATION_DOC
from kernel.responses import error_response
from kernel.streaming import BodyStream
from kernel.types import Principal, RequestContext
from kernel.upstream import Endpoint

__all__ = ["build_routes"]


def _context(request: Request[Any, Any, Any]) -> RequestContext:
    ctx = request_context(request.scope)
    if ctx is None:
        raise RuntimeError("request context missing: the kernel gate did not run")
    return ctx


def _exchange(ctx: RequestContext, body: bytes, endpoint: Endpoint, **fields: Any) -> Exchange:
    return Exchange(
        request_id=ctx.request_id,
        kind="chat" if endpoint == "/chat/completions" else "embeddings",
        endpoint=endpoint,
        principal=ctx.principal,
        body=body,
        admission=ctx.admission,
        **fields,
    )


def _key_region(principal: Principal | None) -> str | None:
    return principal.required_region if principal else None


def _response(answer: Answer) -> Response[bytes]:
    """The answer; its settlement (if still running) is awaited after the last byte is sent,
    inside the request, so a draining server still waits for it."""
    settling = answer.settling
    return Response(
        content=answer.body,
        status_code=answer.status,
        media_type=answer.content_type,
        headers=answer.headers,
        background=None if settling is None else _Settled(settling),
    )


class _Settled(BackgroundTask):
    """Waits for the settlement after the response (shielded: a client gone does not cancel
    it). Built per answer, so without :class:`BackgroundTask`'s inspection of its function."""

    __slots__ = ("_settling",)

    def __init__(self, settling: asyncio.Task[None]) -> None:  # fn/args/kwargs unused
        self._settling = settling

    async def __call__(self) -> None:
        await asyncio.shield(self._settling)


async def _stream(
    gateway: Gateway, exchange: Exchange, keep_usage: bool, key_region: str | None
) -> Stream | Response[bytes]:
    try:
        start = await gateway.stream(exchange, keep_usage=keep_usage, key_region=key_region)
    except UpstreamError as exc:
        status = exc.upstream_status or 0
        if exc.retryable or not 400 <= status < 500:
            raise
        error = InvalidRequestError(exc.message, param=exc.param, code=exc.code)
        return error_response(error, status=status)
    headers = {**start.headers, "cache-control": "no-cache"}
    return BodyStream(start.events, media_type="text/event-stream", headers=headers)


def _chat_handler(gateway: Gateway) -> HTTPRouteHandler:
    @post(
        "/chat/completions",
        status_code=200,
        opt={
            "enclava_scope": "chat.completions",
            DEFERRED_OPT: True,
            DIRECT_OPT: True,
            "enclava_model": "body",
            "enclava_json_body": True,
            OPERATION_DOC: chat_doc(),
        },
    )
    async def chat_completions(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
        """Create a chat completion (OpenAI-compatible; ``stream: true`` for SSE)."""
        ctx = _context(request)
        async with AdmittedFirst(ctx.admission):
            body = await request.body()
            view = decode_view(body, ChatView)
            exchange = _exchange(
                ctx,
                body,
                "/chat/completions",
                model=view.model,
                stream=view.stream,
                max_tokens=view.max_completion_tokens or view.max_tokens,
            )
            region = _key_region(ctx.principal)
            if not view.stream:
                answer = await gateway.complete(exchange, key_region=region, settle_after=True)
                return _response(answer)
            keep_usage = bool(view.stream_options and view.stream_options.include_usage)
            return await _stream(gateway, exchange, keep_usage, region)

    return chat_completions


def _embeddings_handler(gateway: Gateway) -> HTTPRouteHandler:
    @post(
        "/embeddings",
        status_code=200,
        opt={
            "enclava_scope": "embeddings",
            DEFERRED_OPT: True,
            DIRECT_OPT: True,
            "enclava_model": "body",
            "enclava_json_body": True,
            OPERATION_DOC: embeddings_doc(),
        },
    )
    async def embeddings(request: Request[Any, Any, Any]) -> Response[bytes]:
        """Create embeddings (string or list input; float or base64)."""
        ctx = _context(request)
        async with AdmittedFirst(ctx.admission):
            body = await request.body()
            view = decode_view(body, EmbeddingsView)
            exchange = _exchange(ctx, body, "/embeddings", model=view.model, stream=False)
            answer = await gateway.complete(
                exchange, key_region=_key_region(ctx.principal), settle_after=True
            )
            return _response(answer)

    return embeddings


async def _entries(gateway: Gateway, ctx: RequestContext) -> dict[str, ModelEntry]:
    index = await gateway.router.index()
    principal = ctx.principal
    visible = [m for m in index if principal is None or principal.may_use_model(m)]
    regions = {gateway.router.settings.required_region, _key_region(principal) or ""}
    regions.discard("")
    entries: dict[str, ModelEntry] = {}
    for model_id in sorted(visible):
        # Listed only while a route is attested now (aci/1 §5: /models must not imply trust).
        routes = [
            r
            for r in index[model_id]
            if all(r.provider.region == g for g in regions) and gateway.router.attestation(r).valid
        ]
        if not routes:
            continue
        entries[model_id] = ModelEntry(
            id=model_id,
            owned_by=routes[0].model.owned_by,
            providers=sorted({r.provider.name for r in routes}),
            regions=sorted({r.provider.region for r in routes}),
            tasks=sorted({task for r in routes for task in r.model.tasks}),
        )
    return entries


def _model_handlers(gateway: Gateway) -> list[HTTPRouteHandler]:
    @get("/models", opt={"enclava_scope": "models.list"})
    async def list_models(request: Request[Any, Any, Any]) -> ModelList:
        """Models served by healthy providers that the caller may use, in the caller's region,
        whose attestation is valid now (an unattested model is not listed)."""
        entries = await _entries(gateway, _context(request))
        return ModelList(data=list(entries.values()))

    @get(
        "/models/{model_id:path}",
        opt={"enclava_scope": "models.list", "enclava_model": "path:model_id"},
    )
    async def get_model(request: Request[Any, Any, Any], model_id: FromPath[str]) -> ModelEntry:
        """One model, or 404 ``model_not_found``."""
        model_id = model_id.lstrip("/")
        entry = (await _entries(gateway, _context(request))).get(model_id)
        if entry is None:
            raise ModelNotFoundError(model_id)
        return entry

    return [list_models, get_model]


def build_routes(gateway: Gateway) -> list[HTTPRouteHandler]:
    """A fresh set of handlers (the public and internal surfaces each get their own)."""
    return [_chat_handler(gateway), _embeddings_handler(gateway), *_model_handlers(gateway)]
