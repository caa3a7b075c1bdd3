"""Secrets the gateway generates for itself, and keys given in settings.

``ensure_secret`` keeps raw random bytes under ``<data_dir>/secrets/<name>`` (directory 0700,
file 0600). The first call generates the secret; concurrent first calls from several processes
agree on one value because the final name is claimed with a hard link, which fails if it exists,
and the link only ever points at a complete, fsynced file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
import stat
from pathlib import Path

from kernel.errors import ConfigError

__all__ = ["decode_key", "ensure_secret"]

_NAME = re.compile(r"[a-z0-9_.-]{1,64}")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


def ensure_secret(data_dir: Path, name: str, *, nbytes: int = 32) -> bytes:
    """The secret ``name`` under ``data_dir/secrets``, generated on first use.

    Raises ConfigError for a bad name, or a stored secret of the wrong length or readable by others.
    """
    if not _NAME.fullmatch(name) or name in {".", ".."}:
        raise ConfigError(f"invalid secret name {name!r}: use [a-z0-9_.-]+")
    directory = data_dir / "secrets"
    _ensure_private_dir(directory)
    path = directory / name
    try:
        return _read_secret(path, nbytes)
    except FileNotFoundError:
        pass
    _create_secret(directory, path, secrets.token_bytes(nbytes))
    return _read_secret(path, nbytes)


def decode_key(value: str, *, nbytes: int = 32) -> bytes:
    """Decode a base64 key (standard or urlsafe, padding optional) of exactly ``nbytes`` bytes.

    Raises ConfigError on bad input; the message never repeats the value.
    """
    text = value.strip()
    if not text:
        raise ConfigError("key is empty")
    if not _BASE64.fullmatch(text):
        raise ConfigError("key is not valid base64")
    text = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("key is not valid base64") from None
    if len(raw) != nbytes:
        raise ConfigError(f"key must decode to {nbytes} bytes, got {len(raw)}")
    return raw


def _ensure_private_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(directory.stat().st_mode) & 0o077:
        directory.chmod(0o700)


def _read_secret(path: Path, nbytes: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot read secret {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"secret {path} is not a regular file")
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise ConfigError(f"secret {path} is readable by group or others; chmod 600 it")
        data = os.read(fd, nbytes + 1)
    finally:
        os.close(fd)
    if len(data) != nbytes:
        raise ConfigError(f"secret {path} must hold {nbytes} bytes, found {len(data)}")
    return data


def _create_secret(directory: Path, path: Path, value: bytes) -> None:
    """Write ``value`` to a private temp file, then claim ``path`` for it unless it exists."""
    temp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        try:
            view = memoryview(value)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
