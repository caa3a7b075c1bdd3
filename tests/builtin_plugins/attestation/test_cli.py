"""``enclava attestation measure MODEL`` against a RedPill simulator on another port."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from builtin_plugins.simulators.keys import TEST_API_KEY, sim_root_public_key
from builtin_plugins.simulators.simquote import SIM_MR_TD
from builtin_plugins.simulators.testing import running_simulator
from kernel.cli import main

MODEL = "phala/qwen-2.5-7b-instruct"


async def test_measure_prints_the_presented_workload_as_a_trust_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    roots = tmp_path / "roots.txt"
    roots.write_text(sim_root_public_key().hex())
    monkeypatch.setenv("ENCLAVA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ENCLAVA_REDPILL_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("ENCLAVA_ATTESTATION_EXTRA_ROOTS_FILE", str(roots))
    monkeypatch.setenv("ENCLAVA_ATTESTATION_ALLOW_TEST_ROOTS", "true")
    async with running_simulator("redpill") as sim:
        argv = ["attestation", "measure", MODEL, "--url", sim.base_url]
        assert await asyncio.to_thread(main, argv) == 0
        rule_text = capsys.readouterr().out.split("\n#", 1)[0]
        rule = json.loads(rule_text)
        assert rule["models"] == MODEL
        assert rule["workloads"][0]["mr_td"] == SIM_MR_TD.hex()
        argv[-1] = "http://127.0.0.1:9/v1"
        assert await asyncio.to_thread(main, argv) == 1


def test_measure_without_a_redpill_provider_says_how_to_configure_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENCLAVA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ENCLAVA_REDPILL_API_KEY", raising=False)
    assert main(["attestation", "measure", MODEL]) == 1
    assert "no RedPill provider is configured" in capsys.readouterr().err
