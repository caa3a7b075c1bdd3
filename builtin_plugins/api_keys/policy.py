"""The ``KeyPolicy`` service: per-key chatbot, collection and answer-verification restrictions,
for the plugins that serve them (chatbots, rag, attestation) to read.

Scopes and allowed models are not here: routes declare them and the kernel gate enforces them
(:mod:`kernel.access`); the required region is ``Principal.required_region``. Only ``api_key``
principals are restricted; an empty list allows everything. Users (JWT) and plugins are not
restricted here: their access is decided by roles and ownership.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from builtin_plugins.api_keys.models import api_keys
from kernel.errors import PermissionDeniedError
from kernel.runtime import Kernel
from kernel.types import Principal

__all__ = ["ApiKeyPolicy"]


def _allowed(principal: Principal | None, attribute: str) -> Sequence[str]:
    if principal is None or principal.kind != "api_key":
        return ()
    values: Sequence[str] = principal.attributes.get(attribute) or ()
    return values


class ApiKeyPolicy:
    """Implements :class:`kernel.services.KeyPolicy` over the ``api_keys`` table."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel

    def response_verification(self, principal: Principal | None) -> str | None:
        """The per-response verification the key requires at least, or None. A chatbot that
        requires more sets the same attribute on its caller, a user's session included (the
        dashboard playground), so it is read from any principal that carries it."""
        if principal is None:
            return None
        policy: str | None = principal.attributes.get("response_verification")
        return policy

    def require_chatbot_allowed(self, principal: Principal | None, chatbot_id: str) -> None:
        """Raise 403 ``chatbot_not_allowed`` unless the key may use ``chatbot_id``."""
        allowed = _allowed(principal, "allowed_chatbots")
        if allowed and chatbot_id not in allowed:
            raise PermissionDeniedError(
                f"This API key is not allowed to use the chatbot '{chatbot_id}'.",
                param="chatbot_id",
                code="chatbot_not_allowed",
            )

    def require_collection_allowed(self, principal: Principal | None, collection_id: str) -> None:
        """Raise 403 ``collection_not_allowed`` unless the key may use ``collection_id``."""
        allowed = _allowed(principal, "allowed_collections")
        if allowed and collection_id not in allowed:
            raise PermissionDeniedError(
                f"This API key is not allowed to use the collection '{collection_id}'.",
                param="collection_id",
                code="collection_not_allowed",
            )

    async def key_ids_owned_by(self, owner_id: str) -> list[str]:
        """Every key ``owner_id`` owns, revoked ones included."""
        query = select(api_keys.c.id).where(api_keys.c.owner_id == owner_id)
        async with self._kernel.stores.db.session() as session:
            return [str(key) for key in (await session.execute(query)).scalars()]
