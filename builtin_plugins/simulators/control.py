"""The simulators' control surface under ``/_sim/``: faults and the request log, over HTTP.

| route | effect |
|---|---|
| ``GET /_sim/faults`` | the current :class:`~.faults.FaultConfig` |
| ``POST /_sim/faults`` | replace it (JSON body; unknown fields are a 400) |
| ``DELETE /_sim/faults`` | back to no faults |
| ``GET /_sim/requests[?path=PREFIX]`` | ``{"requests": [RequestRecord...]}``, oldest first |
| ``DELETE /_sim/requests`` | forget the log |

Never authenticated, never faulted, never logged: bind the simulator to loopback.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from builtin_plugins.simulators.faults import FaultConfig, FaultState, decode_fault_config

__all__ = ["FAULT_STATE", "add_control_routes"]

FAULT_STATE = web.AppKey("enclava_sim_fault_state", FaultState)


def _json(value: object, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=msgspec.json.encode(value), content_type="application/json"
    )


async def _get_faults(request: web.Request) -> web.Response:
    return _json(request.app[FAULT_STATE].config)


async def _set_faults(request: web.Request) -> web.Response:
    try:
        config = decode_fault_config(await request.read())
    except msgspec.ValidationError as exc:
        return _json({"error": {"message": str(exc), "type": "invalid_request_error"}}, 400)
    except msgspec.DecodeError as exc:
        return _json(
            {"error": {"message": f"invalid json: {exc}", "type": "invalid_request_error"}}, 400
        )
    request.app[FAULT_STATE].set(config)
    return _json(config)


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[FAULT_STATE].set(FaultConfig())
    return _json(FaultConfig())


async def _requests(request: web.Request) -> web.Response:
    prefix = request.query.get("path", "")
    records = [r for r in request.app[FAULT_STATE].requests if r.path.startswith(prefix)]
    return _json({"requests": records})


async def _clear_requests(request: web.Request) -> web.Response:
    request.app[FAULT_STATE].clear_requests()
    return _json({"requests": []})


def add_control_routes(app: web.Application, state: FaultState) -> None:
    """Attach ``state`` and the ``/_sim/`` routes to ``app``."""
    app[FAULT_STATE] = state
    app.router.add_get("/_sim/faults", _get_faults)
    app.router.add_post("/_sim/faults", _set_faults)
    app.router.add_delete("/_sim/faults", _clear_faults)
    app.router.add_get("/_sim/requests", _requests)
    app.router.add_delete("/_sim/requests", _clear_requests)
