"""``enclava rag ingest|search|cancel`` against a server on a real loopback port."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from builtin_plugins.rag.store import set_job
from kernel.cli import main

INTERNAL = "/api-internal/v1/rag"


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
        assert "1 file(s) failed or were cancelled" in err
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
    for action in ("ingest", "search", "cancel"):
        with pytest.raises(SystemExit):
            main(["rag", action, "--help"])
        out = capsys.readouterr().out
        for flag in ("--url", "--timeout", "--config", "--verbose"):
            assert flag in out
        assert ("--collection" in out) == (action != "cancel")


async def test_ingest_reports_a_cancelled_job_and_cancel_cancels(
    rag_env: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    postgres_url: str,
    redis_prefix: str,
) -> None:
    (tmp_path / "seal.txt").write_bytes(b"Grey seals haul out on the sandbank at low tide.")
    stack = {"database_url": postgres_url, "redis_prefix": redis_prefix}
    async with rag_env(serve=True, ENCLAVA_RAG_INGEST_CONCURRENCY="1", **stack) as env:
        owner_id, headers = await env.user()
        cid = await env.collection(headers, name="coast")
        key = (await env.key(owner_id))["Authorization"].removeprefix("Bearer ")
        monkeypatch.setenv("ENCLAVA_URL", env.url)
        monkeypatch.setenv("ENCLAVA_API_KEY", key)
        argv = ["rag", "ingest", "--collection", "coast", str(tmp_path / "seal.txt")]
        async with env.kernel.stores.db.engine.connect() as lock, lock.begin():
            # The job waits to write its chunk rows until the lock goes: cancelled meanwhile.
            await lock.execute(text("LOCK TABLE rag_chunks IN EXCLUSIVE MODE"))
            ingest = asyncio.create_task(asyncio.to_thread(run, capsys, *argv))
            job = await _job(env, headers, cid, lambda job: job["progress"] == 90)
            cancel = asyncio.create_task(
                env.client.post(f"{INTERNAL}/documents/{job['document']}/cancel", headers=headers)
            )
            await _job(env, headers, cid, lambda job: job["state"] == "cancelled")
        assert (await cancel).status_code == 200
        code, out, err = await ingest
        assert code == 1, out + err
        assert "seal.txt: cancelled 0%  (overall 1/1)" in out
        assert "1 file(s) failed or were cancelled: seal.txt" in err
        code, out, err = await asyncio.to_thread(run, capsys, "rag", "cancel", job["document"])
        assert code == 1
        assert "HTTP 409 job_not_cancellable" in out
        assert f"1 job(s) not cancelled: {job['document']}" in err
        await set_job(env.kernel.stores.db, job["document"], "queued", progress=0)
        code, out, err = await asyncio.to_thread(run, capsys, "rag", "cancel", job["document"])
        assert (code, out) == (0, "seal.txt: cancelled\n"), err


async def _job(env: Any, headers: dict[str, str], cid: str, test: Any) -> dict[str, Any]:
    """The job of the collection's only document once ``test`` holds, with its ``document``."""
    for _ in range(1200):
        listed = await env.client.get(f"{INTERNAL}/collections/{cid}/documents", headers=headers)
        documents = listed.json()["data"]
        if documents and test(documents[0]["job"]):
            return {**documents[0]["job"], "document": documents[0]["id"]}
        await asyncio.sleep(0.05)
    raise AssertionError(f"no job got there: {listed.json()}")
