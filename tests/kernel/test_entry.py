"""The ``enclava`` console script boots with the cyclic collector off and switches it back on:
a one-shot command as soon as it is parsed, a multi-worker supervisor before it starts the
workers; a single-worker ``serve`` leaves that to the kernel's start
(tests/kernel/test_runtime.py)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from kernel.entry import main

pytestmark = pytest.mark.usefixtures("clean_cwd_and_env")


@pytest.fixture
def collector() -> Iterator[list[bool]]:
    """What a test saw of the collector; it is on again after the test whatever happened."""
    yield []
    gc.enable()


def _enclava(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["enclava", *argv])
    return main()


def test_a_one_shot_command_runs_with_the_collector_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], collector: list[bool]
) -> None:
    assert _enclava(monkeypatch, "plugins", "list") == 0
    assert "health" in capsys.readouterr().out
    assert gc.isenabled()  # main() switched it off first


@pytest.mark.parametrize(("workers", "on"), [(1, False), (2, True)])
def test_serve_leaves_the_collector_to_the_kernel_unless_it_supervises_workers(
    monkeypatch: pytest.MonkeyPatch,
    collector: list[bool],
    redis_url: str,
    qdrant_readyz: str,
    workers: int,
    on: bool,
) -> None:
    def record(app: str, **kwargs: Any) -> None:
        collector.append(gc.isenabled())

    monkeypatch.setattr(uvicorn, "run", record)
    monkeypatch.setenv("ENCLAVA_REDIS_URL", redis_url)
    monkeypatch.setenv("ENCLAVA_QDRANT_URL", qdrant_readyz)
    assert _enclava(monkeypatch, "serve", "--port", "9232", "--workers", str(workers)) == 0
    assert collector == [on]
