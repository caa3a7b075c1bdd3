"""A sandboxed WAT plugin that asks the gateway one fixed chat request through ``llm-chat``."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import msgspec

from builtin_plugins.wasm_plugins.llm import plugin_chat
from kernel.runtime import Kernel
from kernel.sandbox import Manifest, SandboxedPlugin, SandboxEngine
from kernel.sandbox.imports import HostContext
from kernel.sandbox.logs import LogBuffer
from kernel.sandbox.outbound import HttpFetcher
from support.wat_components import component

__all__ = ["asking_plugin", "chat_request"]

ASK = """
  (call $llm_chat (i32.const 256) (i32.const {size}) (i32.const 512))
  (call $ret (i32.load8_u (i32.const 512)) (i32.load (i32.const 516)) (i32.load (i32.const 520)))
"""


def chat_request(model: str, **fields: Any) -> str:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}], **fields})


def asking_plugin(
    engine: SandboxEngine, kernel: Kernel, request: str, name: str = "asker", **permissions: Any
) -> SandboxedPlugin:
    """Plugin ``name`` whose every call sends ``request`` through ``kernel``'s gateway."""
    wasm = component(ASK.format(size=len(request)), imports=["llm-chat"], data=[request])
    manifest = msgspec.convert(
        {"name": name, "version": "1.0.0", "abi": "0.1.0", "permissions": permissions}, Manifest
    )
    context = HostContext(
        manifest,
        loop=asyncio.get_running_loop(),
        kv=kernel.stores.kv,
        fetcher=HttpFetcher(kernel.http, (), timeout=1, max_bytes=1),
        config=dict,
        logs=LogBuffer(10),
        llm=plugin_chat(kernel),
    )
    compiled = engine.compile(wasm, hashlib.sha256(wasm).hexdigest())
    return SandboxedPlugin(engine, manifest, compiled, context)
