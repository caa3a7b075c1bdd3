"""The other shapes of RedPill's ``/v1/attestation/report``, built by the simulator.

Sources, field for field:

* two-layer: NEAR AI Cloud's attestation response ``{gateway_attestation, model_attestations}``
  (nearai verifier types ``Attestation``/``GatewayAttestation``/``ModelAttestation``:
  ``gateway_attestation`` = ``signing_address``, ``signing_algo``, ``intel_quote``,
  ``event_log`` (JSON text), ``report_data``, ``request_nonce``, ``info``, ``vpc``; each model
  attestation is a flat dstack-vllm-proxy report). RedPill serves it next to the flat fields
  (docs.redpill.ai "Attestation Report"). The gateway's quote binds its address and the nonce
  exactly as a model's does (address zero-padded to 32 B, then the nonce).
* tinfoil: redpill-ai/redpill-gateway ``src/handlers/attestationHandler.ts`` returns
  ``{intel_quote, all_attestations: [{intel_quote}]}``, the hex of the enclave's gunzipped
  ``/.well-known/tinfoil-attestation`` body (``src/services/tinfoilService.ts``);
  ``attestation_type: "tinfoil"`` is ASSUMED from the issue's description of the shape. No
  signing key and no client nonce: the quote's report data is the enclave's TLS key
  fingerprint (here sha256 of a fixed label).
* chutes: ``src/services/chutesService.ts`` ``{nonce, all_attestations: [{instance_id, nonce,
  e2e_pubkey, intel_quote, gpu_evidence}]}`` with a nonce the GATEWAY generates and the quote
  in base64, as Chutes' ``/chutes/{id}/evidence`` serves it.

All quotes are SIMULATED (:mod:`.simquote`).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from builtin_plugins.simulators.eip191 import legacy_report_data
from builtin_plugins.simulators.simquote import build_sim_quote

__all__ = ["GATEWAY_SIGNING_ADDRESS", "chutes_report", "gateway_attestation", "tinfoil_report"]

GATEWAY_SIGNING_ADDRESS = "0x" + "2a" * 20
"""The simulated gateway's signing address (its report only binds it; it signs nothing here)."""


def gateway_attestation(nonce: bytes, bound_nonce: bytes) -> dict[str, Any]:
    """The ``gateway_attestation`` layer for our ``nonce`` (its quote binds ``bound_nonce``)."""
    report_data = legacy_report_data(GATEWAY_SIGNING_ADDRESS, bound_nonce)
    return {
        "signing_address": GATEWAY_SIGNING_ADDRESS,
        "signing_algo": "ecdsa",
        "intel_quote": build_sim_quote(report_data).hex(),
        "event_log": "[]",
        "report_data": report_data.hex(),
        "request_nonce": nonce.hex(),
        "info": {"app_name": "enclava-redpill-simulator-gateway", "simulated": True},
        "vpc": {"vpc_server_app_id": "", "vpc_hostname": ""},
    }


def tinfoil_report() -> dict[str, Any]:
    """What RedPill serves for a Tinfoil model: a quote, no key, no nonce of the client's."""
    tls_fingerprint = hashlib.sha256(b"enclava-sim-tinfoil-tls-key").digest()
    quote = build_sim_quote(tls_fingerprint + bytes(32)).hex()
    return {
        "attestation_type": "tinfoil",
        "intel_quote": quote,
        "all_attestations": [{"intel_quote": quote}],
    }


def chutes_report() -> dict[str, Any]:
    """What RedPill serves for a Chutes model: per-instance evidence under the gateway's nonce."""
    nonce = secrets.token_hex(32)
    e2e_pubkey = base64.b64encode(hashlib.sha256(b"enclava-sim-chutes-e2e").digest()).decode()
    report_data = hashlib.sha256(bytes.fromhex(nonce)).digest() + bytes(32)
    entry = {
        "instance_id": "sim-instance-1",
        "nonce": nonce,
        "e2e_pubkey": e2e_pubkey,
        "intel_quote": base64.b64encode(build_sim_quote(report_data)).decode(),
        "gpu_evidence": [{"arch": "HOPPER", "simulated": True}],
    }
    return {"nonce": nonce, "all_attestations": [entry]}
