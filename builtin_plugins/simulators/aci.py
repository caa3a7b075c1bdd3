"""The RedPill simulator's aci/1 surface (Dstack-TEE/private-ai-gateway ``spec/aci.md``).

* ``GET /v1/aci/attestation[?nonce=64-hex]`` (§4): the report. Keyset (§3.1) with one Ed25519
  receipt key (``receipt-1``, the test-vector seed ``0x02`` x 32; after a rotation a key derived
  from the epoch), no E2EE or TLS keys (the simulator serves plain HTTP and no E2EE), subject
  ``enclava-simulator://redpill``, ``not_after`` = start + ``keyset_ttl_seconds``. The evidence
  is a SIMULATED quote (:mod:`.simquote`) over the §3.2 report-data slot. A nonce that is not 64
  lowercase hex characters is a 400 ``invalid_request_error``.
* ``GET /v1/aci/receipts/{id}`` (§7): by receipt id or chat id; served as the JCS bytes of the
  signed document. Receipts are aggregator receipts (``service_capabilities.serving`` is
  ``aggregator``): ``request.received``, ``request.forwarded`` (same hash: no rewrite),
  ``upstream.verified`` (``verified`` + session id for Phala TEE models; ``failed`` with
  ``required: false`` for the rest, §7.5), ``response.returned``; body hashes over the exact
  bytes (raw SSE for streams). Owned by the bearer that made the request (§7.6: none → 401
  ``unauthorized``, another → 404 ``not_found``).
* ``GET /v1/aci/sessions[/{session_id}]`` (§8): one attested session for the simulated Phala
  upstream, served as its JCS bytes.
* ``X-ACI-Version`` and ``X-ACI-Keyset-Digest`` on every response (§5.2), errors included.
* ``POST /_sim/aci/rotate`` (simulator only): new receipt key and keyset digest, optional
  ``{"not_after": unix}``, so verifiers can be tested on a keyset change or expiry.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import secrets
import time
from typing import Any

import msgspec
from aiohttp import web

from builtin_plugins.simulators import aci_crypto
from builtin_plugins.simulators.eip191 import legacy_report_data
from builtin_plugins.simulators.jcs import canonical_json
from builtin_plugins.simulators.keys import (
    LEGACY_SIGNING_ADDRESS,
    RECEIPT_KEY_ID,
    RECEIPT_KEY_SEED,
    ed25519_public_hex,
)
from builtin_plugins.simulators.redpill_errors import redpill_error_response
from builtin_plugins.simulators.simquote import build_sim_quote

__all__ = ["ACI", "AciService", "Exchange", "add_aci_routes", "owner_of", "owner_problem"]

SUBJECT = "enclava-simulator://redpill"
RECEIPT_LIMIT = 10_000


class Exchange(msgspec.Struct, frozen=True, kw_only=True):
    """One finished inference exchange, as the receipt records it."""

    receipt_id: str
    chat_id: str | None
    model: str | None
    endpoint: str
    request_body: bytes
    response_body: bytes
    verified: bool
    owner: str | None


def owner_of(token: str | None) -> str | None:
    """What a receipt stores about its requester: a digest of the bearer, never the bearer."""
    return hashlib.sha256(token.encode()).hexdigest() if token else None


class AciService:
    """Keyset, report, receipts and the session of one simulator instance."""

    def __init__(self, ttl_seconds: int, now: float | None = None) -> None:
        self.started = int(now if now is not None else time.time())
        self.epoch = 0
        self._receipts: collections.OrderedDict[str, tuple[dict[str, Any], str | None]] = (
            collections.OrderedDict()
        )
        self._by_chat: dict[str, str] = {}
        self._set_keyset(self.started + ttl_seconds)
        self.session = self._session_document(ttl_seconds)
        self.session_id = aci_crypto.session_id(self.session)

    def _receipt_seed(self) -> bytes:
        if self.epoch == 0:
            return RECEIPT_KEY_SEED
        return hashlib.sha256(b"enclava-sim-receipt-%d" % self.epoch).digest()

    def _set_keyset(self, not_after: int) -> None:
        key_id = RECEIPT_KEY_ID if self.epoch == 0 else f"receipt-{self.epoch + 1}"
        self.key_id = key_id
        self.keyset: dict[str, Any] = {
            "subject": SUBJECT,
            "not_after": not_after,
            "receipt_signing_keys": [
                {
                    "key_id": key_id,
                    "algo": "ed25519",
                    "public_key": ed25519_public_hex(self._receipt_seed()),
                }
            ],
            "e2ee_public_keys": [],
            "tls_public_keys": [],
        }
        self.digest = aci_crypto.keyset_digest(self.keyset)

    def announce_tls_keys(self, domain: str, spki_sha256_hex: list[str]) -> None:
        """List these TLS keys (aci/1 §3.1 ``tls_public_keys``) in the keyset; new digest."""
        keys = [{"domain": domain, "spki_sha256": value} for value in spki_sha256_hex]
        self.keyset["tls_public_keys"] = keys
        self.digest = aci_crypto.keyset_digest(self.keyset)

    def rotate(self, not_after: int | None = None) -> None:
        """A new receipt key (and digest); ``not_after`` defaults to the current one."""
        self.epoch += 1
        self._set_keyset(not_after if not_after is not None else int(self.keyset["not_after"]))

    def _session_document(self, ttl_seconds: int) -> dict[str, Any]:
        evidence = build_sim_quote(legacy_report_data(LEGACY_SIGNING_ADDRESS, bytes(32)))
        unknown = {"status": "unknown"}
        return {
            "api_version": aci_crypto.API_VERSION,
            "upstream_name": "phala-simulated",
            "endpoint": None,
            "verifier_id": "enclava-simulator/1",
            "established_at": self.started,
            "expires_at": self.started + max(ttl_seconds, 0),
            "identity": {"signing_address": LEGACY_SIGNING_ADDRESS},
            "channel_binding": [],
            "claims": {
                "tee_attested": {
                    "status": "asserted",
                    "source": "hardware_proven",
                    "reason": "SIMULATED quote verified under the simulator test root",
                },
                "gpu_attested": unknown,
                "tcb_up_to_date": unknown,
                "os_known_good": unknown,
                "serving_software_known_good": unknown,
                "model_weights_provenance": unknown,
                "extra": {"simulated": True},
            },
            "evidence": {
                "digest": aci_crypto.body_hash(evidence),
                "data": "data:application/octet-stream;base64,"
                + base64.b64encode(evidence).decode(),
            },
        }

    def report(self, nonce: str | None) -> dict[str, Any]:
        """The §4.1 attestation report bound to ``nonce`` (validated by the caller)."""
        slot = aci_crypto.report_data_slot(self.digest, nonce)
        provenance = {
            "repo_url": None,
            "repo_commit": None,
            "image_digest": None,
            "image_provenance": None,
        }
        return {
            "api_version": aci_crypto.API_VERSION,
            "workload_keyset_digest": self.digest,
            "attestation": {
                "tee_type": "tdx",
                "workload_keyset": self.keyset,
                "report_data": slot[:32].hex(),
                "source_provenance": provenance,
                "evidence": {
                    "quote": build_sim_quote(slot).hex(),
                    "quote_report_data": slot.hex(),
                    "event_log": None,
                    "vm_config": {"simulated": True},
                },
            },
            "service_capabilities": {"supported_e2ee_versions": [], "serving": "aggregator"},
        }

    @staticmethod
    def new_receipt_id() -> str:
        return f"rcpt-{secrets.token_hex(12)}"

    def _upstream_event(self, exchange: Exchange) -> dict[str, Any]:
        if exchange.verified:
            return {
                "type": "upstream.verified",
                "result": "verified",
                "required": True,
                "model_id": exchange.model,
                "session_id": self.session_id,
            }
        return {
            "type": "upstream.verified",
            "result": "failed",
            "required": False,
            "model_id": exchange.model,
            "reason": "upstream offers no TEE attestation",
        }

    def issue(self, exchange: Exchange) -> dict[str, Any]:
        """Sign and keep the receipt of a finished exchange."""
        request_hash = aci_crypto.body_hash(exchange.request_body)
        document = {
            "api_version": aci_crypto.API_VERSION,
            "receipt_id": exchange.receipt_id,
            "chat_id": exchange.chat_id,
            "model": exchange.model,
            "workload_keyset_digest": self.digest,
            "endpoint": exchange.endpoint,
            "method": "POST",
            "served_at": int(time.time()),
            "event_log": [
                {"type": "request.received", "body_hash": request_hash},
                {"type": "request.forwarded", "body_hash": request_hash},
                self._upstream_event(exchange),
                {
                    "type": "response.returned",
                    "body_hash": aci_crypto.body_hash(exchange.response_body),
                },
            ],
            "key_id": self.key_id,
        }
        receipt = aci_crypto.sign_receipt(document, self._receipt_seed())
        self._receipts[exchange.receipt_id] = (receipt, exchange.owner)
        if exchange.chat_id:
            self._by_chat[exchange.chat_id] = exchange.receipt_id
        while len(self._receipts) > RECEIPT_LIMIT:
            _, (doc, _owner) = self._receipts.popitem(last=False)
            self._by_chat.pop(str(doc.get("chat_id")), None)
        return receipt

    def find(self, receipt_or_chat_id: str) -> tuple[dict[str, Any], str | None] | None:
        """A receipt and its owner digest, by receipt id or chat id."""
        receipt_id = self._by_chat.get(receipt_or_chat_id, receipt_or_chat_id)
        return self._receipts.get(receipt_id)


ACI = web.AppKey("enclava_sim_aci", AciService)


def owner_problem(request: web.Request, owner: str | None) -> web.Response | None:
    """§7.6 access control: None when the caller may read a receipt owned by ``owner``."""
    if owner is None:
        return None
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    if not token:
        message = "this receipt is owned; authenticate with the original bearer token"
        return redpill_error_response(401, "unauthorized", message)
    if owner_of(token) != owner:
        return redpill_error_response(404, "not_found", "receipt not found")
    return None


async def _attestation(request: web.Request) -> web.Response:
    nonce = request.query.get("nonce")
    if nonce is not None and not aci_crypto.is_valid_nonce(nonce):
        message = "nonce must be 32 bytes as 64 lowercase hex characters"
        return redpill_error_response(400, "invalid_request_error", message)
    return web.json_response(request.app[ACI].report(nonce))


async def _receipt(request: web.Request) -> web.Response:
    found = request.app[ACI].find(request.match_info["id"])
    if found is None:
        message = "receipt id (receipt_id or chat_id) not found or expired"
        return redpill_error_response(404, "not_found", message)
    receipt, owner = found
    problem = owner_problem(request, owner)
    if problem is not None:
        return problem
    return web.Response(body=canonical_json(receipt), content_type="application/json")


async def _session(request: web.Request) -> web.Response:
    aci = request.app[ACI]
    if request.match_info["session_id"] != aci.session_id:
        return redpill_error_response(404, "not_found", "attested session not found or expired")
    return web.Response(body=canonical_json(aci.session), content_type="application/json")


async def _sessions(request: web.Request) -> web.Response:
    aci = request.app[ACI]
    entry = {
        **aci.session,
        "session_id": aci.session_id,
        "evidence": {"digest": aci.session["evidence"]["digest"]},
    }
    return web.json_response({"api_version": aci_crypto.API_VERSION, "sessions": [entry]})


async def _rotate(request: web.Request) -> web.Response:
    body = await request.read()
    options = msgspec.json.decode(body or b"{}", type=dict[str, int])
    aci = request.app[ACI]
    aci.rotate(options.get("not_after"))
    return web.json_response({"workload_keyset_digest": aci.digest, "keyset": aci.keyset})


async def _stamp_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-ACI-Version"] = aci_crypto.API_VERSION
    response.headers["X-ACI-Keyset-Digest"] = request.app[ACI].digest


def add_aci_routes(app: web.Application, service: AciService) -> None:
    """Attach ``service``, its routes and the every-response aci/1 headers to ``app``."""
    app[ACI] = service
    app.on_response_prepare.append(_stamp_headers)
    app.router.add_get("/v1/aci/attestation", _attestation)
    app.router.add_get("/v1/aci/receipts/{id}", _receipt)
    app.router.add_get("/v1/aci/sessions", _sessions)
    app.router.add_get("/v1/aci/sessions/{session_id}", _session)
    app.router.add_post("/_sim/aci/rotate", _rotate)
