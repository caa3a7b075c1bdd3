"""Simulator of RedPill (``https://api.redpill.ai/v1``): TEE inference with signed responses.

Routes and the sources each follows:

* ``GET /v1/models``, ``GET /v1/models/{namespace}``, ``GET /v1/embeddings/models``: the
  catalog of :mod:`.redpill_models` (public; Phala docs "List Models", redpill-gateway
  ``index.ts``: catalogs carry no auth).
* ``POST /v1/chat/completions``, ``POST /v1/embeddings``: OpenAI-compatible (docs.redpill.ai
  "API overview", Phala docs "Chat Completions", "Embeddings"); chat ids ``chatcmpl-<hex>``
  (vLLM), the same id in every chunk of a stream. Each response carries ``X-Receipt-Id`` and
  ``X-E2EE-Applied: false`` (private-ai-gateway ``chat_response_headers``) and, once finished,
  an aci/1 receipt and a legacy signature over the exact request bytes received and response
  bytes sent (raw SSE bytes for streams; a stream cut short by a fault gets neither).
* A bearer key is required on inference when ``api_key`` is set: otherwise 401
  ``authentication_error`` "Invalid API key provided" (Phala docs "Error Handling").
* Unknown model: 404 ``model_not_found`` "no route available for model X" (private-ai-gateway
  ``middleware/completion.rs``). ``provider.aci_verified: true`` for a model without a
  Phala TEE, or whose upstream was marked unattested (:mod:`.redpill_upstreams`), is refused
  with 503 ``upstream_verification_failed`` (spec §5.3, §10).
* Verification: :mod:`.aci` (``/v1/aci/*``, headers) and :mod:`.redpill_signing`
  (``/v1/signature/{id}``, ``/v1/attestation/report``); a simulated NRAS for the GPU
  evidence (:mod:`.nras`). Errors: :mod:`.redpill_errors`.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from builtin_plugins.simulators.aci import ACI, AciService, Exchange, add_aci_routes, owner_of
from builtin_plugins.simulators.app import (
    SimulatorOptions,
    bearer_token,
    chat_problem,
    embedding_inputs,
    new_application,
    read_json_object,
)
from builtin_plugins.simulators.completions import (
    chat_chunks,
    chat_completion,
    embedding_list,
    include_usage,
    new_chat_id,
)
from builtin_plugins.simulators.content import NATURAL, plan_chat
from builtin_plugins.simulators.faults import LENGTH_KEY
from builtin_plugins.simulators.nras import add_nras_routes
from builtin_plugins.simulators.redpill_errors import (
    redpill_error_response,
    redpill_fault_error,
    stream_error_tail,
)
from builtin_plugins.simulators.redpill_models import CATALOG, RedPillModel, find_model
from builtin_plugins.simulators.redpill_signing import add_legacy_routes
from builtin_plugins.simulators.redpill_upstreams import add_upstream_routes, upstream_attested
from builtin_plugins.simulators.sse import SseWriter, json_bytes

__all__ = ["create_redpill_app"]

API_KEY = web.AppKey("enclava_sim_redpill_api_key", str)


def _catalog(kind: str) -> list[dict[str, Any]]:
    return [m.entry() for m in CATALOG if m.kind == kind]


async def _models(_request: web.Request) -> web.Response:
    return web.json_response({"data": _catalog("chat")})


async def _namespace(request: web.Request) -> web.Response:
    prefix = request.match_info["namespace"] + "/"
    return web.json_response({"data": [e for e in _catalog("chat") if e["id"].startswith(prefix)]})


async def _embedding_models(_request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": _catalog("embedding")})


async def _accept(
    request: web.Request, kind: str
) -> tuple[bytes, dict[str, Any], RedPillModel] | web.Response:
    expected = request.app.get(API_KEY)
    if expected is not None and bearer_token(request) != expected:
        return redpill_error_response(401, "authentication_error", "Invalid API key provided")
    raw = await request.read()
    body = await read_json_object(request)
    if body is None:
        return redpill_error_response(
            400, "invalid_request_error", "invalid json: expected an object"
        )
    model = find_model(body.get("model"))
    if model is None:
        message = f"no route available for model {body.get('model') or '(none)'}"
        return redpill_error_response(404, "model_not_found", message)
    if model.kind != kind:
        return redpill_error_response(
            400, "invalid_request_error", f"model {model.id} does not serve {kind}"
        )
    provider = body.get("provider")
    attested = upstream_attested(request.app, model)
    if isinstance(provider, dict) and provider.get("aci_verified") is True and not attested:
        message = f"upstream verification required but {model.id} offers no TEE attestation"
        return redpill_error_response(503, "upstream_verification_failed", message)
    return raw, body, model


def _exchange(
    request: web.Request, raw: bytes, model: RedPillModel, receipt_id: str, chat_id: str | None
) -> Exchange:
    return Exchange(
        receipt_id=receipt_id,
        chat_id=chat_id,
        model=model.id,
        endpoint=request.path,
        request_body=raw,
        response_body=b"",
        verified=upstream_attested(request.app, model),
        owner=owner_of(bearer_token(request)),
    )


def _headers(receipt_id: str) -> dict[str, str]:
    return {"X-Receipt-Id": receipt_id, "X-E2EE-Applied": "false"}


async def _chat(request: web.Request) -> web.StreamResponse:
    accepted = await _accept(request, "chat")
    if isinstance(accepted, web.Response):
        return accepted
    raw, body, model = accepted
    problem = chat_problem(body)
    if problem is not None:
        return redpill_error_response(400, "invalid_request_error", problem)
    aci = request.app[ACI]
    plan = plan_chat(body, request.get(LENGTH_KEY, NATURAL))
    receipt_id, chat_id = aci.new_receipt_id(), new_chat_id()
    exchange = _exchange(request, raw, model, receipt_id, chat_id)
    logprobs = body.get("logprobs") is True
    if body.get("stream") is not True:
        data = json_bytes(chat_completion(plan, chat_id=chat_id, model=model.id, logprobs=logprobs))
        aci.issue(_with_response(exchange, data))
        return web.Response(
            body=data, headers=_headers(receipt_id), content_type="application/json"
        )
    writer = SseWriter(request, on_break=_break_stream)
    await writer.open(_headers(receipt_id))
    with_usage = include_usage(body)
    for chunk in chat_chunks(
        plan, chat_id=chat_id, model=model.id, with_usage=with_usage, logprobs=logprobs
    ):
        await writer.send(chunk)

    def sign(sent: bytes) -> None:
        aci.issue(_with_response(exchange, sent))

    await writer.done(before=sign)
    return await writer.finish()


def _with_response(exchange: Exchange, response_body: bytes) -> Exchange:
    return msgspec.structs.replace(exchange, response_body=response_body)


async def _break_stream(writer: SseWriter) -> None:
    await writer.write_raw(stream_error_tail())


async def _embeddings(request: web.Request) -> web.Response:
    accepted = await _accept(request, "embedding")
    if isinstance(accepted, web.Response):
        return accepted
    raw, body, model = accepted
    texts = embedding_inputs(body.get("input"))
    if texts is None:
        return redpill_error_response(
            400, "invalid_request_error", "input must be a string or a list of strings"
        )
    dimensions = body.get("dimensions", model.dimensions)
    if not isinstance(dimensions, int) or not 1 <= dimensions <= model.dimensions:
        return redpill_error_response(
            400, "invalid_request_error", f"dimensions must be 1..{model.dimensions}"
        )
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        return redpill_error_response(
            400, "invalid_request_error", "encoding_format must be float or base64"
        )
    result = embedding_list(
        texts, model=model.id, dimensions=dimensions, encoding_format=encoding, vllm_members=False
    )
    data = json_bytes(result)
    aci = request.app[ACI]
    receipt_id = aci.new_receipt_id()
    aci.issue(_with_response(_exchange(request, raw, model, receipt_id, None), data))
    return web.Response(body=data, headers=_headers(receipt_id), content_type="application/json")


def create_redpill_app(options: SimulatorOptions | None = None) -> web.Application:
    """The RedPill simulator as an aiohttp application."""
    options = options or SimulatorOptions()
    app = new_application(options, redpill_fault_error)
    if options.api_key is not None:
        app[API_KEY] = options.api_key
    add_aci_routes(app, AciService(options.keyset_ttl_seconds))
    add_legacy_routes(app)
    add_upstream_routes(app)
    add_nras_routes(app)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/v1/models/{namespace}", _namespace)
    app.router.add_get("/v1/embeddings/models", _embedding_models)
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_post("/v1/embeddings", _embeddings)
    return app
