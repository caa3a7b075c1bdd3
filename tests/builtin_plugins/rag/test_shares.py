"""Sharing a collection: a reader lists, searches and downloads; an editor also changes
documents; neither renames, deletes or shares it; revoking takes it all back; every grant and
revocation is audited. Other users still reach nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from builtin_plugins.rag.models import rag_collection_shares
from kernel.errors import NotFoundError
from kernel.services import Retriever
from kernel.types import Principal

INTERNAL = "/api-internal/v1/rag"
PUBLIC = "/api/v1/rag"
SECRET = b"The lighthouse key hangs behind the blue door."


async def _shared_setup(env: Any) -> dict[str, Any]:
    owner_id, owner = await env.user()
    reader_id, reader = await env.user()
    cid = await env.collection(owner, name="team notes")
    response = await env.upload(owner, cid, [("key.txt", SECRET)])
    did = response.json()["documents"][0]["id"]
    await env.wait_indexed(owner, did)
    return {"owner_id": owner_id, "owner": owner, "user_id": reader_id, "user": reader,
            "cid": cid, "did": did}  # fmt: skip


async def _share(env: Any, s: dict[str, Any], role: str, who: str | None = None) -> Any:
    return await env.client.put(
        f"{INTERNAL}/collections/{s['cid']}/shares/{who or s['user_id']}",
        json={"role": role},
        headers=s["owner"],
    )


def _reads(cid: str, did: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("GET", f"{INTERNAL}/collections/{cid}", {}),
        ("GET", f"{INTERNAL}/collections/{cid}/documents", {}),
        ("POST", f"{INTERNAL}/collections/{cid}/search", {"json": {"query": "lighthouse"}}),
        ("GET", f"{INTERNAL}/documents/{did}", {}),
        ("GET", f"{INTERNAL}/documents/{did}/download", {}),
        ("GET", f"{INTERNAL}/documents/{did}/events", {}),
    ]


def _writes(cid: str, did: str) -> list[tuple[str, str, dict[str, Any]]]:
    upload = {"files": [("files", ("more.txt", b"Gulls circle the pier.", "text/plain"))]}
    return [
        ("POST", f"{INTERNAL}/collections/{cid}/documents", upload),
        ("POST", f"{INTERNAL}/documents/{did}/reprocess", {}),
        ("POST", f"{INTERNAL}/documents/{did}/cancel", {}),
        ("DELETE", f"{INTERNAL}/documents/{did}", {}),
    ]


def _manages(cid: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("PATCH", f"{INTERNAL}/collections/{cid}", {"json": {"name": "taken"}}),
        ("GET", f"{INTERNAL}/collections/{cid}/shares", {}),
        ("PUT", f"{INTERNAL}/collections/{cid}/shares/someone", {"json": {"role": "reader"}}),
        ("DELETE", f"{INTERNAL}/collections/{cid}", {}),
    ]


async def _statuses(env: Any, headers: dict[str, str], routes: list[Any]) -> set[int]:
    found = set()
    for method, url, extra in routes:
        response = await env.client.request(method, url, headers=headers, **extra)
        found.add(response.status_code)
    return found


async def test_reader_reads_and_nothing_more(rag_env: Any) -> None:
    async with rag_env() as env:
        s = await _shared_setup(env)
        cid, did, reader = s["cid"], s["did"], s["user"]
        shared = await _share(env, s, "reader")
        assert shared.status_code == 200, shared.text
        assert shared.json()["role"] == "reader"
        assert shared.json()["email"].endswith("@example.com")
        listed = (await env.client.get(f"{INTERNAL}/collections", headers=reader)).json()
        assert [(c["id"], c["access"]) for c in listed["data"]] == [(cid, "reader")]
        for method, url, extra in _reads(cid, did):
            response = await env.client.request(method, url, headers=reader, **extra)
            assert response.status_code == 200, (method, url, response.text)
        download = await env.client.get(f"{INTERNAL}/documents/{did}/download", headers=reader)
        assert download.content == SECRET
        hits = (await env.search(reader, cid, "lighthouse key")).json()["data"]
        assert hits[0]["document_id"] == did
        assert await _statuses(env, reader, _writes(cid, did) + _manages(cid)) == {403}
        mine = await env.client.get(f"{INTERNAL}/collections/{cid}", headers=s["owner"])
        assert (mine.json()["access"], mine.json()["name"]) == ("owner", "team notes")
        assert (await env.client.get(f"{INTERNAL}/documents/{did}", headers=s["owner"])).json()[
            "job"
        ]["state"] == "indexed"
        _, stranger = await env.user()
        assert await _statuses(env, stranger, _reads(cid, did) + _writes(cid, did)) == {404}
        assert await _statuses(env, stranger, _manages(cid)) == {404}


async def test_editor_changes_documents_but_not_the_collection(rag_env: Any) -> None:
    async with rag_env() as env:
        s = await _shared_setup(env)
        cid, did, editor = s["cid"], s["did"], s["user"]
        assert (await _share(env, s, "editor")).json()["role"] == "editor"
        uploaded = await env.upload(editor, cid, [("gulls.txt", b"Gulls circle the pier.")])
        assert uploaded.status_code == 202, uploaded.text
        new_id = uploaded.json()["documents"][0]["id"]
        assert (await env.wait_indexed(editor, new_id))["job"]["state"] == "indexed"
        again = await env.client.post(f"{INTERNAL}/documents/{did}/reprocess", headers=editor)
        assert again.status_code == 202
        await env.wait_indexed(editor, did)
        gone = await env.client.delete(f"{INTERNAL}/documents/{new_id}", headers=editor)
        assert gone.status_code == 204
        assert await _statuses(env, editor, _manages(cid)) == {403}
        listed = (await env.client.get(f"{INTERNAL}/collections", headers=editor)).json()
        assert listed["data"][0]["access"] == "editor"


async def test_revoking_takes_everything_back(rag_env: Any) -> None:
    async with rag_env() as env:
        s = await _shared_setup(env)
        cid, did, user_id = s["cid"], s["did"], s["user_id"]
        await _share(env, s, "editor")
        user = Principal(kind="user", id=user_id, owner_id=user_id, roles=frozenset({"user"}))
        retriever = env.kernel.service(Retriever)
        passages = await retriever.retrieve(user, collections=[cid], query="lighthouse")
        assert passages[0].document_id == did
        key = await env.key(user_id)
        listed = (await env.client.get(f"{PUBLIC}/collections", headers=key)).json()
        assert [c["id"] for c in listed["data"]] == [cid]
        found = await env.client.post(
            f"{PUBLIC}/collections/{cid}/search", json={"query": "lighthouse"}, headers=key
        )
        assert found.json()["data"][0]["document_id"] == did
        assert (await env.client.get(f"{PUBLIC}/documents/{did}", headers=key)).status_code == 200
        revoked = await env.client.delete(
            f"{INTERNAL}/collections/{cid}/shares/{user_id}", headers=s["owner"]
        )
        assert revoked.status_code == 204
        assert (await env.client.get(f"{INTERNAL}/collections", headers=s["user"])).json()[
            "data"
        ] == []
        routes = _reads(cid, did) + _writes(cid, did) + _manages(cid)
        assert await _statuses(env, s["user"], routes) == {404}
        with pytest.raises(NotFoundError):
            await retriever.retrieve(user, collections=[cid], query="lighthouse")
        assert (await env.client.get(f"{PUBLIC}/collections", headers=key)).json()["data"] == []
        for response in (
            await env.client.post(
                f"{PUBLIC}/collections/{cid}/search", json={"query": "lighthouse"}, headers=key
            ),
            await env.client.get(f"{PUBLIC}/documents/{did}", headers=key),
            await env.upload(key, cid, [("x.txt", b"intruder")], base=PUBLIC),
        ):
            assert response.status_code == 404, response.text


async def test_a_reader_key_cannot_upload_through_the_public_api(rag_env: Any) -> None:
    async with rag_env() as env:
        s = await _shared_setup(env)
        await _share(env, s, "reader")
        key = await env.key(s["user_id"])
        refused = await env.upload(key, s["cid"], [("x.txt", b"words")], base=PUBLIC)
        assert refused.status_code == 403, refused.text
        cancel = await env.client.post(f"{PUBLIC}/documents/{s['did']}/cancel", headers=key)
        assert cancel.status_code == 403


async def test_shares_are_listed_validated_and_audited(rag_env: Any) -> None:
    async with rag_env() as env:
        s = await _shared_setup(env)
        cid, owner, user_id = s["cid"], s["owner"], s["user_id"]
        shares = f"{INTERNAL}/collections/{cid}/shares"
        assert (await _share(env, s, "reader", who="no-such-user")).status_code == 404
        assert (await _share(env, s, "reader", who=s["owner_id"])).status_code == 400
        assert (await _share(env, s, "owner")).status_code == 400
        email = (await _share(env, s, "reader")).json()["email"]
        by_email = await _share(env, s, "editor", who=email)
        assert (by_email.json()["user_id"], by_email.json()["role"]) == (user_id, "editor")
        listed = (await env.client.get(shares, headers=owner)).json()["data"]
        assert [(x["user_id"], x["role"], x["created_by"]) for x in listed] == [
            (user_id, "editor", s["owner_id"])
        ]
        _, admin = await env.user(role="admin")
        third_id, third = await env.user()
        by_admin = await env.client.put(
            f"{shares}/{third_id}", json={"role": "reader"}, headers=admin
        )
        assert by_admin.status_code == 200
        left = await env.client.delete(f"{shares}/{third_id}", headers=third)
        assert left.status_code == 204  # a user may remove their own share
        assert (await env.client.delete(f"{shares}/{third_id}", headers=owner)).status_code == 404
        revoked = await env.client.delete(f"{shares}/{user_id}", headers=owner)
        assert revoked.status_code == 204
        events = await _audit(env, admin, cid)
        assert events == [
            ("rag.collection.share", s["owner_id"], user_id, "reader"),
            ("rag.collection.share", s["owner_id"], user_id, "editor"),
            ("rag.collection.share", None, third_id, "reader"),
            ("rag.collection.unshare", third_id, third_id, "reader"),
            ("rag.collection.unshare", s["owner_id"], user_id, "editor"),
        ]


async def _audit(env: Any, admin: dict[str, str], cid: str) -> list[tuple[Any, ...]]:
    """(action, actor or None for the admin, user, role) of the collection's share events."""
    admin_id = (await env.client.get("/api-internal/v1/auth/me", headers=admin)).json()["id"]
    rows = []
    for action in ("rag.collection.share", "rag.collection.unshare"):
        page = await env.client.get(
            "/api-internal/v1/audit",
            params={"action": action, "resource_id": cid},
            headers=admin,
        )
        assert page.status_code == 200, page.text
        rows += page.json()["data"]
    rows.sort(key=lambda row: row["id"])
    assert {row["resource_type"] for row in rows} == {"rag_collection"}
    return [
        (
            row["action"],
            None if row["actor_id"] == admin_id else row["actor_id"],
            row["details"]["user_id"],
            row["details"]["role"],
        )
        for row in rows
    ]


async def test_deleting_a_collection_removes_its_shares(rag_env: Any) -> None:
    async with rag_env() as env:
        s = await _shared_setup(env)
        await _share(env, s, "reader")
        deleted = await env.client.delete(f"{INTERNAL}/collections/{s['cid']}", headers=s["owner"])
        assert deleted.status_code == 204
        listed = await env.client.get(f"{INTERNAL}/collections", headers=s["user"])
        assert listed.json()["data"] == []
        async with env.kernel.stores.db.session() as session:
            count = await session.execute(select(func.count()).select_from(rag_collection_shares))
            assert count.scalar_one() == 0
