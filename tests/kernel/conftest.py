"""Fixtures for the CLI tests: an empty working directory and no ENCLAVA_* from the machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# ``serve`` exports its overrides to os.environ for uvicorn's factory; listing them here makes
# monkeypatch remove them again after each test.
_SERVE_EXPORTS = (
    "ENCLAVA_CONFIG_FILE",
    "ENCLAVA_SERVER_HOST",
    "ENCLAVA_SERVER_PORT",
    "ENCLAVA_SERVER_WORKERS",
    "PROMETHEUS_MULTIPROC_DIR",  # serve --workers N shares metrics through files
)


@pytest.fixture
def clean_cwd_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in an empty directory with no ENCLAVA_* variable from the machine."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("ENCLAVA_")]:
        monkeypatch.delenv(name)
    for name in _SERVE_EXPORTS:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
