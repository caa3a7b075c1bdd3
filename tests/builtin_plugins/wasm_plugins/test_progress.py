"""``Progress``: a spinner with elapsed time on a terminal, plain stamped lines elsewhere."""

from __future__ import annotations

import io
import threading

import pytest

from builtin_plugins.wasm_plugins.progress import Progress


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_each_phase_is_one_line_and_slow_ones_say_when_they_end() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = Progress(out, tty=False, clock=clock)
    with progress.phase("checking manifest"):
        clock.now += 0.2
    with progress.phase("compiling with componentize-py"):
        clock.now += 11.3
    progress.note("cached")
    assert out.getvalue().splitlines() == [
        "enclava [   0.0s] checking manifest",
        "enclava [   0.2s] compiling with componentize-py",
        "enclava [  11.5s] compiling with componentize-py: done in 11.3s",
        "enclava [  11.5s] cached",
    ]


def test_on_a_terminal_a_spinner_runs_until_the_phase_ends() -> None:
    out = io.StringIO()
    progress = Progress(out, tty=True)
    drawn = threading.Event()
    with progress.phase("compiling with componentize-py"):
        while "⠋" not in out.getvalue():
            drawn.wait(0.01)
    lines = out.getvalue().split("\r\x1b[K")
    assert lines[1].startswith("⠋ compiling with componentize-py 0.")
    assert lines[-1].startswith("✓ compiling with componentize-py ")
    assert lines[-1].endswith("s\n")


def test_on_a_terminal_a_failed_phase_is_crossed_out_and_the_error_passes() -> None:
    out = io.StringIO()
    progress = Progress(out, tty=True)
    with pytest.raises(RuntimeError), progress.phase("hashing sources"):
        raise RuntimeError("boom")
    assert out.getvalue().split("\r\x1b[K")[-1].startswith("✗ hashing sources ")


def test_a_phase_that_prints_itself_gets_a_header_instead_of_a_spinner() -> None:
    out = io.StringIO()
    with Progress(out, tty=True).phase("native tests", spinner=False):
        out.write("4 passed\n")
    assert out.getvalue() == "▸ native tests\n4 passed\n"
