"""Helpers for provider adapter tests: apps pointed at simulators, calls, stream collection."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from builtin_plugins.providers.base import HttpProvider
from builtin_plugins.simulators.keys import TEST_API_KEY
from builtin_plugins.simulators.testing import SimulatorHandle, running_simulator
from kernel.runtime import Kernel
from kernel.upstream import Endpoint, ModelInfo, UpstreamCall

__all__ = [
    "FAST",
    "Connect",
    "Gateway",
    "call_for",
    "chat_body",
    "chat_call",
    "collect",
    "connected",
    "discovered",
    "env_for",
    "model",
    "provider_named",
]

FAST = {
    "CONNECT_TIMEOUT": "2",
    "READ_TIMEOUT": "1",
    "FIRST_BYTE_TIMEOUT": "1",
    "IDLE_CHUNK_TIMEOUT": "0.5",
}
"""Timeouts short enough for stalls to resolve in a test, long enough for a loopback simulator."""

Gateway = Callable[..., contextlib.AbstractAsyncContextManager[Kernel]]
"""``gateway(**ENCLAVA_env)``: a running app with both provider plugins; yields its kernel."""


def provider_named(kernel: Kernel, name: str) -> HttpProvider:
    """The kernel's current provider called ``name``."""
    found = [p for p in kernel.components.providers if p.name == name]
    assert len(found) == 1, f"{name} contributes {len(found)} providers"
    provider = found[0]
    assert isinstance(provider, HttpProvider)
    return provider


def env_for(kind: str, sim: SimulatorHandle, **fields: str) -> dict[str, str]:
    """``ENCLAVA_<KIND>_*`` variables pointing at ``sim`` with the test key and fast timeouts."""
    values = {"ENABLED": "true", "URL": sim.base_url, "API_KEY": TEST_API_KEY}
    values.update({**FAST, **fields})
    return {f"ENCLAVA_{kind.upper()}_{key}": value for key, value in values.items()}


@contextlib.asynccontextmanager
async def connected(
    gateway: Gateway, kind: str, sim_api_key: str | None = TEST_API_KEY, **fields: str
) -> AsyncIterator[tuple[HttpProvider, SimulatorHandle]]:
    """A fresh ``kind`` simulator and the discovered provider of an app pointed at it."""
    async with (
        running_simulator(kind, api_key=sim_api_key) as sim,
        discovered(gateway, kind, sim, **fields) as provider,
    ):
        yield provider, sim


Connect = Callable[
    ..., contextlib.AbstractAsyncContextManager[tuple[HttpProvider, SimulatorHandle]]
]
"""``privatemode(**FIELDS)`` / ``redpill(**FIELDS)`` fixtures: :func:`connected` for one kind."""


@contextlib.asynccontextmanager
async def discovered(
    gateway: Gateway, kind: str, sim: SimulatorHandle, **fields: str
) -> AsyncIterator[HttpProvider]:
    """The provider of an app pointed at ``sim``, after one discovery."""
    async with gateway(**env_for(kind, sim, **fields)) as kernel:
        provider = provider_named(kernel, kind)
        await provider.refresh()
        yield provider


async def model(provider: HttpProvider, model_id: str) -> ModelInfo:
    """``provider``'s entry for the public id ``model_id``."""
    models = {m.id: m for m in await provider.list_models()}
    return models[model_id]


def chat_body(model_id: str, *, stream: bool = False) -> bytes:
    """A chat request with odd spacing, non-ASCII text and an unknown field: bytes must survive."""
    text = '{ "model" : "%s", "messages":[{"role":"user","content":"Gr\\u00fc\u00dfe, four five"}],'
    tail = ' "stream": true}' if stream else ' "x_vendor_field": {"kept": [1, 2.50]}}'
    return (text % model_id).encode() + tail.encode()


def call_for(
    info: ModelInfo, body: bytes, *, endpoint: Endpoint, stream: bool = False
) -> UpstreamCall:
    """An UpstreamCall sending ``body`` to ``endpoint`` for ``info``."""
    return UpstreamCall(
        endpoint=endpoint, body=body, stream=stream, model=info, request_id="req-test"
    )


def chat_call(info: ModelInfo, *, stream: bool = False, body: bytes | None = None) -> UpstreamCall:
    """An UpstreamCall for ``info`` (the body names its upstream id)."""
    body = body if body is not None else chat_body(info.upstream_id, stream=stream)
    return call_for(info, body, endpoint="/chat/completions", stream=stream)


async def collect(provider: HttpProvider, call: UpstreamCall, into: list[bytes]) -> None:
    """Stream ``call`` into ``into`` (chunks stay there when the stream raises)."""
    async for chunk in provider.stream(call):
        into.append(chunk)
