"""A sandbox engine per test module and a loader turning WAT components into plugins."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kernel.http import HttpClients
from kernel.sandbox import Manifest, SandboxedPlugin, SandboxEngine
from kernel.sandbox.imports import HostContext, LlmChat
from kernel.sandbox.logs import LogBuffer
from kernel.sandbox.outbound import HttpFetcher
from kernel.storage.kv import KV
from kernel.storage.kv_memory import MemoryKV

Load = Callable[..., SandboxedPlugin]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[SandboxEngine]:
    engine = SandboxEngine(tmp_path / "cache", threads=2)
    yield engine
    engine.close()


@pytest.fixture
async def load(engine: SandboxEngine) -> AsyncIterator[Load]:
    """``load(wasm, values=config, kv=store, llm=chat, **manifest_fields)``: a plugin backed by
    a memory KV unless ``kv`` is given."""
    loaded: list[SandboxedPlugin] = []
    http = HttpClients()
    memory = MemoryKV()

    def build(
        wasm: bytes,
        values: dict[str, Any] | None = None,
        kv: KV | None = None,
        llm: LlmChat | None = None,
        **fields: Any,
    ) -> SandboxedPlugin:
        manifest = msgspec.convert(
            {"name": "fixture", "version": "1.0.0", "abi": "0.1.0", **fields}, Manifest
        )
        component = engine.compile(wasm, hashlib.sha256(wasm).hexdigest())
        limits = manifest.limits
        context = HostContext(
            manifest,
            loop=asyncio.get_running_loop(),
            kv=kv or memory,
            fetcher=HttpFetcher(
                http,
                manifest.permissions.http,
                timeout=limits.http_timeout_ms / 1000,
                max_bytes=limits.http_max_bytes,
            ),
            config=lambda: values or {},
            logs=LogBuffer(limits.log_lines),
            llm=llm,
        )
        plugin = SandboxedPlugin(engine, manifest, component, context)
        loaded.append(plugin)
        return plugin

    yield build
    for plugin in loaded:
        plugin.close()
    await http.close()
