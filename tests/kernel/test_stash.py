"""The kernel's typed stash."""

from __future__ import annotations

from kernel.stash import Stash, StashKey


def test_values_are_kept_per_key() -> None:
    stash = Stash()
    count, name = StashKey[int](), StashKey[str]()
    stash[count] = 3
    assert stash[count] == 3
    assert name not in stash
    assert stash.get(name) is None
    stash[name] = "x"
    assert stash.get(name) == "x"
    assert count in stash
