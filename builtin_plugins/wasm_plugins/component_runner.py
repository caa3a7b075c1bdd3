"""Runs an author's tests against the built component: ``enclava plugin test`` sets
``ENCLAVA_PLUGIN_COMPONENT`` and :mod:`enclava_sdk.testing` sends each call here instead of to
the Python class, with the test's FakeHost serving the host functions through the real linker.
``enclava plugin build|test`` also check here that the component matches its manifest."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime.component import Component

from builtin_plugins.wasm_plugins.registry import check_description
from builtin_plugins.wasm_plugins.user_cache import user_cache_dir
from kernel.errors import ConfigError
from kernel.http import HttpClients
from kernel.sandbox import CallFailed, Manifest, SandboxedPlugin, SandboxEngine, load_manifest
from kernel.sandbox.imports import HostContext, LlmChat, LlmRefused
from kernel.sandbox.logs import LogBuffer
from kernel.sandbox.outbound import FetchAnswer, HttpFetcher, OutboundRefused
from kernel.storage.kv import Reservation, Reserved

__all__ = ["CACHE_ENV", "COMPONENT_ENV", "call_component", "check_component"]

COMPONENT_ENV = "ENCLAVA_PLUGIN_COMPONENT"
CACHE_ENV = "ENCLAVA_PLUGIN_NATIVE_CACHE"
"""Where compiled components are cached (default ``native/`` in :func:`user_cache_dir`)."""


class _FakeKV:
    """The kernel KV calls host functions make, served from a FakeHost's dict."""

    def __init__(self, fake: Any, prefix: str) -> None:
        self._fake = fake
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return key.removeprefix(self._prefix)

    async def get(self, key: str) -> bytes | None:
        value = self._fake.store.get(self._key(key))
        return None if value is None else str(value).encode()

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        self._fake.store[self._key(key)] = value.decode()

    async def delete(self, key: str) -> bool:
        return self._fake.store.pop(self._key(key), None) is not None

    async def reserve(self, items: Sequence[Reservation]) -> Reserved:
        (result,) = await self.reserve_many([items])
        return result

    async def reserve_many(self, batches: Sequence[Sequence[Reservation]]) -> list[Reserved]:
        """``kv-incr`` and the ``kv-add`` of a call (counters without limits), made as the
        FakeHost's own ``kv_incr`` makes them."""
        return [
            Reserved(
                allowed=True,
                totals=tuple(int(self._fake.kv_incr(self._key(i.key), i.amount)) for i in batch),
            )
            for batch in batches
        ]


class _FakeFetcher(HttpFetcher):
    def __init__(self, fake: Any) -> None:
        super().__init__(HttpClients(), (), timeout=1, max_bytes=1)
        self._fake = fake

    async def fetch(self, raw: str) -> FetchAnswer:
        try:
            answer = json.loads(self._fake.http_fetch(raw))
        except Exception as exc:
            raise OutboundRefused(str(exc)) from None
        return FetchAnswer(int(answer["status"]), dict(answer["headers"]), str(answer["body"]))


def _fake_chat(fake: Any) -> LlmChat:
    async def chat(plugin: str, body: bytes) -> bytes:
        try:
            return str(fake.llm_chat(body.decode())).encode()
        except Exception as exc:
            raise LlmRefused(str(exc)) from None

    return chat


@functools.cache
def _engine(cache: str) -> SandboxEngine:
    return SandboxEngine(Path(cache), threads=1)


def _plugin(
    engine: SandboxEngine, manifest: Manifest, component: Component, fake: Any
) -> SandboxedPlugin:
    context = HostContext(
        manifest,
        loop=asyncio.get_running_loop(),
        kv=_FakeKV(fake, f"wasm:{manifest.name}:"),  # type: ignore[arg-type]
        fetcher=_FakeFetcher(fake),
        config=lambda: dict(fake.config),
        logs=LogBuffer(manifest.limits.log_lines),
        llm=_fake_chat(fake),
    )
    return SandboxedPlugin(engine, manifest, component, context)


async def _call(
    engine: SandboxEngine,
    manifest: Manifest,
    component: Component,
    fake: Any,
    call: tuple[str, str],
) -> str:
    plugin = _plugin(engine, manifest, component, fake)
    try:
        return await plugin.call(*call)
    finally:
        plugin.close()
        fake.lines.extend((line.stream, line.message) for line in plugin.logs.lines())


def _load(folder: str, cache: str) -> tuple[SandboxEngine, Manifest, Component]:
    manifest = load_manifest(Path(folder) / "plugin.toml")
    wasm = (Path(folder) / manifest.wasm).read_bytes()
    engine = _engine(cache)
    return engine, manifest, engine.compile(wasm, hashlib.sha256(wasm).hexdigest())


def call_component(folder: str, fake: Any, kind: str, payload: str) -> tuple[bool, str]:
    """``handle(kind, payload)`` of the component built in ``folder``, as ``(ok, value)``."""
    cache = os.environ.get(CACHE_ENV) or str(user_cache_dir() / "native")
    engine, manifest, component = _load(folder, cache)
    try:
        return True, asyncio.run(_call(engine, manifest, component, fake, (kind, payload)))
    except CallFailed as exc:
        return False, f"{exc.reason}: {exc.message}"


class _NoHost:
    """Host functions for ``describe()``, which calls none."""

    def __init__(self) -> None:
        self.store: dict[str, Any] = {}
        self.config: dict[str, Any] = {}

    def http_fetch(self, request: str) -> str:
        raise OutboundRefused("no host functions while describing")

    def llm_chat(self, request: str) -> str:
        raise LlmRefused("no host functions while describing")


async def _describe(engine: SandboxEngine, manifest: Manifest, component: Component) -> str:
    plugin = _plugin(engine, manifest, component, _NoHost())
    try:
        return await plugin.describe()
    finally:
        plugin.close()


def check_component(folder: Path, cache: Path) -> None:
    """ConfigError unless the component built in ``folder`` loads in the sandbox and its
    ``describe()`` matches ``plugin.toml``: the check the gateway makes before it serves it."""
    try:
        engine, manifest, component = _load(str(folder), str(cache))
        description = asyncio.run(_describe(engine, manifest, component))
    except (CallFailed, wasmtime.WasmtimeError) as exc:
        raise ConfigError(f"the component does not load: {str(exc).splitlines()[0]}") from None
    check_description(manifest, description)
