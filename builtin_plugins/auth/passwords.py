"""Password hashing with argon2id (RFC 9106 low-memory profile by default)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from builtin_plugins.auth.settings import MAX_PASSWORD_LENGTH
from kernel.errors import InvalidRequestError

__all__ = ["Passwords", "check_password_policy"]


class Passwords:
    """Hash and verify passwords; ``dummy_verify`` equalises timing for unknown accounts."""

    def __init__(
        self, *, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 1
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    def dummy_verify(self, password: str) -> None:
        """Spend the time of a real verification so unknown emails are not distinguishable."""
        if self._dummy is None:  # hashed on first use: constructing a Passwords stays cheap
            self._dummy = self._hasher.hash("enclava-dummy-password")
        self.verify(self._dummy, password)


def check_password_policy(password: str, *, min_length: int, param: str = "password") -> None:
    """InvalidRequestError unless ``password`` is between ``min_length`` and 1024 characters."""
    if len(password) < min_length:
        raise InvalidRequestError(
            f"The password must be at least {min_length} characters long.", param=param
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequestError(
            f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.", param=param
        )
