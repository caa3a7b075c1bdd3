"""``enclava rag ingest|search`` against a server on a real loopback port."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from kernel.cli import main


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI runs in its own empty directory with no ENCLAVA_* or OPENAI_* variable."""
    (tmp_path / "cli").mkdir()
    monkeypatch.chdir(tmp_path / "cli")
    for name in [n for n in os.environ if n.startswith(("ENCLAVA_", "OPENAI_"))]:
        monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_ingest_then_search(
    rag_env: Any,
    documents: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "manual.pdf").write_bytes(documents.pdf(["Calibrate the sextant at dawn."]))
    (folder / "letter.docx").write_bytes(documents.docx("Letter", ["Dear keeper of bees."]))
    (folder / "notes.md").write_bytes(b"# Notes\n\nThe ferry leaves at noon.\n")
    (folder / "broken.bin").write_bytes(b"\x00\x01\x02")
    async with rag_env(serve=True) as env:
        owner_id, headers = await env.user()
        await env.collection(headers, name="handbook")
        key = (await env.key(owner_id))["Authorization"].removeprefix("Bearer ")
        monkeypatch.setenv("ENCLAVA_URL", env.url)
        monkeypatch.setenv("OPENAI_API_KEY", key)
        argv = ["rag", "ingest", "--collection", "handbook", str(folder)]
        code, out, err = await asyncio.to_thread(run, capsys, *argv)
        assert code == 1, out + err
        assert "broken.bin" in err
        assert "1 file(s) failed" in err
        assert "broken.bin: failed" in out
        assert "broken.bin: uploaded" not in out
        for name in ("manual.pdf", "letter.docx", "notes.md"):
            assert f"{name}: indexed 100%" in out
        assert "(overall 3/3)" in out
        argv = ["rag", "search", "--collection", "handbook", "when does the ferry leave"]
        code, out, err = await asyncio.to_thread(run, capsys, *argv)
        assert code == 0, err
        assert out.startswith("1. [")
        assert "notes.md § Notes" in out.splitlines()[0]
        argv = ["rag", "search", "--collection", "nope", "x"]
        code, _, err = await asyncio.to_thread(run, capsys, *argv)
        assert code == 1
        assert "no collection named 'nope'" in err
        twin = await env.collection(headers, name="handbook")
        argv = ["rag", "search", "--collection", "handbook", "ferry"]
        code, _, err = await asyncio.to_thread(run, capsys, *argv)
        assert code == 1
        assert "2 collections are named 'handbook'" in err
        argv = ["rag", "search", "--collection", twin, "ferry"]
        code, out, err = await asyncio.to_thread(run, capsys, *argv)
        assert code == 0, err


def test_needs_a_server_and_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "rag", "search", "--collection", "c", "q")
    assert code == 1
    assert "ENCLAVA_URL" in err


def test_every_leaf_has_help_config_and_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    for action in ("ingest", "search"):
        with pytest.raises(SystemExit):
            main(["rag", action, "--help"])
        out = capsys.readouterr().out
        for flag in ("--collection", "--url", "--timeout", "--config", "--verbose"):
            assert flag in out
