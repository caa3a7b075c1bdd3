"""A chatbot's answer verification only tightens the key's: the verifier reads it through the
``KeyPolicy`` contract like a key's own setting."""

from __future__ import annotations

from typing import Any

import pytest
from support.chatbots import another_key, create_chatbot, internal, new_owner, public
from support.gateway import Gateway

from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.services import KeyPolicy
from kernel.types import Principal
from kernel.upstream import AttestationStatus, ModelInfo, ResponseEvidence, ResponsePolicy

CHAT = {"model": "x", "messages": [{"role": "user", "content": "verify me"}]}


class KeyReadingVerifier:
    """Trusts the RedPill simulator's attestation; answers never verify; the policy is the
    key's, as the attestation plugin's verifier reads it."""

    provider_kind = "redpill"

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel

    def status(self, provider: str, model: ModelInfo) -> AttestationStatus:
        return AttestationStatus(valid=True, label="simulated")

    def response_policy(self, principal: Principal | None) -> ResponsePolicy:
        policy: Any = self.kernel.service(KeyPolicy).response_verification(principal)
        return policy or "off"

    async def verify_response(self, evidence: ResponseEvidence) -> AttestationStatus:
        return AttestationStatus(valid=False, label="simulated", reason="not verified")


class Verifiers:
    PLUGIN_NAME = "key_reading_verifier"

    @hookimpl
    def enclava_attestation_verifiers(self, kernel: Kernel) -> list[KeyReadingVerifier]:
        return [KeyReadingVerifier(kernel)]


async def test_chatbot_policy_tightens_the_keys(gateway: Gateway) -> None:
    async with gateway(trust=False, extra=[Verifiers()]) as env:
        owner = await new_owner(env)
        lax = await create_chatbot(env, owner, allowed_providers=["redpill"])
        strict = await create_chatbot(
            env, owner, allowed_providers=["redpill"], response_verification="strict"
        )
        auth = {"Authorization": f"Bearer {owner.key}"}
        async with public(env) as api:
            ok = await api.post(f"/chatbots/{lax['id']}/chat/completions", json=CHAT, headers=auth)
            assert ok.status_code == 200, ok.text
            refused = await api.post(
                f"/chatbots/{strict['id']}/chat/completions", json=CHAT, headers=auth
            )
            assert refused.status_code >= 500, refused.text
            assert "verification" in refused.json()["error"]["message"].lower()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_the_playground_is_held_to_the_chatbots_verification(
    gateway: Gateway, stream: bool
) -> None:
    # The gateway verifies answers itself, so a user's session carries the chatbot's policy
    # like a key does: the answer that never verifies is withheld (a failure opens the
    # provider's circuit, so one refusal per gateway).
    async with gateway(trust=False, extra=[Verifiers()]) as env:
        owner = await new_owner(env)
        lax = await create_chatbot(env, owner, allowed_providers=["redpill"])
        strict = await create_chatbot(
            env, owner, allowed_providers=["redpill"], response_verification="strict"
        )
        body = {"message": "hi", "stream": stream}
        async with internal(env) as api:
            ok = await api.post(f"/chatbots/{lax['id']}/chat", json=body, headers=owner.headers)
            withheld = await api.post(
                f"/chatbots/{strict['id']}/chat", json=body, headers=owner.headers
            )
    assert ok.status_code == 200, ok.text
    assert "verification" not in ok.text.lower()
    # strict: nothing of the answer before its verdict, streamed or not
    assert withheld.status_code == 502, withheld.text
    assert withheld.json()["error"]["code"] == "response_verification_failed"


async def test_chatbot_policy_never_loosens_the_keys(gateway: Gateway) -> None:
    async with gateway(trust=False, extra=[Verifiers()]) as env:
        owner = await new_owner(env)
        strict_key = await another_key(env, owner, response_verification="strict")
        bot = await create_chatbot(
            env, owner, allowed_providers=["redpill"], response_verification="async"
        )
        async with public(env) as api:
            kept = await api.post(
                f"/chatbots/{bot['id']}/chat/completions",
                json=CHAT,
                headers={"Authorization": f"Bearer {strict_key}"},
            )
        assert kept.status_code >= 500, kept.text
        assert "verification" in kept.json()["error"]["message"].lower()
