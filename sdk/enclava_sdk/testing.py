"""Native tests of a plugin, without a sandbox: ``FakeHost`` and ``call_endpoint``,
``run_filter``, ``call_execute``, ``run_schedule`` go through the same dispatch as the
component, so a test that passes here is re-run unchanged against the built component by
``enclava plugin test``."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from enclava_sdk.host import HostError
from enclava_sdk.plugin import BasePlugin

__all__ = [
    "COMPONENT_ENV",
    "FakeHost",
    "call_endpoint",
    "call_execute",
    "run_filter",
    "run_schedule",
]

Fetch = Callable[[dict[str, Any]], dict[str, Any]]
Chat = Callable[[dict[str, Any]], dict[str, Any]]


class FakeHost:
    """In-memory host functions: a dict KV, recorded log lines, fixed config, scripted HTTP
    and chat answers. ``kv-add`` additions wait in ``pending`` until the call returns ok, as
    in the gateway."""

    def __init__(
        self,
        *,
        config: dict[str, Any] | None = None,
        kv: bool = True,
        fetch: Fetch | None = None,
        chat: Chat | None = None,
    ) -> None:
        self.store: dict[str, str] = {}
        self.pending: dict[str, int] = {}
        self.lines: list[tuple[str, str]] = []
        self.config = dict(config or {})
        self._kv = kv
        self._fetch = fetch
        self._chat = chat

    def _need_kv(self) -> None:
        if not self._kv:
            raise HostError("kv is not granted to this plugin")

    def log(self, level: str, message: str) -> None:
        self.lines.append((level, message))

    def kv_get(self, key: str) -> str:
        self._need_kv()
        return self.store.get(key, "null")

    def kv_set(self, key: str, value: str, ttl_seconds: int | None) -> str:
        self._need_kv()
        self.store[key] = value
        return "null"

    def kv_delete(self, key: str) -> str:
        self._need_kv()
        self.store.pop(key, None)
        return "null"

    def kv_incr(self, key: str, delta: int) -> str:
        self._need_kv()
        value = int(json.loads(self.store.get(key, "0"))) + delta
        self.store[key] = str(value)
        return str(value)

    def kv_add(self, key: str, delta: int) -> str:
        self._need_kv()
        self.pending[key] = self.pending.get(key, 0) + delta
        return "null"

    def finish(self, *, ok: bool) -> None:
        """The end of a call: its ``kv-add`` additions are made if it returned ok, else dropped."""
        pending, self.pending = self.pending, {}
        for key, delta in pending.items() if ok else ():
            self.kv_incr(key, delta)

    def http_fetch(self, request: str) -> str:
        if self._fetch is None:
            raise HostError("http is not granted to this plugin")
        return json.dumps(self._fetch(json.loads(request)))

    def llm_chat(self, request: str) -> str:
        if self._chat is None:
            raise HostError("llm is not granted to this plugin")
        return json.dumps(self._chat(json.loads(request)))

    def config_get(self, key: str) -> str:
        return json.dumps(self.config.get(key))


COMPONENT_ENV = "ENCLAVA_PLUGIN_COMPONENT"
"""Set by ``enclava plugin test`` to a plugin folder: calls then go to its built component."""


def _call(plugin: BasePlugin, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    folder = os.environ.get(COMPONENT_ENV)
    if folder:
        runner = importlib.import_module("builtin_plugins.wasm_plugins.component_runner")
        ok, value = runner.call_component(folder, plugin.host, kind, json.dumps(payload))
    else:
        ok, value = plugin.handle(kind, json.dumps(payload))
        if isinstance(plugin.host, FakeHost):
            plugin.host.finish(ok=ok)
    if not ok:
        raise AssertionError(f"plugin failed: {value}")
    result: dict[str, Any] = json.loads(value)
    return result


def call_endpoint(
    plugin: BasePlugin,
    method: str,
    path: str,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The endpoint's answer as ``{"status", "headers", "body" | "text"}``."""
    payload = {
        "method": method,
        "path": path,
        "query": query or {},
        "headers": {},
        "body": "" if body is None else json.dumps(body),
        "caller": {"kind": "api_key", "id": "test", "owner_id": "test"},
    }
    return _call(plugin, "endpoint", payload)


def run_filter(
    plugin: BasePlugin, body: dict[str, Any], *, stage: str = "request", model: str = "m"
) -> dict[str, Any] | None:
    """The filtered chat body, or None when the filter left it unchanged."""
    context = {"request_id": "req_test", "model": model, "caller": {"kind": "api_key"}}
    result = _call(plugin, f"filter-{stage}", {"body": body, "context": context})
    filtered: dict[str, Any] | None = result["body"]
    return filtered


def call_execute(
    plugin: BasePlugin, body: Any = None, *, caller_id: str = "test"
) -> dict[str, Any]:
    """``POST /plugins/<name>`` with JSON ``body``: the answer as ``{"status", "headers", "body"
    | "text"}`` (404 when the plugin has no ``execute``)."""
    caller = {"kind": "api_key", "id": caller_id, "owner_id": "test"}
    payload = {"body": body, "caller": caller, "request_id": "req_test"}
    return _call(plugin, "execute", payload)


def run_schedule(
    plugin: BasePlugin, name: str, *, fire_time: datetime | None = None
) -> dict[str, Any]:
    """One run of the schedule ``name`` (its method, or ``execute``) as the gateway fires it;
    the answer as :func:`call_execute`'s (404 for an unknown schedule)."""
    fired = fire_time or datetime(2030, 1, 1, tzinfo=UTC)
    payload = {
        "schedule": name,
        "fire_time": fired.isoformat(),
        "caller": {"kind": "plugin", "id": plugin.name, "owner_id": f"plugin:{plugin.name}"},
        "request_id": "req_test",
    }
    return _call(plugin, "schedule", payload)
