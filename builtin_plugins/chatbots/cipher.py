"""Messages at rest: AES-256-GCM with a fresh 12-byte nonce per row.

The associated data binds a sealed message to its conversation and role, so a row copied into
another conversation, or relabelled, fails to open (:class:`MessageIntegrityError`).
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kernel.errors import InternalError

__all__ = ["MessageCipher", "MessageIntegrityError"]

NONCE_BYTES = 12


class MessageIntegrityError(InternalError):
    """A stored message was altered, moved or sealed under another key."""

    default_code = "message_integrity_error"

    def __init__(self) -> None:
        super().__init__("stored message failed its integrity check")


class MessageCipher:
    """Seals and opens message payloads for one key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @staticmethod
    def _aad(conversation_id: str, role: str) -> bytes:
        return f"enclava-chatbots-v1|{conversation_id}|{role}".encode()

    def seal(self, plaintext: bytes, *, conversation_id: str, role: str) -> tuple[bytes, bytes]:
        """``(nonce, ciphertext)`` of ``plaintext``."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce, self._aead.encrypt(nonce, plaintext, self._aad(conversation_id, role))

    def open(self, nonce: bytes, sealed: bytes, *, conversation_id: str, role: str) -> bytes:
        """The plaintext, or MessageIntegrityError."""
        try:
            return self._aead.decrypt(nonce, sealed, self._aad(conversation_id, role))
        except InvalidTag:
            raise MessageIntegrityError from None
