"""Typed per-kernel storage for plugins (pytest's stash): state lives on the kernel, not in
module globals."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

__all__ = ["Stash", "StashKey"]

T = TypeVar("T")


class StashKey(Generic[T]):
    """A typed key; create one per kind of value at module level (keys are immutable)."""

    __slots__ = ()


class Stash:
    """A mapping from StashKey[T] to T."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[StashKey[Any], Any] = {}

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._values[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        return cast(T, self._values[key])

    def get(self, key: StashKey[T], default: T | None = None) -> T | None:
        return cast("T | None", self._values.get(key, default))

    def __contains__(self, key: StashKey[Any]) -> bool:
        return key in self._values
