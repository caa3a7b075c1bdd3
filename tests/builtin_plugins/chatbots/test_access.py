"""Owner isolation on every route, scopes, the key's ``allowed_chatbots`` and the active flag."""

from __future__ import annotations

from support.chatbots import another_key, create_chatbot, internal, new_owner, public
from support.gateway import Gateway

CHAT = {"model": "x", "messages": [{"role": "user", "content": "hello there"}]}


async def test_another_users_chatbot_and_conversations_are_invisible(gateway_on: Gateway) -> None:
    async with gateway_on() as env:
        alice, bob = await new_owner(env), await new_owner(env)
        bot = await create_chatbot(env, alice)
        async with public(env) as api:
            said = await api.post(
                f"/chatbots/{bot['id']}/chat/completions",
                json=CHAT,
                headers={"Authorization": f"Bearer {alice.key}"},
            )
            assert said.status_code == 200, said.text
            conversation = said.json()["conversation_id"]
            bob_auth = {"Authorization": f"Bearer {bob.key}"}
            refused = await api.post(
                f"/chatbots/{bot['id']}/chat/completions", json=CHAT, headers=bob_auth
            )
            assert refused.status_code == 404
            simple = await api.post(
                f"/chatbots/{bot['id']}/chat", json={"message": "hi"}, headers=bob_auth
            )
            assert simple.status_code == 404
            listed = await api.get("/chatbots", headers=bob_auth)
            assert listed.json()["data"] == []
        async with internal(env) as api:
            for path in (
                f"/chatbots/{bot['id']}",
                f"/conversations/{conversation}",
                f"/conversations/{conversation}/export",
            ):
                assert (await api.get(path, headers=bob.headers)).status_code == 404, path
            assert (await api.get("/chatbots", headers=bob.headers)).json()["data"] == []
            assert (await api.get("/conversations", headers=bob.headers)).json()["total"] == 0
            changed = await api.patch(
                f"/chatbots/{bot['id']}", json={"name": "mine"}, headers=bob.headers
            )
            assert changed.status_code == 404
            for path in (f"/conversations/{conversation}", f"/chatbots/{bot['id']}"):
                assert (await api.delete(path, headers=bob.headers)).status_code == 404
            played = await api.post(
                f"/chatbots/{bot['id']}/chat", json={"message": "hi"}, headers=bob.headers
            )
            assert played.status_code == 404
            admin = await new_owner(env, role="admin")
            seen = await api.get(f"/conversations/{conversation}", headers=admin.headers)
            assert seen.status_code == 200
            assert (await api.get("/chatbots", headers=admin.headers)).json()["data"]
            assert (await api.get("/chatbots", headers=alice.headers)).json()["data"]


async def test_allowed_chatbots_scope_and_the_active_flag_are_enforced(
    gateway_on: Gateway,
) -> None:
    async with gateway_on() as env:
        owner = await new_owner(env)
        first = await create_chatbot(env, owner, name="first")
        second = await create_chatbot(env, owner, name="second")
        limited = await another_key(env, owner, allowed_chatbots=[first["id"]])
        unscoped = await another_key(env, owner, scopes=["chat.completions"])
        async with public(env) as api:
            auth = {"Authorization": f"Bearer {limited}"}
            ok = await api.post(
                f"/chatbots/{first['id']}/chat/completions", json=CHAT, headers=auth
            )
            assert ok.status_code == 200, ok.text
            denied = await api.post(
                f"/chatbots/{second['id']}/chat/completions", json=CHAT, headers=auth
            )
            assert denied.status_code == 403
            assert denied.json()["error"]["code"] == "chatbot_not_allowed"
            listed = await api.get("/chatbots", headers=auth)
            assert [b["id"] for b in listed.json()["data"]] == [first["id"]]
            no_scope = await api.post(
                f"/chatbots/{first['id']}/chat/completions",
                json=CHAT,
                headers={"Authorization": f"Bearer {unscoped}"},
            )
            assert no_scope.status_code == 403
            async with internal(env) as client:
                paused = await client.patch(
                    f"/chatbots/{first['id']}", headers=owner.headers, json={"is_active": False}
                )
            assert paused.status_code == 200, paused.text
            inactive = await api.post(
                f"/chatbots/{first['id']}/chat/completions", json=CHAT, headers=auth
            )
            assert inactive.status_code == 403
            assert inactive.json()["error"]["code"] == "chatbot_inactive"
            simple = await api.post(
                f"/chatbots/{first['id']}/chat", json={"message": "hi"}, headers=auth
            )
            assert simple.status_code == 403
