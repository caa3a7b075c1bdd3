"""Which RedPill models' upstreams are attested, switchable at run time (simulator only).

A model is attested when it is a TEE model of a confidential upstream (Phala, NEAR AI, Tinfoil,
Chutes: RedPill verifies them on its side) and has not been marked otherwise through
``POST /_sim/upstream`` ``{"model": ID, "attested": false}`` (``true`` restores it). An
unattested upstream is refused when the request asks ``provider.aci_verified`` (503
``upstream_verification_failed``, private-ai-gateway spec §5.3, §10) and otherwise answered
with a receipt whose ``upstream.verified`` is ``failed``.
"""

from __future__ import annotations

from aiohttp import web

from builtin_plugins.simulators.redpill_models import RedPillModel

__all__ = ["UNATTESTED", "add_upstream_routes", "upstream_attested"]

UNATTESTED = web.AppKey("enclava_sim_unattested_upstreams", set[str])


def upstream_attested(app: web.Application, model: RedPillModel) -> bool:
    """Whether ``model``'s upstream attests right now."""
    return model.confidential and model.id not in app[UNATTESTED]


async def _set(request: web.Request) -> web.Response:
    body = await request.json()
    model = body.get("model") if isinstance(body, dict) else None
    attested = body.get("attested") if isinstance(body, dict) else None
    if not isinstance(model, str) or not isinstance(attested, bool):
        return web.json_response({"error": "need {model: str, attested: bool}"}, status=400)
    unattested = request.app[UNATTESTED]
    if attested:
        unattested.discard(model)
    else:
        unattested.add(model)
    return web.json_response({"model": model, "attested": attested})


def add_upstream_routes(app: web.Application) -> None:
    """Attach the switch; every upstream starts as its catalog says."""
    app[UNATTESTED] = set()
    app.router.add_post("/_sim/upstream", _set)
