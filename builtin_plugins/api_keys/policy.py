"""Per-key model, chatbot, region and answer-verification restrictions, for the gateway and
chatbot handlers to call.

Only ``api_key`` principals are restricted; an empty list allows everything. Users (JWT) and
plugins are not restricted here: their access is decided by roles and ownership.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kernel.errors import PermissionDeniedError
from kernel.types import Principal

__all__ = [
    "filter_allowed_models",
    "key_response_verification",
    "require_chatbot_allowed",
    "require_model_allowed",
    "required_region",
]


def _allowed(principal: Principal | None, attribute: str) -> Sequence[str]:
    if principal is None or principal.kind != "api_key":
        return ()
    values: Sequence[str] = principal.attributes.get(attribute) or ()
    return values


def require_model_allowed(principal: Principal | None, model: str) -> None:
    """Raise 403 ``model_not_allowed`` unless the key may use ``model``."""
    allowed = _allowed(principal, "allowed_models")
    if allowed and model not in allowed:
        raise PermissionDeniedError(
            f"This API key is not allowed to use the model '{model}'.",
            param="model",
            code="model_not_allowed",
        )


def filter_allowed_models(principal: Principal | None, model_ids: Iterable[str]) -> list[str]:
    """The ids in ``model_ids`` the key may use, in their order."""
    allowed = _allowed(principal, "allowed_models")
    return [model for model in model_ids if not allowed or model in allowed]


def require_chatbot_allowed(principal: Principal | None, chatbot_id: str) -> None:
    """Raise 403 ``chatbot_not_allowed`` unless the key may use ``chatbot_id``."""
    allowed = _allowed(principal, "allowed_chatbots")
    if allowed and chatbot_id not in allowed:
        raise PermissionDeniedError(
            f"This API key is not allowed to use the chatbot '{chatbot_id}'.",
            param="chatbot_id",
            code="chatbot_not_allowed",
        )


def required_region(principal: Principal | None) -> str | None:
    """The provider region the key requires for its prompts, or None (any region)."""
    if principal is None or principal.kind != "api_key":
        return None
    region: str | None = principal.attributes.get("required_region")
    return region


def key_response_verification(principal: Principal | None) -> str | None:
    """The per-response verification the key requires at least (``async``/``strict``), or None."""
    if principal is None or principal.kind != "api_key":
        return None
    policy: str | None = principal.attributes.get("response_verification")
    return policy
