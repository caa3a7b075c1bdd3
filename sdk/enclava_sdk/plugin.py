"""``BasePlugin`` and the decorators that say what a plugin contributes.

The component has one export, ``handle(kind, request)``; :meth:`BasePlugin.dispatch` maps it
onto ``execute`` and the decorated methods. Handlers may be plain or ``async`` functions. Every
exception a handler raises becomes an error result: nothing escapes into the host.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from types import CoroutineType
from typing import Any, ClassVar, Literal, TypeVar

from enclava_sdk.codec import CODEC
from enclava_sdk.host import Config, HostCalls, HostError, Http, Kv, Llm, Log
from enclava_sdk.types import Context, FilterContext, PluginError, Request, Response

__all__ = ["BasePlugin", "Schedule", "Stage", "chat_filter", "endpoint", "schedule"]

Stage = Literal["request", "response"]
F = TypeVar("F", bound=Callable[..., Any])
_ENDPOINT = "__enclava_endpoint__"
_FILTER = "__enclava_filter__"
_SCHEDULE = "__enclava_schedule__"


def endpoint(method: str, path: str) -> Callable[[F], F]:
    """Serve ``method path`` (also in ``plugin.toml``): ``(self, request: Request) -> Response``."""

    def mark(func: F) -> F:
        setattr(func, _ENDPOINT, (method.upper(), path))
        return func

    return mark


def chat_filter(func: F | None = None, *, stage: Stage = "request") -> Any:
    """Rewrite chat requests (or, with ``stage="response"``, answers):
    ``(self, body: dict, context: FilterContext) -> dict | None`` (None keeps it)."""

    def mark(inner: F) -> F:
        setattr(inner, _FILTER, stage)
        return inner

    return mark(func) if func is not None else mark


class Schedule:
    """What :func:`schedule` returns: a decorator, or, left as a class attribute, a schedule
    named after the attribute that calls ``execute``."""

    def __init__(self, cron: str) -> None:
        self.cron = " ".join(cron.split())

    def __call__(self, func: F) -> F:
        setattr(func, _SCHEDULE, self.cron)
        return func


def schedule(cron: str) -> Schedule:
    """Run at each time of the 5-field cron expression ``cron`` (UTC; also in ``plugin.toml``),
    on one replica: ``@schedule("*/5 * * * *")`` on ``(self, context: Context) -> None``, or
    ``nightly = schedule("0 3 * * *")`` in the class body to call ``execute`` instead."""
    return Schedule(cron)


_KEEP = '{"body": null}'
"""A filter's answer that keeps the body: the common case, encoded once."""


def _answer(result: Any) -> dict[str, Any]:
    response = result if isinstance(result, Response) else Response(body=result)
    return response.to_dict()


def _run(result: Any) -> Any:
    """Drive a coroutine to completion: host calls are synchronous, so it never suspends."""
    if not isinstance(result, CoroutineType):
        return result
    try:
        result.send(None)
    except StopIteration as done:
        return done.value
    result.close()
    raise RuntimeError("plugin handlers may not await anything but plain coroutines")


