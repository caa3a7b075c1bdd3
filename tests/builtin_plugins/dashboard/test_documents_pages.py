"""The documents pages through the real app: collections created and deleted, several files
uploaded (the plain form, CSRF token as its first field, and the script's one-file requests with
the header), each document's ingest followed over SSE to ``indexed``, a search showing hits with
document, position and score; refusals come from the internal API (another user's collection is
404, a read-only user gets no upload controls and is refused anyway)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from .conftest import browser, signed_in
from .test_escaping import PROBE, inert
from .test_overview import events

DOCS = "/dashboard/documents"
HTMX = {"HX-Request": "true"}
_COLLECTION = re.compile(r"/dashboard/documents/([0-9a-f-]+)$")
_ROW = re.compile(r'data-document-id="([0-9a-f-]+)"')
TEXT_A = b"The office opens at nine o'clock. Visitors sign in at the front desk."
TEXT_B = b"# Parking\n\nParking is free on weekends in the underground garage."


async def new_collection(client: httpx.AsyncClient, csrf: str, name: str = "handbook") -> str:
    created = await client.post(DOCS, data={"_csrf": csrf, "name": name, "description": "d"})
    assert created.status_code == 303, created.text
    match = _COLLECTION.search(created.headers["location"])
    assert match, created.headers["location"]
    return match.group(1)


def form_upload(csrf: str, files: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The plain form's multipart body: the CSRF field first, then the files."""
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return {"data": {"_csrf": csrf}, "files": parts}


async def ingest_events(client: httpx.AsyncClient, collection: str, document: str) -> list[Any]:
    url = f"{DOCS}/{collection}/files/{document}/events"
    async with client.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [pair async for pair in events(response)]


async def test_upload_follow_ingest_and_search(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "dora")
        refused = await client.post(DOCS, data={"_csrf": csrf, "name": ""})
        collection = await new_collection(client, csrf)
        page = await client.post(
            f"{DOCS}/{collection}/upload",
            **form_upload(csrf, [("office.txt", TEXT_A), ("parking.md", TEXT_B)]),
        )
        script = await client.post(
            f"{DOCS}/{collection}/upload",
            files=[("files", ("empty.txt", b"", "text/plain"))],
            headers={**HTMX, "X-CSRF-Token": csrf},
        )
        documents = _ROW.findall(page.text)
        progress = [await ingest_events(client, collection, d) for d in documents]
        listing = await client.get(f"{DOCS}/{collection}")
        hits = await client.get(f"{DOCS}/{collection}", params={"q": "parking weekends"})
        partial = await client.get(
            f"{DOCS}/{collection}", params={"q": "office nine"}, headers=HTMX
        )
        collections = await client.get(DOCS)
    assert refused.status_code == 400
    assert 'id="name-error"' in refused.text
    assert page.status_code == 200, page.text
    assert "office.txt" in page.text
    assert "parking.md" in page.text
    assert len(documents) == 2
    assert 'sse-connect="/dashboard/documents/' in page.text
    assert "<html" not in script.text  # the script gets rows only
    assert "empty.txt" in script.text
    for pairs in progress:
        assert pairs[-1] == ("done", "indexed"), pairs
        swaps = [data for event, data in pairs if event == "progress"]
        assert 'data-state="indexed"' in swaps[-1]
        assert re.search(r'class="chunks">[1-9]\d* chunks?<', swaps[-1]), swaps[-1]
        assert "Reprocess" not in swaps[-1]
        assert "Cancel" not in swaps[-1]
    assert listing.text.count('data-state="indexed"') == 2
    assert "sse-connect" not in listing.text.split("documents-body")[1].split("empty.txt")[0]
    assert hits.status_code == 200
    hit_list = hits.text.split('id="hits"')[1]
    assert "parking.md" in hit_list.split("</li>")[0]
    assert "passage 0" in hit_list
    assert 'class="score"' in hit_list
    assert "<html" not in partial.text
    assert "office.txt" in partial.text
    assert "handbook" in collections.text


