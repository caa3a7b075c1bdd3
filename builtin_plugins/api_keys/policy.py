"""Per-key chatbot and answer-verification restrictions, for the chatbot handlers and the
attestation verifiers to read.

Scopes and allowed models are not here: routes declare them and the kernel gate enforces them
(:mod:`kernel.access`); the required region is ``Principal.required_region``. Only ``api_key``
principals are restricted; an empty list allows everything. Users (JWT) and plugins are not
restricted here: their access is decided by roles and ownership.
"""

from __future__ import annotations

from collections.abc import Sequence

from kernel.errors import PermissionDeniedError
from kernel.types import Principal

__all__ = ["key_response_verification", "require_chatbot_allowed"]


def _allowed(principal: Principal | None, attribute: str) -> Sequence[str]:
    if principal is None or principal.kind != "api_key":
        return ()
    values: Sequence[str] = principal.attributes.get(attribute) or ()
    return values


def require_chatbot_allowed(principal: Principal | None, chatbot_id: str) -> None:
    """Raise 403 ``chatbot_not_allowed`` unless the key may use ``chatbot_id``."""
    allowed = _allowed(principal, "allowed_chatbots")
    if allowed and chatbot_id not in allowed:
        raise PermissionDeniedError(
            f"This API key is not allowed to use the chatbot '{chatbot_id}'.",
            param="chatbot_id",
            code="chatbot_not_allowed",
        )


def key_response_verification(principal: Principal | None) -> str | None:
    """The per-response verification the key requires at least (``async``,
    ``strict_trailer``, ``strict``), or None."""
    if principal is None or principal.kind != "api_key":
        return None
    policy: str | None = principal.attributes.get("response_verification")
    return policy
