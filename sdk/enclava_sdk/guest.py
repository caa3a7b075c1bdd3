"""The bridge componentize-py builds into the component: ``world_for(module)`` is the class
implementing the ``plugin`` world's exports on top of the module's BasePlugin subclass.

Only importable inside a build: ``wit_world`` and ``componentize_py_types`` are generated then.
"""

from __future__ import annotations

import importlib
import json
import os
from types import ModuleType
from typing import Any

from enclava_sdk.codec import CODEC
from enclava_sdk.host import HostError
from enclava_sdk.plugin import BasePlugin

__all__ = ["plugin_class", "world_for"]

DEFER_ENV = "DEFERRED_EFFECTS"
"""The effects the host takes with the answer instead of a host call each, e.g. ``log,kv-add``
(``kernel/sandbox/effects.py`` on the host's side)."""
MAX_LINES = 32
MAX_HELD_CHARS = 20_000
"""Deferred log lines held at most, in lines and characters: more are sent through the host
first (the host takes 256 KiB of effects; a character may take 6 bytes of JSON)."""
MAX_LINE_CHARS = 2000
"""The host keeps that much of a line."""
MAX_ADD_KEYS = 64
MAX_KEY_CHARS = 256
_S64 = range(-(2**63), 2**63)


def plugin_class(module: ModuleType) -> type[BasePlugin]:
    """The one BasePlugin subclass ``module`` defines."""
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BasePlugin) and value is not BasePlugin
    ]
    if len(found) != 1:
        raise TypeError(f"{module.__name__} must define exactly one BasePlugin subclass")
    return found[0]


class _Imports:
    """HostCalls over the generated bindings; an ``Err`` becomes HostError.

    A host call costs a guest about 50 µs, more than a chat filter's own work. When the host
    takes them with the answer (``DEFER_ENV``), ``log`` lines and ``kv-add`` additions are held
    until the call ends: :meth:`seal` puts them before an ok answer; after a failure
    :meth:`abandon` logs the lines through the host and drops the additions (which the host
    would have dropped). Held lines are also logged before any call that may wait (KV, HTTP,
    LLM), so what was logged before a call that hangs past the deadline is kept.
    """

    def __init__(self) -> None:
        self._host: Any = importlib.import_module("wit_world.imports.host")
        self._err: Any = importlib.import_module("componentize_py_types").Err
        self._config: dict[str, str] = {}
        self._deferred: frozenset[str] | None = None
        self._lines: list[tuple[str, str]] = []
        self._held = 0
        self._adds: dict[str, int] = {}

    def _defers(self, effect: str) -> bool:
        if self._deferred is None:  # the environment is the host's only once a call runs
            self._deferred = frozenset(os.environ.get(DEFER_ENV, "").split(","))
        return effect in self._deferred

    def _flush(self) -> None:
        lines, self._lines, self._held = self._lines, [], 0
        for level, message in lines:
            self._host.log(level, message)

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self._host, name)(*args)
        except self._err as exc:
            raise HostError(str(exc.value)) from None

    def _wait(self, name: str, *args: Any) -> str:
        """A host call that may wait (and so run into the deadline): held lines go first."""
        if self._lines:
            self._flush()
        return str(self._call(name, *args))

    def seal(self, answer: str) -> str:
        """``answer`` with the held effects before it (a JSON text sequence, RFC 7464)."""
        if not self._lines and not self._adds:
            return answer
        effects: dict[str, Any] = {}
        if self._lines:
            effects["log"] = self._lines
        if self._adds:
            effects["kv_add"] = self._adds
        self._lines, self._held, self._adds = [], 0, {}
        return f"\x1e{CODEC.encode(effects)}\n\x1e{answer}\n"

    def abandon(self) -> None:
        """After a failed call: log the held lines, drop the held additions."""
        self._adds = {}
        self._flush()

    def log(self, level: str, message: str) -> None:
        if not self._defers("log"):
            self._host.log(level, message)
            return
        line = message[:MAX_LINE_CHARS]
        self._lines.append((level, line))
        self._held += len(line)
        if len(self._lines) >= MAX_LINES or self._held >= MAX_HELD_CHARS:
            self._flush()

    def kv_get(self, key: str) -> str:
        return self._wait("kv_get", key)

    def kv_set(self, key: str, value: str, ttl_seconds: int | None) -> str:
        return self._wait("kv_set", key, value, ttl_seconds)

    def kv_delete(self, key: str) -> str:
        return self._wait("kv_delete", key)

    def kv_incr(self, key: str, delta: int) -> str:
        return self._wait("kv_incr", key, delta)

    def kv_add(self, key: str, delta: int) -> str:
        if not self._defers("kv-add"):
            return str(self._call("kv_add", key, delta))
        if not key or len(key) > MAX_KEY_CHARS:  # the host's rules, checked where they apply
            raise HostError("kv-add failed: ValueError")
        if key not in self._adds and len(self._adds) >= MAX_ADD_KEYS:
            raise HostError(f"kv-add reached {MAX_ADD_KEYS} keys in this call")
        total = self._adds.get(key, 0) + delta
        if total not in _S64:
            raise HostError("kv-add failed: ValueError")
        self._adds[key] = total
        return "null"

    def http_fetch(self, request: str) -> str:
        return self._wait("http_fetch", request)

    def llm_chat(self, request: str) -> str:
        return self._wait("llm_chat", request)

    def config_get(self, key: str) -> str:
        # The host answers from the configuration this instance was created with and replaces
        # instances when an admin changes it, so a value read once holds for the instance.
        if key not in self._config:
            self._config[key] = str(self._call("config_get", key))
        return self._config[key]


def world_for(module: ModuleType) -> type:
    """The ``WitWorld`` class for a build whose entry module is ``module``."""
    err: Any = importlib.import_module("componentize_py_types").Err
    imports = _Imports()
    plugin = plugin_class(module)(imports)

    class WitWorld:
        def handle(self, kind: str, request: str) -> str:
            ok, value = plugin.handle(kind, request)
            if not ok:
                imports.abandon()
                raise err(value)
            return imports.seal(value)

        def describe(self) -> str:
            return json.dumps(plugin.describe())

    return WitWorld
