"""RedPill's legacy verification endpoints, in the dstack-vllm-proxy shapes it keeps serving.

* ``GET /v1/signature/{chat_id}?model=&signing_algo=ecdsa`` (docs.redpill.ai "Request
  Signature"; private-ai-gateway ``receipt_by_chat_id``): ``{"api_version": "aci/1", "text",
  "signature", "signing_address", "signing_algo", "receipt"}``. ``text`` is
  ``sha256(request bytes):sha256(response bytes)`` taken from the receipt's
  ``request.received`` / ``response.returned`` hashes, signed EIP-191 by the legacy TEST key
  (:mod:`.eip191`, :mod:`.keys`). Looked up by chat id or receipt id; owner-checked like
  receipts; ``model`` is accepted and ignored, as the real gateway does. Only ``ecdsa`` is
  simulated; other algorithms get vllm-proxy's 400 ``invalid_signing_algo``.
* ``GET /v1/attestation/report?model=&nonce=&signing_address=&signing_algo=`` (docs.redpill.ai
  "Attestation Report", "Flat Format"; nearai/private-ml-sdk vllm-proxy
  ``generate_attestation``): ``signing_address``, ``signing_algo``, ``signing_public_key``
  (``04``-prefixed SEC1), ``request_nonce``, ``intel_quote`` (a SIMULATED quote whose report
  data is address (20 B) zero-padded to 32 B then the nonce), ``nvidia_payload`` (a JSON string
  ``{"nonce", "evidence_list", "arch": "HOPPER"}``), ``event_log``, ``info`` and
  ``all_attestations`` (a list holding the same report). No nonce: a fresh random one is bound,
  as vllm-proxy does; a nonce that is not 32 bytes of hex is a 400. Phala and NEAR AI models
  also get the two-layer ``gateway_attestation`` + ``model_attestations`` fields; Tinfoil and
  Chutes models get their own shapes (:mod:`.redpill_reports`, sources cited there). A
  ``signing_address`` that
  is not ours is vllm-proxy's 404. The GPU evidence list is empty unless ``model`` is a TEE
  model of a confidential upstream (private-ai-gateway ``empty_nvidia_payload``); its entries are
  SIMULATED and carry no NVIDIA signature.
* ``POST /_sim/attestation`` (simulator only) ``{"mode": M}`` makes reports lie, so verifiers
  can be tested: ``wrong_nonce`` (report data binds another nonce while ``request_nonce``
  echoes ours), ``replay`` (the first report served for that model, again),
  ``foreign_address`` (report data binds another address), ``none`` (honest again).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from aiohttp import web
from coincurve import PrivateKey

from builtin_plugins.simulators.aci import ACI, owner_problem
from builtin_plugins.simulators.eip191 import legacy_report_data, sign_personal
from builtin_plugins.simulators.keys import LEGACY_SIGNING_ADDRESS, LEGACY_SIGNING_KEY
from builtin_plugins.simulators.redpill_errors import redpill_error_response
from builtin_plugins.simulators.redpill_models import find_model
from builtin_plugins.simulators.redpill_reports import (
    chutes_report,
    gateway_attestation,
    tinfoil_report,
)
from builtin_plugins.simulators.simquote import build_sim_quote

__all__ = ["REPORT_MODES", "add_legacy_routes", "legacy_report", "nvidia_payload"]

INVALID_ALGO = "Invalid signing algorithm. Must be 'ed25519' or 'ecdsa'"
REPORT_MODES = ("none", "wrong_nonce", "replay", "foreign_address")
FOREIGN_ADDRESS = "0x" + "ab" * 20


class ReportFaults:
    """How the report endpoint lies (``mode``) and the first report it served per model (for
    replays)."""

    def __init__(self) -> None:
        self.mode = "none"
        self.first: dict[str, dict[str, Any]] = {}


REPORT_FAULTS = web.AppKey("enclava_sim_report_faults", ReportFaults)


def _event_hash(receipt: dict[str, Any], event_type: str) -> str:
    for event in receipt.get("event_log", []):
        if event.get("type") == event_type:
            return str(event["body_hash"]).removeprefix("sha256:")
    raise KeyError(event_type)


async def _signature(request: web.Request) -> web.Response:
    found = request.app[ACI].find(request.match_info["chat_id"])
    if found is None:
        message = "receipt id (chat_id or receipt_id) not found or expired"
        return redpill_error_response(404, "not_found", message)
    receipt, owner = found
    problem = owner_problem(request, owner)
    if problem is not None:
        return problem
    if request.query.get("signing_algo", "ecdsa").lower() != "ecdsa":
        return redpill_error_response(400, "invalid_signing_algo", INVALID_ALGO)
    text = f"{_event_hash(receipt, 'request.received')}:{_event_hash(receipt, 'response.returned')}"
    return web.json_response(
        {
            "api_version": "aci/1",
            "text": text,
            "signature": sign_personal(text, LEGACY_SIGNING_KEY),
            "signing_address": LEGACY_SIGNING_ADDRESS,
            "signing_algo": "ecdsa",
            "receipt": receipt,
        }
    )


def nvidia_payload(nonce_hex: str, with_evidence: bool) -> str:
    """The ``nvidia_payload`` JSON string; SIMULATED evidence bound to the nonce."""
    evidence = [
        {
            "certificate": "SIMULATED-NVIDIA-CERTIFICATE-CHAIN",
            "evidence": hashlib.sha256(b"enclava-sim-gpu" + bytes.fromhex(nonce_hex)).hexdigest(),
            "arch": "HOPPER",
            "simulated": True,
        }
    ]
    payload = {
        "nonce": nonce_hex,
        "evidence_list": evidence if with_evidence else [],
        "arch": "HOPPER",
    }
    return json.dumps(payload)


def legacy_report(nonce: bytes, model: str | None, mode: str = "none") -> dict[str, Any]:
    """The report RedPill serves for ``model`` and ``nonce`` (32 bytes), lying as ``mode`` says:
    the flat fields, plus the two-layer ones for Phala and NEAR AI models; the Tinfoil and
    Chutes shapes (:mod:`.redpill_reports`) for theirs."""
    served = find_model(model)
    shape = served.report_shape if served is not None else "flat"
    if shape == "tinfoil":
        return tinfoil_report()
    if shape == "chutes":
        return chutes_report()
    public_key = PrivateKey(LEGACY_SIGNING_KEY).public_key.format(compressed=False).hex()
    bound_nonce = secrets.token_bytes(32) if mode == "wrong_nonce" else nonce
    bound_address = FOREIGN_ADDRESS if mode == "foreign_address" else LEGACY_SIGNING_ADDRESS
    quote = build_sim_quote(legacy_report_data(bound_address, bound_nonce))
    report: dict[str, Any] = {
        "signing_address": LEGACY_SIGNING_ADDRESS,
        "signing_algo": "ecdsa",
        "signing_public_key": public_key,
        "request_nonce": nonce.hex(),
        "intel_quote": quote.hex(),
        "nvidia_payload": nvidia_payload(nonce.hex(), served is not None and served.confidential),
        "event_log": [],
        "info": {"app_name": "enclava-redpill-simulator", "simulated": True},
    }
    flat = {**report, "all_attestations": [report]}
    if shape != "two-layer":
        return flat
    gateway = gateway_attestation(nonce, bound_nonce)
    return {**flat, "gateway_attestation": gateway, "model_attestations": [report]}


def _nonce(value: str | None) -> bytes | None:
    if not value:
        return secrets.token_bytes(32)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


async def _report(request: web.Request) -> web.Response:
    query = request.query
    if query.get("signing_algo", "ecdsa").lower() != "ecdsa":
        return redpill_error_response(400, "invalid_signing_algo", INVALID_ALGO)
    address = query.get("signing_address")
    if address and address.lower() != LEGACY_SIGNING_ADDRESS.lower():
        return redpill_error_response(
            404, "http_exception", "Signing address not found on this server"
        )
    nonce = _nonce(query.get("nonce"))
    if nonce is None:
        return redpill_error_response(400, "http_exception", "Nonce must be 32 bytes of hex")
    faults = request.app[REPORT_FAULTS]
    model = query.get("model") or ""
    report = legacy_report(nonce, model or None, faults.mode)
    first = faults.first.setdefault(model, report)
    return web.json_response(first if faults.mode == "replay" else report)


async def _set_report_mode(request: web.Request) -> web.Response:
    body = await request.json()
    mode = body.get("mode") if isinstance(body, dict) else None
    if mode not in REPORT_MODES:
        return web.json_response({"error": f"mode must be one of {REPORT_MODES}"}, status=400)
    request.app[REPORT_FAULTS].mode = mode
    return web.json_response({"mode": mode})


def add_legacy_routes(app: web.Application) -> None:
    """Attach the legacy signature and attestation routes (needs :func:`aci.add_aci_routes`)."""
    app.router.add_get("/v1/signature/{chat_id}", _signature)
    app.router.add_get("/v1/attestation/report", _report)
    app[REPORT_FAULTS] = ReportFaults()
    app.router.add_post("/_sim/attestation", _set_report_mode)
