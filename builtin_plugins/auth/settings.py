"""The ``[auth]`` settings section (``ENCLAVA_AUTH_*``).

Every replica must verify the tokens every other replica signs: with several replicas set
``jwt_secret`` (``ENCLAVA_AUTH_JWT_SECRET``) or ``jwt_private_key_file`` to the same value on each,
or share ``data_dir`` so they all read the generated ``<data_dir>/secrets/jwt.key``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from kernel.settings import Settings

__all__ = [
    "JWT_ALGORITHMS",
    "MAX_PASSWORD_LENGTH",
    "SECTION",
    "AuthSettings",
    "auth_settings",
    "load_ed25519_key",
]

SECTION = "auth"

JWT_ALGORITHMS: tuple[str, ...] = ("HS256", "EdDSA")
MAX_PASSWORD_LENGTH = 1024
_MIN_SECRET_BYTES = 32


class AuthSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """JWT signing and lifetimes, login lockout and password policy."""

    jwt_algorithm: Literal["HS256", "EdDSA"] = "HS256"
    jwt_secret: str = ""
    """HS256 key; empty: 64 random bytes generated once into ``<data_dir>/secrets/jwt.key``."""
    jwt_private_key_file: str = ""
    """PEM Ed25519 private key, required with EdDSA."""
    access_ttl_seconds: int = 900
    refresh_ttl_seconds: int = 1_209_600
    issuer: str = "enclava"
    max_failed_logins: int = 5
    lockout_seconds: int = 900
    password_min_length: int = 12

    def __post_init__(self) -> None:
        if self.jwt_algorithm == "EdDSA":
            if not self.jwt_private_key_file:
                raise ValueError("jwt_algorithm EdDSA needs jwt_private_key_file (PEM Ed25519 key)")
            load_ed25519_key(self.jwt_private_key_file)  # a bad key is refused with the settings
        if self.jwt_secret and len(self.jwt_secret.encode()) < _MIN_SECRET_BYTES:
            raise ValueError(f"jwt_secret must be at least {_MIN_SECRET_BYTES} bytes")
        if self.access_ttl_seconds < 1 or self.refresh_ttl_seconds < self.access_ttl_seconds:
            raise ValueError("access_ttl_seconds must be >= 1 and <= refresh_ttl_seconds")
        if not self.issuer:
            raise ValueError("issuer must not be empty")
        if self.max_failed_logins < 1 or self.lockout_seconds < 1:
            raise ValueError("max_failed_logins and lockout_seconds must be at least 1")
        if not 8 <= self.password_min_length <= MAX_PASSWORD_LENGTH:
            raise ValueError(f"password_min_length must be between 8 and {MAX_PASSWORD_LENGTH}")


def load_ed25519_key(path_text: str) -> Ed25519PrivateKey:
    """The PEM Ed25519 private key at ``path_text``; ValueError naming the problem otherwise."""
    path = Path(path_text).expanduser()
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ValueError(f"cannot read jwt_private_key_file {path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise ValueError(f"jwt_private_key_file {path} is not an unencrypted PEM key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"jwt_private_key_file {path} is not an Ed25519 key")
    return key


def auth_settings(settings: Settings) -> AuthSettings:
    """The ``[auth]`` section; defaults when ``settings`` were built without plugin sections."""
    section = settings.sections.get(SECTION)
    return section if isinstance(section, AuthSettings) else _DEFAULTS


_DEFAULTS = AuthSettings()
