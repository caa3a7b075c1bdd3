"""The chatbot pages through a served gateway in front of both simulated providers: create from
a preset (the API fills the defaults and refuses a bad config, its message shown next to the
field), edit, delete; the playground streams an answer over SSE with its sources and keeps the
conversation; conversations are listed, read, exported and deleted. A read-only user gets no
write controls and the API refuses anyway; another user's chatbot is 404."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from support.chatbots import Helpers
from support.gateway import SHARED, Gateway, gateway_factory

from builtin_plugins.chatbots.presets import PRESETS

from .conftest import csrf_of
from .test_escaping import PROBE, inert
from .test_overview import events, signed_in_client

BOTS = "/dashboard/chatbots"
_BOT = re.compile(r"/dashboard/chatbots/([0-9a-f-]+)$")
STREAM = {"Accept": "text/event-stream"}


@pytest.fixture
def helpers() -> Helpers:
    return Helpers()


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str, helpers: Helpers) -> Gateway:
    """The rag plugin is disabled: the helpers' fake retriever answers with two passages."""
    factory = gateway_factory(make_settings, sqlite_url)

    def run(**options: Any) -> Any:
        return factory(extra=[helpers], ENCLAVA_PLUGINS_DISABLED="rag", **options)

    return run


def bot_form(csrf: str, **fields: str) -> dict[str, str]:
    return {
        "_csrf": csrf,
        "name": "helper",
        "model": SHARED,
        "preset": "teacher",
        "description": "",
        "system_prompt": "",
        "temperature": "",
        "top_p": "",
        "max_tokens": "",
        "memory_turns": "",
        "top_k": "5",
        "score_threshold": "",
        "mode": "hybrid",
        "allowed_providers": "",
        "preferred_providers": "",
        "required_region": "",
        "response_verification": "",
        "is_active": "on",
        "cite_sources": "on",
        **fields,
    }


async def create_bot(client: httpx.AsyncClient, csrf: str, **fields: str) -> str:
    created = await client.post(BOTS, data=bot_form(csrf, **fields))
    assert created.status_code == 303, created.text
    match = _BOT.search(created.headers["location"])
    assert match, created.headers["location"]
    return match.group(1)


async def api(client: httpx.AsyncClient, path: str) -> httpx.Response:
    token = client.cookies["enclava_session"]
    return await client.get(f"/api-internal/v1{path}", headers={"Authorization": f"Bearer {token}"})


async def test_create_from_a_preset_edit_and_delete(gateway: Gateway) -> None:
    async with gateway() as env, signed_in_client(env, "cora") as user:
        new = await user.get(f"{BOTS}/new", params={"preset": "teacher"})
        csrf = csrf_of(new)
        unknown = await user.post(BOTS, data=bot_form(csrf, model="no-such-model"))
        hot = await user.post(BOTS, data=bot_form(csrf, temperature="hot"))
        bare = await user.post(BOTS, data={k: v for k, v in bot_form(csrf).items() if k != "_csrf"})
        bot = await create_bot(user, csrf)
        stored = (await api(user, f"/chatbots/{bot}")).json()
        renamed = await user.post(
            f"{BOTS}/{bot}", data=bot_form(csrf, name="renamed", temperature="0.9")
        )
        listing = await user.get(BOTS)
        deleted = await user.post(f"{BOTS}/{bot}/delete", data={"_csrf": csrf})
        after = await user.get(BOTS)
    teacher = PRESETS["teacher"]
    assert new.status_code == 200
    assert teacher.system_prompt in new.text
    assert 'href="/dashboard/chatbots/new?preset=researcher"' in new.text
    assert unknown.status_code == 400
    assert 'id="model-error"' in unknown.text
    assert "no-such-model" in unknown.text
    assert hot.status_code == 400
    assert 'id="temperature-error"' in hot.text
    assert bare.status_code == 403
    assert stored["system_prompt"] == teacher.system_prompt  # the API filled the preset's
    assert stored["temperature"] == teacher.temperature
    assert stored["retrieval"] is None
    assert renamed.status_code == 200
    assert 'id="saved"' in renamed.text
    assert 'value="renamed"' in renamed.text
    assert "renamed" in listing.text
    assert deleted.status_code == 303
    assert f'data-chatbot-id="{bot}"' not in after.text


async def stream_turn(
    client: httpx.AsyncClient, url: str, csrf: str, message: str, conversation: str = ""
) -> list[dict[str, Any]]:
    data = {"_csrf": csrf, "message": message, "conversation_id": conversation}
    async with client.stream("POST", url, data=data, headers=STREAM) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        pairs = [pair async for pair in events(response)]
    assert pairs[-1][1] == "[DONE]"
    return [json.loads(data) for _, data in pairs[:-1]]


