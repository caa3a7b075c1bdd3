"""Chunk text at rest: AES-256-GCM with a per-row nonce, bound to the chunk's id.

The key is derived (HKDF-SHA256) from the file store's key — ``files.key`` in the settings, or
the one generated under ``data/secrets`` — so one secret protects uploaded originals and their
chunks, and a chunk's ciphertext is useless under another key. The associated data is the chunk
id: a row copied under another id fails to decrypt.
"""

from __future__ import annotations

import secrets

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kernel.errors import InternalError
from kernel.secrets import decode_key, ensure_secret
from kernel.settings import Settings

__all__ = ["ChunkCipher", "SealedText", "cipher_for"]

_NONCE_BYTES = 12
_INFO = b"enclava rag chunks v1"


class SealedText(msgspec.Struct, frozen=True, array_like=True):
    """What a chunk row encrypts: its text and the heading it sits under."""

    text: str
    section: str | None = None


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(SealedText)


class ChunkCipher:
    """Seals and opens chunk text; one per kernel."""

    def __init__(self, file_key: bytes) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(file_key)
        self._aead = AESGCM(derived)

    def seal(self, chunk_id: str, value: SealedText) -> tuple[bytes, bytes]:
        """(nonce, ciphertext) of ``value`` for the row ``chunk_id``."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce, self._aead.encrypt(nonce, _ENCODER.encode(value), chunk_id.encode())

    def open(self, chunk_id: str, nonce: bytes, ciphertext: bytes) -> SealedText:
        """The text of a row; InternalError when it was altered or moved."""
        try:
            plain = self._aead.decrypt(nonce, ciphertext, chunk_id.encode())
        except InvalidTag:
            raise InternalError("stored chunk failed its integrity check") from None
        return _DECODER.decode(plain)


def cipher_for(settings: Settings) -> ChunkCipher:
    """The cipher keyed like the file store (``open_file_store``)."""
    configured = settings.kernel.files.key
    if configured:
        key = decode_key(configured, nbytes=32)
    else:
        key = ensure_secret(settings.data_dir, "files.key", nbytes=32)
    return ChunkCipher(key)
