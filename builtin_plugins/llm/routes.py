"""OpenAI-compatible handlers: chat completions, embeddings, models.

Bodies are read raw and forwarded as bytes; only the fields routing needs are decoded.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Stream

from builtin_plugins.api_keys.policy import (
    filter_allowed_models,
    require_model_allowed,
    required_region,
)
from builtin_plugins.llm.catalog import Route
from builtin_plugins.llm.gateway import Gateway
from builtin_plugins.llm.relay import Usage, relay_sse
from builtin_plugins.llm.router import Router
from builtin_plugins.llm.wire import ChatView, EmbeddingsView, ModelEntry, ModelList, decode_view
from kernel.errors import InvalidRequestError, ModelNotFoundError, UpstreamError
from kernel.gate import request_context
from kernel.responses import error_response
from kernel.types import Endpoint, RequestContext, UpstreamResult

__all__ = ["build_routes"]


def _context(request: Request[Any, Any, Any]) -> RequestContext:
    ctx = request_context(request.scope)
    if ctx is None:
        raise RuntimeError("request context missing: the kernel gate did not run")
    return ctx


def _headers(gateway: Gateway, route: Route) -> dict[str, str]:
    return {
        "x-enclava-provider": route.provider.name,
        "x-enclava-attestation": gateway.router.attestation(route).label,
    }


async def _complete(
    gateway: Gateway, ctx: RequestContext, routes: list[Route], endpoint: Endpoint, body: bytes
) -> Response[bytes]:
    async def attempt(route: Route) -> UpstreamResult:
        call = Router.call(route, endpoint, body, stream=False, rid=ctx.request_id, usage=False)
        return await route.provider.send(call)

    route, result = await gateway.router.dispatch(routes, attempt)
    return Response(
        content=result.body,
        status_code=result.status,
        media_type=result.content_type,
        headers=_headers(gateway, route),
    )


async def _stream(
    gateway: Gateway, ctx: RequestContext, routes: list[Route], body: bytes, keep_usage: bool
) -> Stream | Response[bytes]:
    async def attempt(route: Route) -> tuple[Any, bytes]:
        call = Router.call(
            route, "/chat/completions", body, stream=True, rid=ctx.request_id, usage=not keep_usage
        )
        upstream = route.provider.stream(call)
        try:
            return upstream, await anext(upstream)
        except StopAsyncIteration:
            name = route.provider.name
            raise UpstreamError("empty stream", provider=name, retryable=True) from None
        except BaseException:
            await upstream.aclose()  # type: ignore[attr-defined]
            raise

    try:
        route, (upstream, first) = await gateway.router.dispatch(routes, attempt)
    except UpstreamError as exc:
        status = exc.upstream_status or 0
        if exc.retryable or not 400 <= status < 500:
            raise
        error = InvalidRequestError(exc.message, param=exc.param, code=exc.code)
        return error_response(error, status=status)

    def record(usage: Usage) -> None:
        ctx.state["usage"] = usage

    events = relay_sse(first, upstream, keep_usage=keep_usage, on_usage=record)
    headers = {**_headers(gateway, route), "cache-control": "no-cache"}
    return Stream(events, media_type="text/event-stream", headers=headers)


def _chat_handler(gateway: Gateway) -> HTTPRouteHandler:
    @post(
        "/chat/completions",
        status_code=200,
        opt={"enclava_scope": "chat.completions", "enclava_json_body": True},
    )
    async def chat_completions(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
        """Create a chat completion (OpenAI-compatible; ``stream: true`` for SSE)."""
        ctx = _context(request)
        body = await request.body()
        view = decode_view(body, ChatView)
        require_model_allowed(ctx.principal, view.model)
        routes = await gateway.router.candidates(
            view.model, "generate", key_region=required_region(ctx.principal)
        )
        if not view.stream:
            return await _complete(gateway, ctx, routes, "/chat/completions", body)
        keep_usage = bool(view.stream_options and view.stream_options.include_usage)
        return await _stream(gateway, ctx, routes, body, keep_usage)

    return chat_completions


def _embeddings_handler(gateway: Gateway) -> HTTPRouteHandler:
    @post(
        "/embeddings",
        status_code=200,
        opt={"enclava_scope": "embeddings", "enclava_json_body": True},
    )
    async def embeddings(request: Request[Any, Any, Any]) -> Response[bytes]:
        """Create embeddings (string or list input; float or base64)."""
        ctx = _context(request)
        body = await request.body()
        view = decode_view(body, EmbeddingsView)
        require_model_allowed(ctx.principal, view.model)
        routes = await gateway.router.candidates(
            view.model, "embed", key_region=required_region(ctx.principal)
        )
        return await _complete(gateway, ctx, routes, "/embeddings", body)

    return embeddings


async def _entries(gateway: Gateway, ctx: RequestContext) -> dict[str, ModelEntry]:
    index = await gateway.router.index()
    visible = filter_allowed_models(ctx.principal, index)
    entries: dict[str, ModelEntry] = {}
    for model_id in sorted(visible):
        routes = index[model_id]
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
        """Models served by healthy providers that the caller may use."""
        entries = await _entries(gateway, _context(request))
        return ModelList(data=list(entries.values()))

    @get("/models/{model_id:path}", opt={"enclava_scope": "models.list"})
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
