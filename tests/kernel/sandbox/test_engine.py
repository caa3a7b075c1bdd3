"""The native compile cache: written once per (sha256, wasmtime version, engine settings)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from support.wat_components import component

from kernel.sandbox import SandboxEngine


def test_compiled_artefact_is_cached_and_reused(tmp_path: Path) -> None:
    wasm = component("(call $ret (i32.const 0) (i32.const 256) (i32.const 2))", data=["{}"])
    sha = hashlib.sha256(wasm).hexdigest()
    first = SandboxEngine(tmp_path, threads=1)
    try:
        first.compile(wasm, sha)
        cached = sorted(tmp_path.glob("*.cwasm"))
        assert [p.name for p in cached] == [f"{sha}-{first.fingerprint}.cwasm"]
        written = cached[0].stat().st_mtime_ns
    finally:
        first.close()
    second = SandboxEngine(tmp_path, threads=1)
    try:
        assert second.fingerprint == first.fingerprint
        second.compile(wasm, sha)
        assert cached[0].stat().st_mtime_ns == written
        assert not list(tmp_path.glob("*.partial"))
    finally:
        second.close()


def test_epoch_deadline_ticks() -> None:
    engine = SandboxEngine(Path("/nonexistent-cache"), threads=1)
    try:
        assert engine.ticks(0.0001) == 1
        assert engine.ticks(1.0) == 200
    finally:
        engine.close()
