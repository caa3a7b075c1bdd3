"""Call lanes: bounded daemon threads whose shutdown never waits for a stuck call."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError

import pytest

from kernel.sandbox.lanes import CallLane


def test_threads_are_daemons_started_on_demand_up_to_the_size() -> None:
    lane = CallLane("wasm-test", 2)
    release = threading.Event()
    try:
        assert lane.submit(lambda: 1).result(timeout=5) == 1
        held = [lane.submit(release.wait) for _ in range(3)]
        time.sleep(0.1)
        mine = [t for t in threading.enumerate() if t.name.startswith("wasm-test-")]
        assert len(mine) == 2
        assert all(t.daemon for t in mine)
        assert [f.running() for f in held] == [True, True, False]  # the third waits its turn
        release.set()
        assert all(f.result(timeout=5) for f in held)
    finally:
        release.set()
        lane.shutdown()


def test_shutdown_cancels_what_waits_and_does_not_wait_for_what_runs() -> None:
    lane = CallLane("wasm-stuck", 1)
    stuck = threading.Event()
    running = lane.submit(stuck.wait)
    queued = lane.submit(lambda: 1)
    time.sleep(0.05)
    started = time.monotonic()
    lane.shutdown()
    assert time.monotonic() - started < 0.1
    with pytest.raises(CancelledError):
        queued.result(timeout=1)
    with pytest.raises(RuntimeError, match="shut down"):
        lane.submit(lambda: 1)
    stuck.set()
    assert running.result(timeout=5) is True
