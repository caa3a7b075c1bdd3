"""The whole flow through the real app (SQLite, memory KV, embedded vectors): upload PDF, DOCX
and Markdown, watch them index, search, download, reprocess; bad files and oversize uploads."""

from __future__ import annotations

from typing import Any

import msgspec

INTERNAL = "/api-internal/v1/rag"
PUBLIC = "/api/v1/rag"
ZEBRA = "The zebra sleeps under the silver moon."
VOLCANO = "Page two explains how volcanoes erupt with lava."
TOMATO = "Tomatoes need sunlight and water every day."
PASTA = b"# Cooking\n\nBoil the pasta for nine minutes in salted water.\n"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # how a password-protected XLSX starts


async def _upload_three(env: Any, headers: dict[str, str], cid: str, documents: Any) -> list[str]:
    response = await env.upload(
        headers,
        cid,
        [
            ("zebra.pdf", documents.pdf([ZEBRA, VOLCANO])),
            ("garden.docx", documents.docx("Gardening", [TOMATO])),
            ("cooking.md", PASTA),
        ],
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["errors"] == []
    assert [d["job"]["state"] for d in body["documents"]] == ["queued"] * 3
    return [d["id"] for d in body["documents"]]


async def test_pdf_docx_markdown_are_indexed_and_found(rag_env: Any, documents: Any) -> None:
    async with rag_env() as env:
        user_id, headers = await env.user()
        cid = await env.collection(headers, description="mixed")
        ids = await _upload_three(env, headers, cid, documents)
        for document_id in ids:
            done = await env.wait_indexed(headers, document_id)
            assert done["job"] == {**done["job"], "state": "indexed", "progress": 100}
            assert done["chunk_count"] >= 1
        kinds = {
            d["name"]: d["content_type"]
            for d in (
                await env.client.get(f"{INTERNAL}/collections/{cid}/documents", headers=headers)
            ).json()["data"]
        }
        assert kinds["zebra.pdf"] == "application/pdf"
        assert kinds["cooking.md"] == "text/markdown"
        expectations = [
            ("zebra moon", "zebra.pdf", 1, None),
            ("how do volcanoes erupt", "zebra.pdf", 2, None),
            ("tomatoes sunlight", "garden.docx", None, "Gardening"),
            ("how long to boil pasta", "cooking.md", None, "Cooking"),
        ]
        for query, name, page, section in expectations:
            for mode in ("hybrid", "dense", "sparse"):
                response = await env.search(headers, cid, query, mode=mode, top_k=2)
                assert response.status_code == 200, response.text
                best = response.json()["data"][0]
                assert (best["document_name"], best["page"]) == (name, page), (query, mode)
                if section:
                    assert best["section"] == section
        info = (await env.client.get(f"{INTERNAL}/collections/{cid}", headers=headers)).json()
        assert info["document_count"] == 3
        assert info["chunk_count"] >= 4
        assert info["owner_id"] == user_id
        assert info["embedding"] == "local"
        key = await env.key(user_id)
        public = await env.client.post(
            f"{PUBLIC}/collections/{cid}/search", json={"query": "pasta"}, headers=key
        )
        assert public.status_code == 200, public.text
        assert public.json()["data"][0]["document_name"] == "cooking.md"


async def test_download_returns_the_original(rag_env: Any, documents: Any) -> None:
    async with rag_env() as env:
        _, headers = await env.user()
        cid = await env.collection(headers)
        pdf = documents.pdf([ZEBRA])
        response = await env.upload(headers, cid, [("z.pdf", pdf)])
        document_id = response.json()["documents"][0]["id"]
        download = await env.client.get(
            f"{INTERNAL}/documents/{document_id}/download", headers=headers
        )
        assert download.status_code == 200
        assert download.content == pdf
        assert download.headers["content-type"].startswith("application/pdf")
        assert 'filename="z.pdf"' in download.headers["content-disposition"]


async def test_events_stream_progress_until_indexed(rag_env: Any) -> None:
    async with rag_env() as env:
        _, headers = await env.user()
        cid = await env.collection(headers)
        response = await env.upload(headers, cid, [("notes.txt", b"Plain notes about owls.")])
        document_id = response.json()["documents"][0]["id"]
        events = await env.client.get(f"{INTERNAL}/documents/{document_id}/events", headers=headers)
        assert events.status_code == 200
        assert events.headers["content-type"].startswith("text/event-stream")
        states = [
            msgspec.json.decode(line[5:])["state"]
            for line in events.text.splitlines()
            if line.startswith("data:")
        ]
        assert states[-1] == "indexed"


async def test_reprocess_runs_the_job_again(rag_env: Any) -> None:
    async with rag_env() as env:
        _, headers = await env.user()
        cid = await env.collection(headers)
        response = await env.upload(headers, cid, [("owls.txt", b"Owls hunt at night.")])
        document_id = response.json()["documents"][0]["id"]
        first = await env.wait_indexed(headers, document_id)
        again = await env.client.post(
            f"{INTERNAL}/documents/{document_id}/reprocess", headers=headers
        )
        assert again.status_code == 202
        second = await env.wait_indexed(headers, document_id)
        assert second["job"]["state"] == "indexed"
        assert second["chunk_count"] == first["chunk_count"]
        hits = (await env.search(headers, cid, "owls night")).json()["data"]
        assert len(hits) == first["chunk_count"]  # replaced, not duplicated


async def test_bad_files_get_their_own_error_and_others_go_in(rag_env: Any) -> None:
    async with rag_env() as env:
        _, headers = await env.user()
        cid = await env.collection(headers)
        response = await env.upload(
            headers,
            cid,
            [
                ("binary.dat", b"\x00\x01\x02\x03garbage"),
                ("empty.txt", b"   "),
                ("broken.pdf", b"%PDF-1.7 this is not really a PDF"),
                ("sheet.xlsx", _zip({"xl/workbook.xml": b"<workbook/>"})),
                ("locked.xlsx", OLE2 + b"\x00" * 504),
                ("good.txt", b"Badgers dig tunnels."),
            ],
        )
        assert response.status_code == 202, response.text
        body = response.json()
        errors = {e["name"]: e["code"] for e in body["errors"]}
        assert errors == {
            "binary.dat": "unsupported_media_type",
            "empty.txt": "unsupported_media_type",
            "locked.xlsx": "unsupported_media_type",
        }
        locked = next(e for e in body["errors"] if e["name"] == "locked.xlsx")
        assert "password-protected" in locked["message"]
        jobs = {d["name"]: d["id"] for d in body["documents"]}
        assert set(jobs) == {"broken.pdf", "sheet.xlsx", "good.txt"}
        broken = await env.wait_indexed(headers, jobs["broken.pdf"])
        assert broken["job"]["state"] == "failed"
        assert "PDF" in broken["job"]["error"]
        sheet = await env.wait_indexed(headers, jobs["sheet.xlsx"])
        assert sheet["job"]["state"] == "failed"
        assert "cannot read the XLSX file" in sheet["job"]["error"]
        assert (await env.wait_indexed(headers, jobs["good.txt"]))["job"]["state"] == "indexed"


async def test_oversize_file_is_refused_with_413(rag_env: Any) -> None:
    async with rag_env(ENCLAVA_RAG_MAX_UPLOAD_BYTES="2048") as env:
        _, headers = await env.user()
        cid = await env.collection(headers)
        response = await env.upload(
            headers, cid, [("small.txt", b"fine"), ("big.txt", b"word " * 1000)]
        )
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "request_too_large"
        listed = await env.client.get(f"{INTERNAL}/collections/{cid}/documents", headers=headers)
        assert listed.json()["total"] == 0


async def test_upload_is_not_bound_by_server_max_body_bytes(rag_env: Any) -> None:
    """README: upload routes obey rag.max_upload_bytes, not server.max_body_bytes (both APIs)."""
    env_kw = {"ENCLAVA_SERVER_MAX_BODY_BYTES": "4096", "ENCLAVA_RAG_MAX_UPLOAD_BYTES": "65536"}
    async with rag_env(**env_kw) as env:
        owner_id, headers = await env.user()
        cid = await env.collection(headers)
        text = b"The lighthouse keeper logs every passing ship. " * 400
        response = await env.upload(headers, cid, [("log.txt", text)])
        assert response.status_code == 202, response.text
        assert response.json()["errors"] == []
        key = await env.key(owner_id)
        response = await env.upload(key, cid, [("log2.txt", text)], base=PUBLIC)
        assert response.status_code == 202, response.text
        search = await env.client.post(
            f"{INTERNAL}/collections/{cid}/search", json={"query": "x" * 5000}, headers=headers
        )
        assert search.status_code == 413, search.text  # JSON routes keep the server cap


async def test_structured_formats_and_jsonl_records(rag_env: Any) -> None:
    async with rag_env() as env:
        _, headers = await env.user()
        cid = await env.collection(headers)
        jsonl = (
            b'{"title": "alpha", "body": "first record about herons"}\n'
            b'{"title": "beta", "body": "second record about otters"}\n'
        )
        html = (
            b"<!doctype html><html><body><h1>Rivers</h1><p>Salmon swim upstream.</p>"
            b"<script>var x='hidden';</script></body></html>"
        )
        csv_data = b"animal,habitat\nbeaver,river\ncamel,desert\nyak,mountain\n"
        response = await env.upload(
            headers,
            cid,
            [
                ("records.jsonl", jsonl),
                ("page.html", html),
                ("animals.csv", csv_data),
                ("config.json", b'{"service": {"name": "lighthouse"}}'),
            ],
        )
        body = response.json()
        names = {d["name"]: d["content_type"] for d in body["documents"]}
        assert names == {
            "records.jsonl#1": "application/json",
            "records.jsonl#2": "application/json",
            "page.html": "text/html",
            "animals.csv": "text/csv",
            "config.json": "application/json",
        }
        for document in body["documents"]:
            assert (await env.wait_indexed(headers, document["id"]))["job"]["state"] == "indexed"
        checks = {
            "otters": "records.jsonl#2",
            "salmon upstream": "page.html",
            "camel desert": "animals.csv",
            "lighthouse": "config.json",
        }
        for query, name in checks.items():
            best = (await env.search(headers, cid, query)).json()["data"][0]
            assert best["document_name"] == name, query
        html_hit = (await env.search(headers, cid, "salmon", top_k=1)).json()["data"][0]
        assert html_hit["section"] == "Rivers"
        assert "hidden" not in html_hit["text"]


async def test_collection_crud_and_validation(rag_env: Any) -> None:
    async with rag_env() as env:
        _, headers = await env.user()
        cid = await env.collection(headers, name="first")
        patched = await env.client.patch(
            f"{INTERNAL}/collections/{cid}", json={"name": "renamed"}, headers=headers
        )
        assert patched.json()["name"] == "renamed"
        listed = await env.client.get(f"{INTERNAL}/collections", headers=headers)
        assert [c["name"] for c in listed.json()["data"]] == ["renamed"]
        # Read back from SQL, timestamps still say UTC, like the creation's answer does.
        assert listed.json()["data"][0]["created_at"].endswith("Z")
        assert patched.json()["updated_at"].endswith("Z")
        bad = await env.client.post(
            f"{INTERNAL}/collections",
            json={"name": "x", "chunk_size": 64, "chunk_overlap": 64},
            headers=headers,
        )
        assert bad.status_code == 400
        provider = await env.client.post(
            f"{INTERNAL}/collections", json={"name": "p", "embedding": "provider"}, headers=headers
        )
        assert provider.status_code == 400  # no model named, no default configured
        empty = await env.search(headers, cid, "anything")
        assert empty.status_code == 200
        assert empty.json()["data"] == []
        blank = await env.search(headers, cid, "   ")
        assert blank.status_code == 400
        assert blank.json()["error"]["param"] == "query"
        nan = await env.search(headers, cid, "anything", score_threshold="NaN")
        assert nan.status_code == 400, nan.text
        assert nan.json()["error"]["param"] == "score_threshold"


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


async def test_too_many_files_is_refused_with_413(rag_env: Any) -> None:
    async with rag_env(ENCLAVA_RAG_MAX_FILES_PER_UPLOAD="2") as env:
        _, headers = await env.user()
        cid = await env.collection(headers)
        files = [(f"{n}.txt", b"text") for n in range(3)]
        response = await env.upload(headers, cid, files)
        assert response.status_code == 413, response.text
        no_files = await env.client.post(
            f"{INTERNAL}/collections/{cid}/documents", data={"x": "1"}, files={}, headers=headers
        )
        assert no_files.status_code in {400, 415}
