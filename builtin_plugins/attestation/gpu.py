"""NVIDIA GPU evidence: bound to our nonce, judged by NRAS, its verdict JWT checked by us.

The legacy report's ``nvidia_payload`` (``{"nonce", "evidence_list", "arch"}``) must carry our
nonce and some evidence; it is posted as is to NRAS, whose answer ``[["JWT", token], ...]``
carries an overall verdict token. :func:`check_nras_token` accepts it only when it verifies
(ES384) under a key of the configured JWKS, says ``x-nvidia-overall-att-result: true`` and
carries ``eat_nonce`` = our nonce.
"""

from __future__ import annotations

from typing import Any

import jwt
import msgspec

from builtin_plugins.attestation.verdicts import AttestationRejected

__all__ = ["check_nras_token", "gpu_payload", "overall_token"]


class _Payload(msgspec.Struct):
    nonce: str
    evidence_list: list[Any]
    arch: str = ""


def gpu_payload(payload: str | None, *, nonce: bytes) -> bytes:
    """The payload's bytes to post to NRAS, once it binds ``nonce`` and holds evidence."""
    if not payload:
        raise AttestationRejected("the report carries no GPU evidence")
    try:
        decoded = msgspec.json.decode(payload, type=_Payload)
    except msgspec.DecodeError as exc:
        raise AttestationRejected(f"malformed nvidia_payload: {exc}") from None
    if decoded.nonce.lower() != nonce.hex():
        raise AttestationRejected("the GPU evidence does not bind our nonce")
    if not decoded.evidence_list:
        raise AttestationRejected("the GPU evidence list is empty")
    return payload.encode()


def overall_token(body: bytes) -> str:
    """The overall verdict JWT of an NRAS answer."""
    try:
        answer = msgspec.json.decode(body, type=list[Any])
        kind, token = answer[0]
    except (msgspec.DecodeError, ValueError, TypeError, IndexError):
        raise AttestationRejected("malformed NRAS answer") from None
    if kind != "JWT" or not isinstance(token, str):
        raise AttestationRejected("the NRAS answer carries no overall JWT")
    return token


def check_nras_token(token: str, *, jwks: dict[str, Any], nonce: bytes) -> None:
    """Raise AttestationRejected unless ``token`` is a positive NRAS verdict for ``nonce``."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        keys = jwt.PyJWKSet.from_dict(jwks)
        key = next(k for k in keys.keys if k.key_id == kid)
        claims = jwt.decode(
            token, key=key, algorithms=["ES384"], options={"verify_aud": False}, leeway=60
        )
    except StopIteration:
        raise AttestationRejected("the NRAS token's key is not in the configured JWKS") from None
    except jwt.PyJWTError as exc:
        raise AttestationRejected(f"the NRAS token does not verify: {exc}") from None
    if claims.get("x-nvidia-overall-att-result") is not True:
        raise AttestationRejected("NRAS did not attest the GPU (overall result false)")
    if str(claims.get("eat_nonce", "")).lower() != nonce.hex():
        raise AttestationRejected("the NRAS token is not for our nonce")
