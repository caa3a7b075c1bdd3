"""Sandboxed chat filters: a plugin's ``filter-request`` / ``filter-response`` calls, as a
:class:`~kernel.exchange.ChatFilter` the gateway runs on the hot path.

Only an active plugin's filter runs: a disabled, unapproved or failed plugin's filter is not
collected, nor run if the plugin stops being active before the next collection. An active
filter that fails refuses the request (fail closed) unless an admin listed the plugin in
``fail_open``: with 503 ``plugin_filter_unavailable`` when the plugin could not answer (still
loading, no free call thread, deadline, trap), which a client may retry, else 502
``plugin_filter_failed``. The guest's own message goes to the plugin's log, not to the client
or the gateway log: it may quote the prompt.
"""

from __future__ import annotations

from typing import Any

import msgspec

from builtin_plugins.wasm_plugins.host import WasmHost
from builtin_plugins.wasm_plugins.registry import Installed
from kernel.errors import EnclavaError, ServiceUnavailableError, UpstreamError
from kernel.exchange import Exchange
from kernel.sandbox import CallFailed

__all__ = ["WasmChatFilter"]

_UNAVAILABLE = frozenset({"busy", "timeout", "trap"})
"""Failures of the sandbox rather than answers of the filter: worth a retry."""


def _unavailable(plugin: str, why: str) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"Chat filter of plugin '{plugin}' is unavailable ({why}); the request was not "
        "forwarded. Retry shortly.",
        code="plugin_filter_unavailable",
        headers={"retry-after": "1"},
    )


def _failed(plugin: str, why: str) -> UpstreamError:
    return UpstreamError(
        f"Chat filter of plugin '{plugin}' {why}; the request was not forwarded.",
        code="plugin_filter_failed",
    )


class WasmChatFilter:
    """The chat filter of one sandboxed plugin."""

    def __init__(self, host: WasmHost, installed: Installed, *, fail_open: bool) -> None:
        spec = installed.manifest.filter
        assert spec is not None
        self.name = f"plugin:{installed.name}"
        self.order = spec.order
        self.fail_open = fail_open
        self._plugin = installed.name
        self._host = host
        self._request = spec.request
        self._response = spec.response

    def _context(self, exchange: Exchange) -> dict[str, Any]:
        principal = exchange.principal
        caller = {"kind": principal.kind, "id": principal.id} if principal else {}
        return {"request_id": exchange.request_id, "model": exchange.model, "caller": caller}

    def _runs(self) -> bool:
        """True while the plugin is active; 503 while it loads (it was turned on)."""
        installed = self._host.plugins.get(self._plugin)
        status = "not_built" if installed is None else self._host.status(installed)
        if status == "loading":
            raise _unavailable(self._plugin, "loading")
        return status == "active"

    async def _run(
        self, kind: str, exchange: Exchange, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        if not self._runs():
            return None
        payload = msgspec.json.encode({"body": body, "context": self._context(exchange)})
        try:
            raw = await self._host.call(self._plugin, kind, payload.decode())
            result = msgspec.json.decode(raw).get("body")
        except CallFailed as exc:
            if exc.reason in _UNAVAILABLE:
                raise _unavailable(self._plugin, exc.reason) from None
            raise _failed(self._plugin, f"failed ({exc.reason})") from None
        except EnclavaError:
            raise
        except (ValueError, AttributeError):
            raise _failed(self._plugin, "returned a malformed answer") from None
        if result is not None and not isinstance(result, dict):
            raise _failed(self._plugin, "returned a non-object body")
        return result

    async def on_request(
        self, exchange: Exchange, request: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The plugin's rewrite of the chat request (None = unchanged)."""
        return await self._run("filter-request", exchange, request) if self._request else None

    async def on_response(
        self, exchange: Exchange, response: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The plugin's rewrite of a non-streamed answer (None = unchanged)."""
        return await self._run("filter-response", exchange, response) if self._response else None
