"""The ``simulate`` command: plugin contribution, flags, and a real run stopped by SIGTERM."""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import builtin_plugins.simulators as simulators
from builtin_plugins.simulators.cli import configure, fault_config, run
from builtin_plugins.simulators.faults import FaultConfig
from kernel.plugins import BUILTIN_PLUGINS, PluginManager
from kernel.types import CliCommand

ROOT = Path(__file__).resolve().parents[3]
LAUNCH = (
    "import argparse, sys\n"
    "from builtin_plugins.simulators.cli import configure, run\n"
    "parser = argparse.ArgumentParser()\n"
    "configure(parser)\n"
    "sys.exit(run(parser.parse_args(sys.argv[1:])))\n"
)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(list(argv))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_plugin_contributes_the_simulate_command() -> None:
    extra = [] if "builtin_plugins.simulators" in BUILTIN_PLUGINS else [simulators]
    manager = PluginManager(extra=extra, load_entry_points=False)
    contributed = dict(manager.collect("enclava_cli", manager.names, kernel=None))
    (command,) = contributed["simulators"]
    assert isinstance(command, CliCommand)
    assert command.name == "simulate"
    assert simulators.PLUGIN_NAME == "simulators"
    assert simulators.VERSION


def test_fault_flags_become_one_fault_config() -> None:
    args = _parse(
        "redpill", "--latency-ms", "20", "--fail-status", "429", "--retry-after", "3",
        "--fail-times", "2", "--stall-after", "4", "--longest", "--overrun", "5",
        "--fault-path", "/v1/chat", "--fault-path", "/v1/emb",
    )  # fmt: skip
    assert fault_config(args) == FaultConfig(
        latency_ms=20, status=429, retry_after=3, fail_times=2, stall_after=4,
        longest=True, overrun=5, paths=("/v1/chat", "/v1/emb"),
    )  # fmt: skip
    assert _parse("privatemode").port is None
    assert _parse("privatemode").api_key == "sim-test-key"


def test_inconsistent_flags_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_parse("redpill", "--fail-status", "200")) == 2
    assert "status must be an HTTP error status" in capsys.readouterr().err


@pytest.mark.slow
def test_simulate_serves_until_sigterm_and_says_it_is_a_simulator() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "redpill", "--port", str(port), "--no-api-key"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the simulator did not start")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert models.status_code == 200
    assert models.headers["x-aci-version"] == "aci/1"
    assert process.returncode == 0
    assert "SIMULATED REDPILL PROVIDER. NOT A REAL TEE." in output
    assert "PUBLIC TEST KEYS" in output
