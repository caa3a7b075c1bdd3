"""The gateway's routes with a key restricted to some models, through the official SDK and the
simulated providers: the routes declare where the model is named and the kernel refuses others."""

from __future__ import annotations

import openai
import pytest
from support.gateway import EMBEDDING, REDPILL_ONLY, SHARED, Gateway

CHAT = [{"role": "user", "content": "Say hello to the confidential world"}]


async def test_a_key_restricted_to_some_models_uses_only_those(gateway: Gateway) -> None:
    async with gateway() as env:
        client = env.client(await env.new_key(allowed_models=[SHARED, EMBEDDING]))
        completion = await client.chat.completions.create(model=SHARED, messages=CHAT)
        assert completion.choices[0].message.content
        stream = await client.chat.completions.create(model=SHARED, messages=CHAT, stream=True)
        assert [chunk async for chunk in stream]
        assert (await client.embeddings.create(model=EMBEDDING, input="hi")).data
        listed = await client.models.list()
        assert sorted(m.id for m in listed.data) == sorted([EMBEDDING, SHARED])
        assert (await client.models.retrieve(SHARED)).id == SHARED
        refusals = [
            client.chat.completions.create(model=REDPILL_ONLY, messages=CHAT),
            client.chat.completions.create(model=REDPILL_ONLY, messages=CHAT, stream=True),
            client.embeddings.create(model=SHARED + "-not-allowed", input="hi"),
            client.models.retrieve(REDPILL_ONLY),
        ]
        for refusal in refusals:
            with pytest.raises(openai.PermissionDeniedError) as caught:
                await refusal
            assert caught.value.code == "model_not_allowed"
        unrestricted = env.client()
        assert REDPILL_ONLY in {m.id for m in (await unrestricted.models.list()).data}
        assert await unrestricted.chat.completions.create(model=REDPILL_ONLY, messages=CHAT)
