"""What handlers receive and return (plain dataclasses, not msgspec Structs: the guest has no
C extensions)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = ["Caller", "Context", "FilterContext", "PluginError", "Request", "Response", "Trigger"]

Trigger = Literal["request", "schedule"]


class PluginError(Exception):
    """Raise to answer an endpoint with ``status`` and ``message`` (default 400)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Caller:
    """Who called: kind (api_key, user), id and owner id. Never a credential."""

    kind: str = ""
    id: str = ""
    owner_id: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Caller:
        data = data or {}
        return cls(
            str(data.get("kind", "")), str(data.get("id", "")), str(data.get("owner_id", ""))
        )


@dataclass(frozen=True)
class Request:
    """An HTTP request to one of the plugin's endpoints (credentials and cookies removed)."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    caller: Caller = field(default_factory=Caller)

    def json(self) -> Any:
        """The body decoded as JSON (PluginError 400 when it is not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            raise PluginError("the request body is not valid JSON") from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Request:
        return cls(
            method=str(data.get("method", "GET")),
            path=str(data.get("path", "/")),
            query={str(k): str(v) for k, v in dict(data.get("query") or {}).items()},
            headers={str(k): str(v) for k, v in dict(data.get("headers") or {}).items()},
            body=str(data.get("body") or ""),
            caller=Caller.from_dict(data.get("caller")),
        )


@dataclass(frozen=True)
class Response:
    """An endpoint's answer: a JSON ``body``, or ``text`` sent as text/plain."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.text is not None:
            return {"status": self.status, "headers": self.headers, "text": self.text}
        return {"status": self.status, "headers": self.headers, "body": self.body}


@dataclass(frozen=True)
class FilterContext:
    """The model call a chat filter sees: ids only, never other requests' content."""

    request_id: str = ""
    model: str = ""
    caller: Caller = field(default_factory=Caller)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> FilterContext:
        data = data or {}
        return cls(
            request_id=str(data.get("request_id", "")),
            model=str(data.get("model", "")),
            caller=Caller.from_dict(data.get("caller")),
        )


@dataclass(frozen=True)
class Context:
    """What ``execute`` and ``@schedule`` methods receive: the JSON body of
    ``POST /plugins/<name>`` (None for a scheduled run), or the schedule's name and fire time."""

    trigger: Trigger = "request"
    body: Any = None
    caller: Caller = field(default_factory=Caller)
    """The API key or user calling; for a scheduled run the plugin itself (kind ``plugin``)."""
    request_id: str = ""
    schedule: str = ""
    fire_time: datetime | None = None
    """The cron time this run is for (UTC), not the moment it started."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Context:
        fired = data.get("fire_time")
        return cls(
            trigger="schedule" if data.get("trigger") == "schedule" else "request",
            body=data.get("body"),
            caller=Caller.from_dict(data.get("caller")),
            request_id=str(data.get("request_id", "")),
            schedule=str(data.get("schedule", "")),
            fire_time=datetime.fromisoformat(str(fired)) if fired else None,
        )
