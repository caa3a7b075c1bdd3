"""Owner isolation on every route: another user, or another owner's key, cannot list, read,
search, download, reprocess, cancel, share or delete a collection or document (404, like a
missing one);
admins reach everything; keys need their scopes and ``allowed_collections``."""

from __future__ import annotations

from typing import Any

INTERNAL = "/api-internal/v1/rag"
PUBLIC = "/api/v1/rag"


async def _owned_document(env: Any) -> tuple[str, dict[str, str], str, str]:
    owner_id, headers = await env.user()
    cid = await env.collection(headers, name="private")
    response = await env.upload(headers, cid, [("secret.txt", b"The vault code is in the attic.")])
    document_id = response.json()["documents"][0]["id"]
    await env.wait_indexed(headers, document_id)
    return owner_id, headers, cid, document_id


def _routes(cid: str, did: str, intruder: str) -> list[tuple[str, str, dict[str, Any]]]:
    search = {"json": {"query": "vault code"}}
    upload = {"files": [("files", ("x.txt", b"intruder text", "text/plain"))]}
    return [
        ("GET", f"{INTERNAL}/collections/{cid}", {}),
        ("PATCH", f"{INTERNAL}/collections/{cid}", {"json": {"name": "stolen"}}),
        ("GET", f"{INTERNAL}/collections/{cid}/documents", {}),
        ("POST", f"{INTERNAL}/collections/{cid}/documents", upload),
        ("POST", f"{INTERNAL}/collections/{cid}/search", search),
        ("GET", f"{INTERNAL}/documents/{did}", {}),
        ("GET", f"{INTERNAL}/documents/{did}/download", {}),
        ("GET", f"{INTERNAL}/documents/{did}/events", {}),
        ("POST", f"{INTERNAL}/documents/{did}/reprocess", {}),
        ("POST", f"{INTERNAL}/documents/{did}/cancel", {}),
        ("GET", f"{INTERNAL}/collections/{cid}/shares", {}),
        ("PUT", f"{INTERNAL}/collections/{cid}/shares/{intruder}", {"json": {"role": "editor"}}),
        ("DELETE", f"{INTERNAL}/collections/{cid}/shares/{intruder}", {}),
        ("DELETE", f"{INTERNAL}/documents/{did}", {}),
        ("DELETE", f"{INTERNAL}/collections/{cid}", {}),
    ]


async def test_another_user_reaches_nothing(rag_env: Any) -> None:
    async with rag_env() as env:
        _, owner, cid, did = await _owned_document(env)
        intruder_id, intruder = await env.user()
        listed = await env.client.get(f"{INTERNAL}/collections", headers=intruder)
        assert listed.json()["data"] == []
        for method, url, extra in _routes(cid, did, intruder_id):
            response = await env.client.request(method, url, headers=intruder, **extra)
            assert response.status_code == 404, (method, url, response.text)
        still = await env.client.get(f"{INTERNAL}/documents/{did}", headers=owner)
        assert still.json()["job"]["state"] == "indexed"
        assert (await env.search(owner, cid, "vault")).json()["data"]
        mine = await env.client.get(f"{INTERNAL}/collections/{cid}", headers=owner)
        assert mine.json()["name"] == "private"


async def test_admin_reaches_every_collection(rag_env: Any) -> None:
    async with rag_env() as env:
        owner_id, _, cid, did = await _owned_document(env)
        _, admin = await env.user(role="admin")
        listed = await env.client.get(
            f"{INTERNAL}/collections", params={"owner_id": owner_id}, headers=admin
        )
        assert [c["id"] for c in listed.json()["data"]] == [cid]
        hits = (await env.search(admin, cid, "vault code")).json()["data"]
        assert hits[0]["document_id"] == did
        deleted = await env.client.delete(f"{INTERNAL}/documents/{did}", headers=admin)
        assert deleted.status_code == 204


async def test_keys_reach_their_owners_collections_only(rag_env: Any) -> None:
    async with rag_env() as env:
        owner_id, _, cid, did = await _owned_document(env)
        other_id, _ = await env.user()
        other_key = await env.key(other_id)
        owner_key = await env.key(owner_id)
        search = {"query": "vault code"}
        listed = await env.client.get(f"{PUBLIC}/collections", headers=other_key)
        assert listed.status_code == 200
        assert listed.json()["data"] == []
        for response in (
            await env.client.post(
                f"{PUBLIC}/collections/{cid}/search", json=search, headers=other_key
            ),
            await env.upload(other_key, cid, [("x.txt", b"intruder")], base=PUBLIC),
            await env.client.post(f"{PUBLIC}/documents/{did}/cancel", headers=other_key),
            await env.client.get(f"{PUBLIC}/documents/{did}", headers=other_key),
        ):
            assert response.status_code == 404, response.text
        listed = await env.client.get(f"{PUBLIC}/collections", headers=owner_key)
        assert [c["id"] for c in listed.json()["data"]] == [cid]
        found = await env.client.post(
            f"{PUBLIC}/collections/{cid}/search", json=search, headers=owner_key
        )
        assert found.json()["data"][0]["document_name"] == "secret.txt"
        uploaded = await env.upload(owner_key, cid, [("more.txt", b"More notes.")], base=PUBLIC)
        assert uploaded.status_code == 202, uploaded.text


async def test_key_scopes_and_allowed_collections_are_enforced(rag_env: Any) -> None:
    async with rag_env() as env:
        owner_id, headers, cid, _ = await _owned_document(env)
        other_cid = await env.collection(headers, name="other")
        search_only = await env.key(owner_id, scopes=["rag.search"])
        refused = await env.upload(search_only, cid, [("x.txt", b"text")], base=PUBLIC)
        assert refused.status_code == 403, refused.text
        write_only = await env.key(owner_id, scopes=["rag.write"])
        refused = await env.client.post(
            f"{PUBLIC}/collections/{cid}/search", json={"query": "x"}, headers=write_only
        )
        assert refused.status_code == 403
        limited = await env.key(owner_id, allowed_collections=[other_cid])
        refused = await env.client.post(
            f"{PUBLIC}/collections/{cid}/search", json={"query": "vault"}, headers=limited
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "collection_not_allowed"
        listed = await env.client.get(f"{PUBLIC}/collections", headers=limited)
        assert [c["id"] for c in listed.json()["data"]] == [other_cid]
        allowed = await env.client.post(
            f"{PUBLIC}/collections/{other_cid}/search", json={"query": "vault"}, headers=limited
        )
        assert allowed.status_code == 200
