"""Simulator of the Privatemode *proxy* (``privatemode-proxy``, default ``http://127.0.0.1:8080``).

The gateway never talks to Privatemode's API directly: the proxy attests the backend and
encrypts end to end, and exposes a plain OpenAI-compatible API. What this simulates, and from
which source:

* ``GET /v1/models``: docs.privatemode.ai/api/models (``tasks``: generate, embed, tool_calling,
  vision; since v1.28 both full and short ids are listed for older models); model names and
  tasks from edgelesssys/privatemode-public ``deployment.yaml`` (``--served-model-name``,
  ``--workload-tasks``). Entries are vLLM's (``id``, ``object``, ``created``, ``owned_by``) plus
  ``tasks``, which the inference-proxy adds (``internal/oss/openai/vllm.go``).
* ``POST /v1/chat/completions``: docs.privatemode.ai/api/chat-completions (vLLM shape with
  ``stop_reason``, ``prompt_logprobs``, ``tool_calls: []``); streaming per OpenAI.
* ``POST /v1/embeddings``: docs.privatemode.ai/api/embeddings (``id``/``created`` members,
  ``encoding_format``, ``dimensions``); ``qwen3-embedding-4b`` has 2560 dimensions.
* Errors the proxy makes itself (``forwarder.HTTPError``): body ``{"error":{"message":...,
  "type":""}}``, header ``Privatemode-Encrypted: false``; when the request's ``Accept`` is
  exactly ``text/event-stream`` the same JSON comes as ``event: error\\n\\ndata: <json>\\n\\n``.
* API key (``secretmanager.go``, ``server.go``): ``api_key`` None = proxy started with
  ``--apiKey`` (clients need none). Otherwise the first offered bearer key must be the right
  one: a wrong one is ``401 trying API key: ...``; once one was accepted, later offers are
  ignored, as the real proxy does. Inference with no key ever offered is
  ``500 creating request cipher: ...``.
* Unknown model: OpenAI's 404 ``model_not_found`` (the docs are silent; the proxy relays the
  backend's answer). Mid-stream failures end the connection without a frame (the proxy only
  relays bytes), so ``break_after`` aborts the socket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

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
from builtin_plugins.simulators.faults import CONTROL_PREFIX, LENGTH_KEY, abort_connection
from builtin_plugins.simulators.sse import SseWriter, json_bytes

__all__ = ["MODELS", "PrivatemodeModel", "create_privatemode_app", "privatemode_error"]

CREATED = 1_735_689_600


class PrivatemodeModel(msgspec.Struct, frozen=True):
    """One served model under all its ids (full first, then the short alias)."""

    ids: tuple[str, ...]
    tasks: tuple[str, ...]
    dimensions: int = 0


MODELS: tuple[PrivatemodeModel, ...] = (
    PrivatemodeModel(("openai/gpt-oss-120b", "gpt-oss-120b"), ("generate", "tool_calling")),
    PrivatemodeModel(
        ("leon-se/gemma-3-27b-it-fp8-dynamic", "gemma-3-27b"),
        ("generate", "tool_calling", "vision"),
    ),
    PrivatemodeModel(("qwen3-embedding-4b",), ("embed",), dimensions=2560),
    PrivatemodeModel(("openai/whisper-large-v3", "whisper-large-v3"), ("transcribe",)),
)


class _ProxyKey:
    """The key the simulated proxy holds (None until a client offered the right one)."""

    def __init__(self, expected: str | None) -> None:
        self.expected = expected
        self.accepted: str | None = None if expected else "--apiKey"


PROXY_KEY = web.AppKey("enclava_sim_privatemode_key", _ProxyKey)


def privatemode_error(
    request: web.Request, status: int, message: str | None, headers: Mapping[str, str] = {}
) -> web.Response:
    """An error as ``forwarder.HTTPError`` writes it (SSE-framed for SSE clients)."""
    if message is None:
        message = (
            "creating request cipher: simulated failure"
            if status == 500
            else f"simulated upstream failure (HTTP {status})"
        )
    payload = json_bytes({"error": {"message": message, "type": ""}})
    sse = request.headers.get("Accept") == "text/event-stream"
    body = b"event: error\n\ndata: " + payload + b"\n\n" if sse else payload
    out = {"Privatemode-Encrypted": "false", "X-Content-Type-Options": "nosniff", **headers}
    return web.Response(
        status=status,
        body=body,
        headers=out,
        content_type="text/event-stream" if sse else "application/json",
    )


def _openai_error(status: int, message: str, param: str | None, code: str | None) -> web.Response:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return web.Response(
        status=status, body=json_bytes({"error": error}), content_type="application/json"
    )


def _find(name: object) -> PrivatemodeModel | None:
    return next((m for m in MODELS if name in m.ids), None)


@web.middleware
async def _offer_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    key = request.app[PROXY_KEY]
    offered = bearer_token(request)
    if offered is not None and key.accepted is None and not request.path.startswith(CONTROL_PREFIX):
        if offered != key.expected:
            return privatemode_error(request, 401, "trying API key: Unauthorized: invalid API key")
        key.accepted = offered
    return await handler(request)


async def _models(_request: web.Request) -> web.Response:
    data = [
        {
            "id": model_id,
            "object": "model",
            "created": CREATED,
            "owned_by": "vllm",
            "tasks": list(model.tasks),
        }
        for model in MODELS
        for model_id in model.ids
    ]
    return web.Response(
        body=json_bytes({"object": "list", "data": data}), content_type="application/json"
    )


async def _inference_request(
    request: web.Request, task: str
) -> tuple[dict[str, Any], PrivatemodeModel] | web.Response:
    if request.app[PROXY_KEY].accepted is None:
        message = "creating request cipher: get latest secret: don't have an API key yet"
        return privatemode_error(request, 500, message)
    body = await read_json_object(request)
    if body is None:
        return privatemode_error(request, 400, "parsing request: body is not a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return privatemode_error(request, 400, "no model specified in request")
    model = _find(body["model"])
    if model is None:
        message = f"The model `{body['model']}` does not exist."
        return _openai_error(404, message, "model", "model_not_found")
    if task not in model.tasks:
        return _openai_error(
            400, f"The model `{body['model']}` does not support {task}.", "model", None
        )
    return body, model


async def _chat(request: web.Request) -> web.StreamResponse:
    parsed = await _inference_request(request, "generate")
    if isinstance(parsed, web.Response):
        return parsed
    body, _model = parsed
    problem = chat_problem(body)
    if problem is not None:
        return _openai_error(400, problem, "messages", None)
    plan = plan_chat(body, request.get(LENGTH_KEY, NATURAL))
    chat_id, name = new_chat_id(), body["model"]
    logprobs = body.get("logprobs") is True
    if body.get("stream") is not True:
        completion = chat_completion(plan, chat_id=chat_id, model=name, logprobs=logprobs)
        return web.Response(body=json_bytes(completion), content_type="application/json")
    writer = SseWriter(request, on_break=_abort)
    await writer.open({})
    chunks = chat_chunks(
        plan, chat_id=chat_id, model=name, with_usage=include_usage(body), logprobs=logprobs
    )
    for chunk in chunks:
        await writer.send(chunk)
    await writer.done()
    return await writer.finish()


async def _abort(writer: SseWriter) -> None:
    abort_connection(writer.request)


async def _embeddings(request: web.Request) -> web.Response:
    parsed = await _inference_request(request, "embed")
    if isinstance(parsed, web.Response):
        return parsed
    body, model = parsed
    texts = embedding_inputs(body.get("input"))
    if texts is None:
        return _openai_error(400, "input must be a string or a list of strings", "input", None)
    dimensions = body.get("dimensions", model.dimensions)
    if not isinstance(dimensions, int) or not 1 <= dimensions <= model.dimensions:
        return _openai_error(400, f"dimensions must be 1..{model.dimensions}", "dimensions", None)
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        return _openai_error(
            400, "encoding_format must be float or base64", "encoding_format", None
        )
    result = embedding_list(
        texts,
        model=body["model"],
        dimensions=dimensions,
        encoding_format=encoding,
        vllm_members=True,
    )
    return web.Response(body=json_bytes(result), content_type="application/json")


def create_privatemode_app(options: SimulatorOptions | None = None) -> web.Application:
    """The Privatemode proxy simulator as an aiohttp application."""
    options = options or SimulatorOptions()
    app = new_application(options, privatemode_error, [_offer_api_key])
    app[PROXY_KEY] = _ProxyKey(options.api_key)
    app.router.add_get("/v1/models", _models)
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_post("/v1/embeddings", _embeddings)
    return app
