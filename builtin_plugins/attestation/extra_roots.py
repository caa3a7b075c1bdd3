"""Extra test roots (``[attestation] extra_roots_file``): Intel DCAP, plus simulated quotes signed
by the listed roots, so an operator can point Enclava at ``enclava simulate redpill`` elsewhere.

Refused unless ``allow_test_roots = true``; verdicts under it are labelled ``test-root`` (every
answer says so in ``x-enclava-attestation``) and the boot log says it loudly. The file holds one
raw Ed25519 public key per line as hex (``#`` starts a comment); quotes under them are verified
by :class:`.simulated_quotes.TestRootQuotes`.
"""

from __future__ import annotations

from pathlib import Path

from kernel.errors import ConfigError

__all__ = ["TEST_ROOT_LABEL", "read_roots"]

TEST_ROOT_LABEL = "test-root"


def read_roots(path: str) -> tuple[bytes, ...]:
    """The roots listed in ``path``; ConfigError when unreadable, malformed or empty."""
    try:
        lines = Path(path).expanduser().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"extra_roots_file {path} cannot be read: {type(exc).__name__}") from None
    roots: list[bytes] = []
    for line in (raw.split("#", 1)[0].strip() for raw in lines):
        if not line:
            continue
        try:
            root = bytes.fromhex(line.removeprefix("0x"))
        except ValueError:
            root = b""
        if len(root) != 32:
            raise ConfigError(f"extra_roots_file {path}: {line!r} is not a 32-byte hex key")
        roots.append(root)
    if not roots:
        raise ConfigError(f"extra_roots_file {path} lists no root")
    return tuple(roots)
