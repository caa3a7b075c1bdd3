"""The bridge componentize-py builds into the component: ``world_for(module)`` is the class
implementing the ``plugin`` world's exports on top of the module's BasePlugin subclass.

Only importable inside a build: ``wit_world`` and ``componentize_py_types`` are generated then.
"""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any

from enclava_sdk.host import HostError
from enclava_sdk.plugin import BasePlugin

__all__ = ["plugin_class", "world_for"]


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
    """HostCalls over the generated bindings; an ``Err`` becomes HostError."""

    def __init__(self) -> None:
        self._host: Any = importlib.import_module("wit_world.imports.host")
        self._err: Any = importlib.import_module("componentize_py_types").Err
        self._config: dict[str, str] = {}

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self._host, name)(*args)
        except self._err as exc:
            raise HostError(str(exc.value)) from None

    def log(self, level: str, message: str) -> None:
        self._host.log(level, message)

    def kv_get(self, key: str) -> str:
        return str(self._call("kv_get", key))

    def kv_set(self, key: str, value: str, ttl_seconds: int | None) -> str:
        return str(self._call("kv_set", key, value, ttl_seconds))

    def kv_delete(self, key: str) -> str:
        return str(self._call("kv_delete", key))

    def kv_incr(self, key: str, delta: int) -> str:
        return str(self._call("kv_incr", key, delta))

    def kv_add(self, key: str, delta: int) -> str:
        return str(self._call("kv_add", key, delta))

    def http_fetch(self, request: str) -> str:
        return str(self._call("http_fetch", request))

    def llm_chat(self, request: str) -> str:
        return str(self._call("llm_chat", request))

    def config_get(self, key: str) -> str:
        # The host answers from the configuration this instance was created with and replaces
        # instances when an admin changes it, so a value read once holds for the instance.
        if key not in self._config:
            self._config[key] = str(self._call("config_get", key))
        return self._config[key]


def world_for(module: ModuleType) -> type:
    """The ``WitWorld`` class for a build whose entry module is ``module``."""
    err: Any = importlib.import_module("componentize_py_types").Err
    plugin = plugin_class(module)(_Imports())

    class WitWorld:
        def handle(self, kind: str, request: str) -> str:
            ok, value = plugin.handle(kind, request)
            if not ok:
                raise err(value)
            return value

        def describe(self) -> str:
            return json.dumps(plugin.describe())

    return WitWorld
