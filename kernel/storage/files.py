"""Encrypted file store: AES-256-GCM blobs under ``data/files``; plaintext never touches disk.

Layout: ``<root>/<id[:2]>/<id>``, mode 0600, written atomically (temp file, fsync, rename).
Format::

    b"ENC1" | owner length (uint16, big-endian) | owner (UTF-8) | nonce (12 bytes) | ciphertext

The owner is not secret but is authenticated: the GCM associated data is the whole header plus
the file id, so a blob copied under another id, or edited to name another owner, fails to
decrypt and raises :class:`FileIntegrityError`.
"""

from __future__ import annotations

import os
import re
import secrets
import struct
import uuid
from pathlib import Path

import anyio.to_thread
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kernel.errors import (
    ConfigError,
    InternalError,
    InvalidRequestError,
    NotFoundError,
    StoreUnavailableError,
)
from kernel.secrets import decode_key, ensure_secret

__all__ = ["EncryptedFileStore", "FileIntegrityError", "open_file_store"]

_MAGIC = b"ENC1"
_NONCE_BYTES = 12
_KEY_BYTES = 32
_OWNER_LENGTH = struct.Struct(">H")
_FILE_ID = re.compile(r"[0-9a-f]{32}")


class FileIntegrityError(InternalError):
    """A stored file was altered, truncated, moved, or encrypted under another key."""

    default_code = "file_integrity_error"

    def __init__(self) -> None:
        super().__init__("stored file failed its integrity check")


class EncryptedFileStore:
    """AES-256-GCM encrypted blobs, one file per id; disk IO runs in a worker thread."""

    def __init__(self, root: Path, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ConfigError(f"file store key must be {_KEY_BYTES} bytes")
        self.root = root
        self._aead = AESGCM(key)

    async def put(self, data: bytes, *, owner: str) -> str:
        """Encrypt and store ``data`` for ``owner``; returns the new file id (32 hex chars)."""
        owner_bytes = owner.encode()
        if len(owner_bytes) > 0xFFFF:
            raise InvalidRequestError("file owner is too long")
        file_id = uuid.uuid4().hex
        await anyio.to_thread.run_sync(self._write, file_id, owner_bytes, data)
        return file_id

    async def get(self, file_id: str, *, owner: str | None = None) -> bytes:
        """The plaintext of ``file_id``; FileIntegrityError if it does not decrypt.

        NotFoundError if absent, malformed, or (when ``owner`` is given) stored for someone else.
        """
        path = self._path(file_id)
        if path is None:
            raise NotFoundError("file not found")
        return await anyio.to_thread.run_sync(self._read, path, file_id, owner)

    async def delete(self, file_id: str) -> bool:
        """Remove ``file_id``; True when it existed (a malformed id never exists)."""
        path = self._path(file_id)
        if path is None:
            return False
        return await anyio.to_thread.run_sync(_remove, path)

    async def exists(self, file_id: str) -> bool:
        """True when a file with this id is stored (a malformed id never exists)."""
        path = self._path(file_id)
        if path is None:
            return False
        return await anyio.to_thread.run_sync(path.is_file)

    async def ping(self) -> None:
        """Raise StoreUnavailableError("files") unless the root directory is writable."""
        await anyio.to_thread.run_sync(self._probe)

    def _path(self, file_id: str) -> Path | None:
        if not _FILE_ID.fullmatch(file_id):
            return None
        return self.root / file_id[:2] / file_id

    def _aad(self, file_id: str, header: bytes) -> bytes:
        return header + file_id.encode()

    def _write(self, file_id: str, owner: bytes, data: bytes) -> None:
        header = _MAGIC + _OWNER_LENGTH.pack(len(owner)) + owner
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, data, self._aad(file_id, header))
        path = self.root / file_id[:2] / file_id
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _atomic_write(path, header + nonce + sealed)
        except OSError as exc:
            raise StoreUnavailableError("files", reason=_os_reason(exc)) from exc

    def _read(self, path: Path, file_id: str, owner: str | None) -> bytes:
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError("file not found") from None
        except OSError as exc:
            raise StoreUnavailableError("files", reason=_os_reason(exc)) from exc
        header_end = len(_MAGIC) + _OWNER_LENGTH.size
        if len(blob) < header_end or not blob.startswith(_MAGIC):
            raise FileIntegrityError
        (owner_length,) = _OWNER_LENGTH.unpack_from(blob, len(_MAGIC))
        header_end += owner_length
        nonce_end = header_end + _NONCE_BYTES
        if len(blob) < nonce_end:
            raise FileIntegrityError
        header = blob[:header_end]
        try:
            data = self._aead.decrypt(
                blob[header_end:nonce_end], blob[nonce_end:], self._aad(file_id, header)
            )
        except InvalidTag:
            raise FileIntegrityError from None
        if owner is not None and header[len(_MAGIC) + _OWNER_LENGTH.size :] != owner.encode():
            raise NotFoundError("file not found")
        return data

    def _probe(self) -> None:
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            probe = self.root / f".ping.{secrets.token_hex(8)}"
            fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
            probe.unlink()
        except OSError as exc:
            raise StoreUnavailableError("files", reason=_os_reason(exc)) from exc


def open_file_store(data_dir: Path, key_setting: str) -> EncryptedFileStore:
    """The file store under ``data_dir/files``: key from the base64 setting, else generated once."""
    if key_setting:
        try:
            key = decode_key(key_setting, nbytes=_KEY_BYTES)
        except ConfigError as exc:
            raise ConfigError(
                f"setting files.key (ENCLAVA_FILES_KEY): {exc}; give the base64 of 32 random "
                "bytes (`openssl rand -base64 32`) or leave it empty to generate one"
            ) from None
    else:
        key = ensure_secret(data_dir, "files.key", nbytes=_KEY_BYTES)
    return EncryptedFileStore(data_dir / "files", key)


def _atomic_write(path: Path, blob: bytes) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _remove(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StoreUnavailableError("files", reason=_os_reason(exc)) from exc
    return True


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