async def test_playground_streams_with_sources_and_keeps_the_conversation(
    gateway: Gateway,
) -> None:
    async with gateway() as env, signed_in_client(env, "pia") as user:
        csrf = csrf_of(await user.get(f"{BOTS}/new"))
        bot = await create_bot(user, csrf, collections="handbook-collection")
        url = f"{BOTS}/{bot}/playground"
        page = await user.get(url)
        first = await stream_turn(user, url, csrf, "When does the office open?")
        (last,) = [c for c in first if "sources" in c]
        talk = str(last["conversation_id"])
        second = await stream_turn(user, url, csrf, "And parking?", talk)
        plain = await user.post(
            url, data={"_csrf": csrf, "message": "Thanks", "conversation_id": talk}
        )
        kept = await user.get(url, params={"conversation": talk})
        listing = await user.get("/dashboard/conversations", params={"chatbot": bot})
        read = await user.get(f"/dashboard/conversations/{talk}")
        markdown = await user.get(f"/dashboard/conversations/{talk}/export?format=markdown")
        exported = await user.get(f"/dashboard/conversations/{talk}/export?format=json")
        deleted = await user.post(f"/dashboard/conversations/{talk}/delete", data={"_csrf": csrf})
        gone = await api(user, f"/conversations/{talk}")
    assert 'src="/dashboard/static/playground.js"' in page.text
    assert 'id="chat-form"' in page.text
    assert 'for="chat-message"' in page.text
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in first if c.get("choices"))
    assert text
    assert [s["document_name"] for s in last["sources"]] == ["handbook.pdf", "faq.md"]
    assert next(c for c in second if "sources" in c)["conversation_id"] == talk
    assert plain.status_code == 303
    assert plain.headers["location"] == f"{url}?conversation={talk}"
    assert kept.text.count('class="msg user"') == 3
    assert kept.text.count('class="msg assistant"') == 3
    assert "handbook.pdf" in kept.text
    assert "score 0.910" in kept.text
    assert f'value="{talk}"' in kept.text
    assert f'data-conversation-id="{talk}"' in listing.text
    assert "When does the office open?" in read.text
    assert "faq.md" in read.text
    assert markdown.status_code == 200
    assert "attachment" in markdown.headers["content-disposition"]
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "When does the office open?" in markdown.text
    assert exported.json()["id"] == talk
    assert deleted.status_code == 303
    assert gone.status_code == 404


async def test_roles_and_ownership_are_the_apis(gateway: Gateway) -> None:
    async with gateway() as env, signed_in_client(env, "owen") as owner:
        csrf = csrf_of(await owner.get(f"{BOTS}/new"))
        bot = await create_bot(owner, csrf, name="owens")
        async with signed_in_client(env, "rory", "read_only") as reader:
            reader_csrf = csrf_of(await reader.get(BOTS))
            listing = await reader.get(BOTS)
            form = await reader.get(f"{BOTS}/new")
            refused = await reader.post(BOTS, data=bot_form(reader_csrf))
            foreign = await reader.get(f"{BOTS}/{bot}")
            talk = await reader.post(
                f"{BOTS}/{bot}/playground",
                data={"_csrf": reader_csrf, "message": "hi"},
                headers=STREAM,
            )
    assert listing.status_code == 200
    assert 'id="new-chatbot"' not in listing.text
    assert "owens" not in listing.text
    assert 'type="submit">Create chatbot' not in form.text
    assert refused.status_code == 403
    assert foreign.status_code == 404
    assert talk.status_code == 403
    assert talk.json()["error"]["message"]


async def test_probe_is_inert_in_the_chatbot_forms(gateway: Gateway) -> None:
    async with gateway() as env, signed_in_client(env, "xss-bots") as user:
        csrf = csrf_of(await user.get(f"{BOTS}/new"))
        fields = {f: PROBE for f in ("name", "description", "system_prompt")}
        bot = await create_bot(user, csrf, **fields, collections="c")
        url = f"{BOTS}/{bot}/playground"
        sent = await user.post(url, data={"_csrf": csrf, "message": PROBE})
        talk = sent.headers["location"].rsplit("=", 1)[1]
        answers = [
            await user.get(BOTS),
            await user.get(f"{BOTS}/{bot}"),
            await user.get(sent.headers["location"]),
            await user.get(f"/dashboard/conversations/{talk}"),
            await user.get("/dashboard/conversations", params={"chatbot": PROBE}),
            await user.post(BOTS, data=bot_form(csrf, **fields, model=PROBE, temperature=PROBE)),
            await user.post(f"{BOTS}/{bot}", data=bot_form(csrf, **fields, top_p=PROBE)),
            await user.post(
                f"{BOTS}/{bot}", data=bot_form(csrf, allowed_providers=PROBE, required_region=PROBE)
            ),
            await user.get(f"{BOTS}/new", params={"preset": PROBE}),
        ]
    for answer in answers[:-1]:
        inert(answer)
    inert(answers[-1], echoed=False)  # an unknown preset falls back to the default
