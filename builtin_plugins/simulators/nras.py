"""A SIMULATED NVIDIA Remote Attestation Service (NRAS v3) on the RedPill simulator.

* ``POST /nras/v3/attest/gpu`` takes a legacy report's ``nvidia_payload`` (``{"nonce",
  "evidence_list", "arch"}``) and answers NRAS's shape ``[["JWT", overall], {"GPU-0": jwt}]``.
  The overall token (ES384, kid :data:`~.keys.NRAS_KEY_ID`) carries ``eat_nonce`` = the
  payload's nonce and ``x-nvidia-overall-att-result``: true when every entry is the simulator's
  evidence for that nonce (see ``redpill_signing.nvidia_payload``) and the list is not empty.
* ``GET /nras/.well-known/jwks.json``: the JWKS with the simulated signer's public key.
* ``POST /_sim/nras`` (simulator only) ``{"rogue_key": bool, "overall": bool}``: sign with a key
  no JWKS lists, or force a negative overall result.

Nothing here is NVIDIA's: PUBLIC TEST keys, for tests and ``--demo`` only.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from builtin_plugins.simulators.keys import NRAS_KEY_ID, NRAS_KEY_SECRET, NRAS_ROGUE_SECRET

__all__ = ["add_nras_routes", "nras_jwks"]


class NrasState:
    """Which key signs and whether verdicts are forced negative."""

    def __init__(self) -> None:
        self.rogue_key = False
        self.overall = True


NRAS = web.AppKey("enclava_sim_nras", NrasState)


def _key(secret: int) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(secret, ec.SECP384R1())


def nras_jwks() -> dict[str, Any]:
    """The JWKS listing the simulated NRAS signer."""
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(_key(NRAS_KEY_SECRET).public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": NRAS_KEY_ID, "alg": "ES384", "use": "sig"}]}


def _genuine(payload: dict[str, Any]) -> bool:
    nonce = str(payload.get("nonce", ""))
    try:
        expected = hashlib.sha256(b"enclava-sim-gpu" + bytes.fromhex(nonce)).hexdigest()
    except ValueError:
        return False
    entries = payload.get("evidence_list") or []
    return bool(entries) and all(
        isinstance(e, dict) and e.get("evidence") == expected for e in entries
    )


async def _attest(request: web.Request) -> web.Response:
    payload = await request.json()
    if not isinstance(payload, dict):
        return web.json_response({"error": "expected a JSON object"}, status=400)
    state = request.app[NRAS]
    now = int(time.time())
    claims = {
        "iss": "https://nras.attestation.nvidia.com",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "eat_nonce": str(payload.get("nonce", "")),
        "x-nvidia-overall-att-result": state.overall and _genuine(payload),
        "simulated": True,
    }
    secret = NRAS_ROGUE_SECRET if state.rogue_key else NRAS_KEY_SECRET
    token = jwt.encode(claims, _key(secret), algorithm="ES384", headers={"kid": NRAS_KEY_ID})
    return web.json_response([["JWT", token], {"GPU-0": token}])


async def _jwks(_request: web.Request) -> web.Response:
    return web.json_response(nras_jwks())


async def _steer(request: web.Request) -> web.Response:
    body = await request.json()
    state = request.app[NRAS]
    if isinstance(body, dict):
        state.rogue_key = bool(body.get("rogue_key", state.rogue_key))
        state.overall = bool(body.get("overall", state.overall))
    return web.json_response({"rogue_key": state.rogue_key, "overall": state.overall})


def add_nras_routes(app: web.Application) -> None:
    """Attach the simulated NRAS to ``app``."""
    app[NRAS] = NrasState()
    app.router.add_post("/nras/v3/attest/gpu", _attest)
    app.router.add_get("/nras/.well-known/jwks.json", _jwks)
    app.router.add_post("/_sim/nras", _steer)
