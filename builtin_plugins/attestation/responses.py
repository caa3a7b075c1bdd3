"""Per-response checks: the answer's bytes were signed (legacy) or receipted (aci/1) by the
attested key.

Legacy: ``GET {url}/signature/{chat_id}?model&signing_algo=ecdsa``, checked by
:func:`.legacy.verify_signature` against the verdict's signing address, its receipt showing a
verified upstream (:func:`.legacy.verify_legacy_receipt`). aci/1:
``GET {url}/aci/receipts/{receipt id or chat id}``, checked by :func:`.aci.verify_receipt`
against the verdict's keyset. The chat id is read from the answer itself; a stream's bytes are
accepted with or without its final ``data: [DONE]`` frame (the provider signs them with it).
"""

from __future__ import annotations

import msgspec

from builtin_plugins.attestation.aci import verify_receipt
from builtin_plugins.attestation.attester import Target
from builtin_plugins.attestation.legacy import verify_legacy_receipt, verify_signature
from builtin_plugins.attestation.upstream import EvidenceClient
from builtin_plugins.attestation.verdicts import AttestationRejected, Verdict
from kernel.upstream import ResponseEvidence

__all__ = ["DONE_FRAME", "ResponseChecker", "chat_id_of", "response_candidates"]

DONE_FRAME = b"data: [DONE]\n\n"


class _Identified(msgspec.Struct):
    id: str | None = None


def chat_id_of(body: bytes, *, stream: bool) -> str:
    """The ``id`` of a chat answer (a stream's first data frame)."""
    document = body
    if stream:
        start = body.find(b"data: {")
        end = body.find(b"\n", start)
        document = body[start + 6 : end if end >= 0 else len(body)] if start >= 0 else b""
    try:
        chat_id = msgspec.json.decode(document, type=_Identified).id
    except msgspec.DecodeError:
        chat_id = None
    if not chat_id:
        raise AttestationRejected("the answer carries no chat id to look its signature up")
    return chat_id


def response_candidates(body: bytes, *, stream: bool) -> tuple[bytes, ...]:
    """The byte strings the provider may have signed for ``body``."""
    if stream and not body.endswith(DONE_FRAME):
        return (body, body + DONE_FRAME)
    return (body,)


class ResponseChecker:
    """Fetches and checks the signature or receipt of one answer."""

    def __init__(self, client: EvidenceClient) -> None:
        self._client = client

    async def check(self, evidence: ResponseEvidence, verdict: Verdict, target: Target) -> None:
        """Raise AttestationRejected unless the answer is tied to ``verdict``'s key."""
        chat_id = chat_id_of(evidence.response_body, stream=evidence.stream)
        bodies = response_candidates(evidence.response_body, stream=evidence.stream)
        base = target.url.rstrip("/")
        if verdict.scheme == "aci":
            receipt_id = str(evidence.evidence.get("receipt_id") or chat_id)
            body = await self._client.request(
                "GET",
                f"{base}/aci/receipts/{receipt_id}",
                what="the receipt",
                api_key=target.api_key,
            )
            verify_receipt(
                body,
                keyset=verdict.keyset,
                request_body=evidence.request_body,
                response_bodies=bodies,
            )
            return
        body = await self._client.request(
            "GET",
            f"{base}/signature/{chat_id}",
            what="the response signature",
            api_key=target.api_key,
            params={"model": verdict.model, "signing_algo": "ecdsa"},
        )
        verify_signature(
            body,
            request_body=evidence.request_body,
            response_bodies=bodies,
            address=verdict.signing_address,
        )
        verify_legacy_receipt(body)
