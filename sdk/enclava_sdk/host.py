"""The host functions as plugin authors use them: ``self.kv``, ``self.http``, ``self.llm``,
``self.log``, ``self.config``. Each wraps a :class:`HostCalls` backend: the real imports inside
the sandbox (:mod:`enclava_sdk.guest`) or an in-memory fake in native tests
(:mod:`enclava_sdk.testing`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Config", "HostCalls", "HostError", "Http", "HttpResponse", "Kv", "Llm", "Log"]


class HostError(Exception):
    """A host function answered err (permission missing, host down, limit exceeded...)."""


class HostCalls(Protocol):
    """The ``enclava:plugin/host`` imports: ok values are JSON text; errors raise HostError."""

    def log(self, level: str, message: str) -> None: ...

    def kv_get(self, key: str) -> str: ...

    def kv_set(self, key: str, value: str, ttl_seconds: int | None) -> str: ...

    def kv_delete(self, key: str) -> str: ...

    def kv_incr(self, key: str, delta: int) -> str: ...

    def kv_add(self, key: str, delta: int) -> str: ...

    def http_fetch(self, request: str) -> str: ...

    def llm_chat(self, request: str) -> str: ...

    def config_get(self, key: str) -> str: ...


class Kv:
    """The plugin's own key-value namespace (needs ``permissions.kv``); values are JSON."""

    def __init__(self, calls: HostCalls) -> None:
        self._calls = calls

    def get(self, key: str, default: Any = None) -> Any:
        value = json.loads(self._calls.kv_get(key))
        return default if value is None else value

    def set(self, key: str, value: Any, *, ttl_seconds: int | None = None) -> None:
        self._calls.kv_set(key, json.dumps(value), ttl_seconds)

    def delete(self, key: str) -> None:
        self._calls.kv_delete(key)

    def incr(self, key: str, delta: int = 1) -> int:
        """Atomically add ``delta`` (across replicas) and return the new value."""
        return int(json.loads(self._calls.kv_incr(key, delta)))

    def add(self, key: str, delta: int = 1) -> None:
        """Add ``delta`` once this call has returned ok (atomically, across replicas), without
        waiting for the store: the cheap way to count on the chat path. Nothing is added if
        the call fails; reads in the same call do not see it yet."""
        self._calls.kv_add(key, delta)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def json(self) -> Any:
        return json.loads(self.text)


class Http:
    """Outbound HTTP to the hosts in ``permissions.http`` only (no redirects followed)."""

    def __init__(self, calls: HostCalls) -> None:
        self._calls = calls

    def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> HttpResponse:
        request = {"url": url, "method": method, "headers": headers or {}, "body": body}
        answer = json.loads(self._calls.http_fetch(json.dumps(request)))
        return HttpResponse(int(answer["status"]), dict(answer["headers"]), str(answer["body"]))


class Llm:
    """Chat completions through the gateway as the plugin (``permissions.llm`` models, the
    plugin's own budget, attested providers only); the answer is OpenAI's JSON object."""

    def __init__(self, calls: HostCalls) -> None:
        self._calls = calls

    def chat(self, model: str, messages: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
        request = {**params, "model": model, "messages": messages}
        answer: dict[str, Any] = json.loads(self._calls.llm_chat(json.dumps(request)))
        return answer

    def text(self, model: str, prompt: str, **params: Any) -> str:
        """The first choice's text for a single user message."""
        answer = self.chat(model, [{"role": "user", "content": prompt}], **params)
        return str(answer["choices"][0]["message"]["content"] or "")


class Log:
    """Lines an admin can read in the plugin's bounded log (never the gateway's own log)."""

    def __init__(self, calls: HostCalls) -> None:
        self._calls = calls

    def debug(self, message: str) -> None:
        self._calls.log("debug", message)

    def info(self, message: str) -> None:
        self._calls.log("info", message)

    def warning(self, message: str) -> None:
        self._calls.log("warning", message)

    def error(self, message: str) -> None:
        self._calls.log("error", message)


class Config:
    """Values an admin set for the plugin (defaults from ``plugin.toml``'s ``[config]``)."""

    def __init__(self, calls: HostCalls) -> None:
        self._calls = calls
        self._scalars: dict[str, tuple[str, Any]] = {}
        """Key → (JSON text, value) of scalar values: decoded once while the text holds."""

    def get(self, key: str, default: Any = None) -> Any:
        text = self._calls.config_get(key)
        known = self._scalars.get(key)
        if known is not None and known[0] == text:
            value = known[1]
        else:
            value = json.loads(text)
            if not isinstance(value, (dict, list)):  # a container is decoded afresh: mutable
                self._scalars[key] = (text, value)
        return default if value is None else value