async def test_csrf_and_deletes(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "ed")
        collection = await new_collection(client, csrf)
        parts = [("files", ("a.txt", TEXT_A, "text/plain"))]
        bare = await client.post(f"{DOCS}/{collection}/upload", files=parts)
        wrong = await client.post(
            f"{DOCS}/{collection}/upload", **form_upload("0" * 64, [("a.txt", TEXT_A)])
        )
        page = await client.post(
            f"{DOCS}/{collection}/upload", **form_upload(csrf, [("a.txt", TEXT_A)])
        )
        (document,) = _ROW.findall(page.text)
        await ingest_events(client, collection, document)
        ended = await client.post(
            f"{DOCS}/{collection}/files/{document}/cancel", data={"_csrf": csrf}
        )
        again = await client.post(
            f"{DOCS}/{collection}/files/{document}/reprocess", data={"_csrf": csrf}
        )
        reindexed = await ingest_events(client, collection, document)
        undeleted = await client.post(f"{DOCS}/{collection}/files/{document}/delete")
        deleted = await client.post(
            f"{DOCS}/{collection}/files/{document}/delete", data={"_csrf": csrf}
        )
        after = await client.get(f"{DOCS}/{collection}")
        gone = await client.post(f"{DOCS}/{collection}/delete", data={"_csrf": csrf})
        missing = await client.get(f"{DOCS}/{collection}")
    assert bare.status_code == 403
    assert wrong.status_code == 403
    assert ended.status_code == 409  # the API's answer: the job already ended
    assert "error" in ended.text
    assert again.status_code == 303
    assert reindexed[-1] == ("done", "indexed")
    assert undeleted.status_code == 403
    assert deleted.status_code == 303
    assert "a.txt" not in after.text
    assert gone.status_code == 303
    assert missing.status_code == 404


async def test_roles_are_decided_by_the_api(app: Any, running: Any) -> None:
    async with running(app) as owner:
        csrf = await signed_in(owner, app, "olga")
        collection = await new_collection(owner, csrf, "private")
        async with browser(app, "127.0.0.2") as other, browser(app, "127.0.0.3") as reader:
            other_csrf = await signed_in(other, app, "otto")
            hidden = await other.get(f"{DOCS}/{collection}")
            sneaky = await other.post(
                f"{DOCS}/{collection}/upload", **form_upload(other_csrf, [("x.txt", TEXT_A)])
            )
            listing = await other.get(DOCS)
            reader_csrf = await signed_in(reader, app, "rita", "read_only")
            readonly = await reader.get(DOCS)
            created = await reader.post(DOCS, data={"_csrf": reader_csrf, "name": "mine"})
    assert hidden.status_code == 404
    assert sneaky.status_code == 404
    assert "private" not in listing.text
    assert readonly.status_code == 200
    assert 'id="create-collection"' not in readonly.text
    assert created.status_code == 403
    assert "role" in created.text


async def test_probe_is_inert_in_the_document_forms(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "xss-docs")
        client.follow_redirects = True
        created = await client.post(DOCS, data={"_csrf": csrf, "name": PROBE, "description": PROBE})
        collection = str(created.url).rsplit("/", 1)[1]
        named = "<script>alert(1)</script>.txt"
        uploaded = await client.post(
            f"{DOCS}/{collection}/upload", **form_upload(csrf, [(named, TEXT_A), (PROBE, b"")])
        )
        rows = await client.post(
            f"{DOCS}/{collection}/upload",
            files=[("files", (named, TEXT_B, "text/plain"))],
            headers={**HTMX, "X-CSRF-Token": csrf},
        )
        answers = [
            created,
            uploaded,
            rows,
            await client.get(DOCS),
            await client.get(f"{DOCS}/{collection}", params={"q": PROBE}),
            await client.get(f"{DOCS}/{collection}", params={"q": PROBE}, headers=HTMX),
            await client.post(DOCS, data={"_csrf": csrf, "name": "", "description": PROBE}),
        ]
    for answer in answers:
        inert(answer)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.txt" in uploaded.text
