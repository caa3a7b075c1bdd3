"""Stopping a real ``enclava`` process the way an operator does: SIGTERM, then a bounded wait."""

from __future__ import annotations

import signal
import subprocess

__all__ = ["terminate"]


def terminate(proc: subprocess.Popen[bytes], timeout: float = 15) -> int:
    """SIGTERM ``proc`` and wait for it (killed after ``timeout`` seconds); its exit code."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
