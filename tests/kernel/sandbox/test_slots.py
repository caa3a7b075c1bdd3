"""Each plugin has its own call threads: stuck calls of one plugin starve nobody else, wait for
their plugin's threads at most their timeout, and never hold up a shutdown."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable
from pathlib import Path

import pytest
from support.wat_components import component

from kernel.sandbox import CallFailed, SandboxedPlugin, SandboxEngine

from .conftest import Load
from .test_deadline import SLEEP, sleeper

ECHO = "(call $ret (i32.const 0) (local.get $req) (local.get $req_len))"
SLEEP_UNLESS_FILTER = f"""
  (if (i32.eq (local.get $kind_len) (i32.const 8)) (then (call $sleep (i64.const 3600000000000))))
  {ECHO}
"""
FILTER_CALL = '{"body":{},"context":{}}'


async def _stuck(plugin: SandboxedPlugin, count: int) -> list[asyncio.Task[str]]:
    calls = [asyncio.create_task(plugin.call("endpoint", "{}")) for _ in range(count)]
    await asyncio.sleep(0.3)  # every one is inside the guest by now
    assert not any(call.done() for call in calls)
    return calls


async def _quick(call: Awaitable[str], limit: float = 0.5) -> str:
    started = time.monotonic()
    result = await call
    assert time.monotonic() - started < limit
    return result


async def test_four_sleeping_calls_starve_neither_another_plugin_nor_a_filter(
    load: Load,
) -> None:
    sleepy = load(
        component(SLEEP_UNLESS_FILTER, sleep=True),
        filter={"request": True},
        limits={"timeout_ms": 1500, "instances": 4},
    )
    other = load(component(ECHO))
    filtering = load(component(ECHO), filter={"request": True})
    stuck = await _stuck(sleepy, 4)
    assert await _quick(other.call("endpoint", '"served"')) == '"served"'
    assert await _quick(filtering.call("filter-request", FILTER_CALL)) == FILTER_CALL
    # the sleeping plugin's own chat filter runs on its own threads too
    assert await _quick(sleepy.call("filter-request", FILTER_CALL)) == FILTER_CALL
    results = await asyncio.gather(*stuck, return_exceptions=True)
    assert {getattr(r, "reason", r) for r in results} == {"timeout"}


async def test_a_call_waits_for_a_thread_at_most_its_timeout_then_runs_with_all_of_it(
    load: Load,
) -> None:
    plugin = load(sleeper(), limits={"timeout_ms": 400, "instances": 1})
    started = time.monotonic()
    first, second, third = await asyncio.gather(
        *(plugin.call("endpoint", "{}") for _ in range(3)), return_exceptions=True
    )
    # the second got the thread 0.4 s late and still slept its whole 0.4 s; the third gave up
    # waiting after 0.4 s (+ grace) without ever running
    assert [getattr(r, "reason", r) for r in (first, second, third)] == [
        "timeout",
        "timeout",
        "busy",
    ]
    assert 0.8 <= time.monotonic() - started < 0.8 + 0.3
    snapshot = plugin.metrics.snapshot()
    assert (snapshot.errors, snapshot.traps) == (3, 2)  # a call that never ran is no trap


async def test_unloading_fails_stuck_calls_at_once_and_waits_for_no_thread(
    engine: SandboxEngine, load: Load
) -> None:
    plugin = load(sleeper(), limits={"timeout_ms": 30_000, "instances": 4})
    stuck = await _stuck(plugin, 4)
    started = time.monotonic()
    plugin.close()
    engine.close()
    results = await asyncio.gather(*stuck, return_exceptions=True)
    assert time.monotonic() - started < 0.5
    assert all(isinstance(r, CallFailed) and "unloaded" in r.message for r in results), results
    sandbox = [t for t in threading.enumerate() if t.name.startswith("wasm")]
    assert sandbox
    assert all(t.daemon for t in sandbox)
    with pytest.raises(CallFailed, match="unloaded"):
        await plugin.call("endpoint", "{}")


_STUCK_PROCESS = f"""
import asyncio, hashlib, sys
from pathlib import Path
import msgspec
from support.wat_components import component
from kernel.http import HttpClients
from kernel.sandbox import Manifest, SandboxedPlugin, SandboxEngine
from kernel.sandbox.imports import HostContext
from kernel.sandbox.logs import LogBuffer
from kernel.sandbox.outbound import HttpFetcher
from kernel.storage.kv_memory import MemoryKV

async def main() -> None:
    engine = SandboxEngine(Path(sys.argv[1]), threads=1)
    manifest = msgspec.convert({{"name": "stuck", "version": "1", "abi": "0.1.0",
        "limits": {{"timeout_ms": 60000, "instances": 4}}}}, Manifest)
    wasm = component({SLEEP.format(ns=3_600_000_000_000)!r}, data=["{{}}"], sleep=True)
    context = HostContext(manifest, loop=asyncio.get_running_loop(), kv=MemoryKV(),
        fetcher=HttpFetcher(HttpClients(), (), timeout=1, max_bytes=1), config=dict,
        logs=LogBuffer(10))
    plugin = SandboxedPlugin(engine, manifest,
        engine.compile(wasm, hashlib.sha256(wasm).hexdigest()), context)
    calls = [asyncio.ensure_future(plugin.call("endpoint", "{{}}")) for _ in range(4)]
    await asyncio.sleep(0.5)
    print("stuck", flush=True)
    plugin.close()
    engine.close()
    await asyncio.gather(*calls, return_exceptions=True)

asyncio.run(main())
"""


def test_a_process_with_guests_stuck_in_sleep_exits_within_two_seconds(tmp_path: Path) -> None:
    tests = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{tests}{os.pathsep}{tests.parent}"}
    process = subprocess.Popen(
        [sys.executable, "-c", _STUCK_PROCESS, str(tmp_path)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "stuck"
        started = time.monotonic()
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 2.0
    finally:
        process.kill()
        process.wait()
