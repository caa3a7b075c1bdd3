"""Sandboxed chat filters: a plugin's ``filter-request`` / ``filter-response`` calls, as a
:class:`~kernel.exchange.ChatFilter` the gateway runs on the hot path.

A failing filter refuses the request with an error naming the plugin (fail closed) unless an
admin listed the plugin in ``fail_open``. The guest's own message goes to the plugin's log, not
to the client or the gateway log: it may quote the prompt.
"""

from __future__ import annotations

import json
from typing import Any

from builtin_plugins.wasm_plugins.host import WasmHost
from builtin_plugins.wasm_plugins.registry import Installed
from kernel.errors import EnclavaError, UpstreamError
from kernel.exchange import Exchange
from kernel.sandbox import CallFailed

__all__ = ["WasmChatFilter"]


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

    async def _run(
        self, kind: str, exchange: Exchange, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        payload = json.dumps({"body": body, "context": self._context(exchange)})
        try:
            raw = await self._host.call(self._plugin, kind, payload)
            result = json.loads(raw).get("body")
        except CallFailed as exc:
            raise UpstreamError(
                f"Chat filter of plugin '{self._plugin}' failed ({exc.reason}); the request was "
                "not forwarded.",
                code="plugin_filter_failed",
            ) from None
        except EnclavaError:
            raise
        except (ValueError, AttributeError):
            raise UpstreamError(
                f"Chat filter of plugin '{self._plugin}' returned a malformed answer.",
                code="plugin_filter_failed",
            ) from None
        if result is not None and not isinstance(result, dict):
            raise UpstreamError(
                f"Chat filter of plugin '{self._plugin}' returned a non-object body.",
                code="plugin_filter_failed",
            )
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
