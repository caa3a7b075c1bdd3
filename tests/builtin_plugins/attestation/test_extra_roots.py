"""Extra test roots: refused unless allowed, read at boot, and every answer labelled
``test-root``, so Enclava can run against ``enclava simulate redpill`` on another port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.gateway import REDPILL_ONLY, gateway_factory

from builtin_plugins.attestation.extra_roots import read_roots
from builtin_plugins.simulators.keys import sim_root_public_key
from kernel.errors import ConfigError

from .conftest import until_attested


def _roots_file(tmp_path: Path) -> Path:
    path = tmp_path / "roots.txt"
    path.write_text(f"# the simulator's root\n{sim_root_public_key().hex()}\n")
    return path


def test_extra_roots_are_refused_unless_test_roots_are_allowed(
    make_settings: Any, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="allow_test_roots"):
        make_settings(ENCLAVA_ATTESTATION_EXTRA_ROOTS_FILE=str(_roots_file(tmp_path)))


def test_a_roots_file_must_list_32_byte_keys(tmp_path: Path) -> None:
    assert read_roots(str(_roots_file(tmp_path))) == (sim_root_public_key(),)
    bad = tmp_path / "bad.txt"
    bad.write_text("abcd\n")
    with pytest.raises(ConfigError, match="32-byte"):
        read_roots(str(bad))
    with pytest.raises(ConfigError, match="cannot be read"):
        read_roots(str(tmp_path / "missing.txt"))


async def test_answers_under_a_test_root_are_labelled_test_root(
    make_settings: Any, sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = gateway_factory(make_settings, sqlite_url)
    env = {
        "ENCLAVA_ATTESTATION_RETRY_SECONDS": "0.2",
        "ENCLAVA_ATTESTATION_EXTRA_ROOTS_FILE": str(_roots_file(tmp_path)),
        "ENCLAVA_ATTESTATION_ALLOW_TEST_ROOTS": "true",
    }
    async with gateway(trust=False, **env) as running:
        found = await until_attested(running)
        assert {s["label"] for s in found} == {"test-root"}
        async with running.client() as client:
            answer = await client.chat.completions.with_raw_response.create(
                model=REDPILL_ONLY, messages=[{"role": "user", "content": "hi"}]
            )
        assert answer.headers["x-enclava-attestation"].startswith("test-root; ")
    assert "TEST ROOTS TRUSTED" in caplog.text