class BasePlugin:
    """Subclass it, set ``name`` and ``version``, decorate methods."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0.0.0"

    def __init__(self, host: HostCalls) -> None:
        self.host = host
        self.kv = Kv(host)
        self.http = Http(host)
        self.llm = Llm(host)
        self.log = Log(host)
        self.config = Config(host)

    def _handlers(self, marker: str) -> dict[Any, Callable[..., Any]]:
        cached: dict[str, dict[Any, Callable[..., Any]]] = self.__dict__.setdefault("_found", {})
        if marker not in cached:
            found: dict[Any, Callable[..., Any]] = {}
            for klass in reversed(type(self).__mro__):
                for member in vars(klass).values():
                    key = getattr(member, marker, None)
                    if key is not None and callable(member):
                        # Bound through the class, so a handler named like ``kv`` still works.
                        found[key] = member.__get__(self, type(self))
            cached[marker] = found
        return cached[marker]

    def _schedules(self) -> dict[str, tuple[str, Callable[..., Any] | None]]:
        """Schedule name → (cron, method, or None for ``execute``)."""
        found: dict[str, tuple[str, Callable[..., Any] | None]] = {}
        for klass in reversed(type(self).__mro__):
            for attribute, member in vars(klass).items():
                cron = getattr(member, _SCHEDULE, None)
                if isinstance(member, Schedule):
                    found[attribute] = (member.cron, None)
                elif callable(member) and isinstance(cron, str):
                    found[attribute] = (cron, member.__get__(self, type(self)))
                else:  # an override without the decorator is no longer scheduled
                    found.pop(attribute, None)
        return found

    @property
    def has_execute(self) -> bool:
        """True when the subclass overrides :meth:`execute`."""
        return type(self).execute is not BasePlugin.execute

    async def execute(self, context: Context) -> Any:
        """The plugin's default action: ``POST /api/v1/plugins/<name>`` and the schedules without
        a method of their own. Return a JSON value or a Response; declare ``execute = true``
        in ``plugin.toml`` when you override it."""
        raise PluginError(f"plugin '{self.name}' has no default action (execute)", status=404)

    def describe(self) -> dict[str, Any]:
        """Name, version, endpoints, filter stages, execute and schedules: checked against
        ``plugin.toml``."""
        endpoints = sorted(self._handlers(_ENDPOINT))
        schedules = sorted(self._schedules().items())
        return {
            "name": self.name,
            "version": self.version,
            "endpoints": [{"method": m, "path": p} for m, p in endpoints],
            "filters": sorted(self._handlers(_FILTER)),
            "execute": self.has_execute,
            "schedules": [
                {"name": n, "cron": cron, "method": None if f is None else n}
                for n, (cron, f) in schedules
            ],
        }

    def _endpoint(self, payload: dict[str, Any]) -> dict[str, Any]:
        request = Request.from_dict(payload)
        handler = self._handlers(_ENDPOINT).get((request.method, request.path))
        if handler is None:
            raise PluginError(f"no endpoint {request.method} {request.path}", status=404)
        return _answer(_run(handler(request)))

    def _filter(self, stage: str, payload: dict[str, Any]) -> dict[str, Any]:
        handler = self._handlers(_FILTER).get(stage)
        if handler is None:
            return {"body": None}
        context = FilterContext.from_dict(payload.get("context"))
        body = _run(handler(dict(payload.get("body") or {}), context))
        if body is not None and not isinstance(body, dict):
            raise TypeError("a chat filter must return a dict or None")
        return {"body": body}

    def _scheduled(self, payload: dict[str, Any]) -> dict[str, Any]:
        context = Context.from_dict({**payload, "trigger": "schedule"})
        entry = self._schedules().get(context.schedule)
        if entry is None:
            raise PluginError(f"no schedule {context.schedule!r}", status=404)
        method = entry[1] or self.execute
        return _answer(_run(method(context)))

    def dispatch(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Run the handler for one ``handle`` call; raises on failure (see :meth:`handle`)."""
        if kind == "endpoint":
            return self._endpoint(payload)
        if kind in ("filter-request", "filter-response"):
            return self._filter(kind.removeprefix("filter-"), payload)
        if kind == "execute":
            context = Context.from_dict({**payload, "trigger": "request"})
            return _answer(_run(self.execute(context)))
        if kind == "schedule":
            return self._scheduled(payload)
        raise PluginError(f"unknown call kind {kind!r}")

    def handle(self, kind: str, request: str) -> tuple[bool, str]:
        """``(ok, JSON)``: every exception becomes ``(False, message)``; PluginError an HTTP
        answer with its status."""
        try:
            answer = self.dispatch(kind, CODEC.decode(request))
            return True, _KEEP if answer == {"body": None} else CODEC.encode(answer)
        except PluginError as exc:
            return True, json.dumps({"status": exc.status, "body": {"error": exc.message}})
        except HostError as exc:
            return False, f"host call failed: {exc}"
        except BaseException as exc:
            last = traceback.extract_tb(exc.__traceback__)[-1:] or None
            where = f" at {last[0].name}:{last[0].lineno}" if last else ""
            return False, f"{type(exc).__name__}{where}: {exc}"[:1000]
