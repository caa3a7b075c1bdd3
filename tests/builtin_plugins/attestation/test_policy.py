"""The trust policy: the real TDX vector refused or allowed by its MRTD; dstack event logs
replayed against RTMR3; the policy administered through the real app (listed, appended,
audited) with refused workloads' measurements in the status and the history."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from builtin_plugins.attestation import install_trust
from builtin_plugins.attestation.collateral import CollateralCache
from builtin_plugins.attestation.measurements import (
    DSTACK_RUNTIME_EVENT,
    replay_event_log,
    runtime_event_digest,
)
from builtin_plugins.attestation.policy import TrustRule, Workload, check_workload, measure
from builtin_plugins.attestation.quotes import DcapQuotes, VerifiedQuote
from builtin_plugins.attestation.simulated_quotes import TestRootQuotes
from builtin_plugins.attestation.trust import Trust
from builtin_plugins.attestation.verdicts import AttestationRejected
from builtin_plugins.simulators.keys import sim_root_public_key
from builtin_plugins.simulators.simquote import SIM_MR_TD

from .conftest import Attested, admin, attestable, origin, redpill_statuses, until_attested
from .vectors import QUOTE_NOW, FileCollateral, quote

VECTOR_MR_TD = (
    "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407"
    "de03ae6dc5f87f27428b2538873118b7"
)


async def _vector() -> VerifiedQuote:
    source = FileCollateral("tdx_quote_collateral.json")
    dcap = DcapQuotes(CollateralCache(source, clock=lambda: QUOTE_NOW), clock=lambda: QUOTE_NOW)
    return await dcap.verify(quote())


def _check(rules: list[TrustRule], verified: VerifiedQuote, model: str = "phala/m") -> None:
    check_workload(
        rules,
        provider="redpill",
        model=model,
        tcb_status=verified.tcb_status,
        measured=measure(verified, None),
    )


async def test_the_real_quote_is_refused_when_its_mrtd_is_not_allowed() -> None:
    verified = await _vector()
    other = TrustRule(workloads=[Workload(mr_td="00" * 48)])
    with pytest.raises(
        AttestationRejected, match=rf"not in the trust policy.*mr_td={VECTOR_MR_TD}"
    ):
        _check([other], verified)


async def test_the_real_quote_is_verified_when_its_mrtd_is_allowed() -> None:
    verified = await _vector()
    assert verified.mr_td == VECTOR_MR_TD
    assert len(verified.rtmrs) == 4
    _check([TrustRule(workloads=[Workload(mr_td=VECTOR_MR_TD.upper())])], verified)


async def test_an_empty_allowlist_refuses_and_says_how_to_populate_it() -> None:
    verified = await _vector()
    with pytest.raises(AttestationRejected, match=r"empty allowlist.*attestation/trust"):
        _check([], verified)


async def test_rules_apply_by_provider_and_model_glob_and_tcb() -> None:
    verified = await _vector()
    allowed = Workload(mr_td=VECTOR_MR_TD)
    _check([TrustRule(models="phala/*", workloads=[allowed])], verified, "phala/m")
    with pytest.raises(AttestationRejected, match="empty allowlist"):
        _check([TrustRule(models="phala/*", workloads=[allowed])], verified, "tinfoil/m")
    strict_rtmr = Workload(mr_td=VECTOR_MR_TD, rtmr0="11" * 48)
    with pytest.raises(AttestationRejected, match="rtmr0="):
        _check([TrustRule(workloads=[strict_rtmr])], verified)
    outdated_only = TrustRule(accepted_tcb_statuses=["OutOfDate"], workloads=[allowed])
    with pytest.raises(AttestationRejected, match="TCB UpToDate"):
        _check([outdated_only], verified)


def test_a_workload_names_its_mrtd_in_hex() -> None:
    with pytest.raises(ValueError, match="mr_td"):
        Workload(mr_td="")
    with pytest.raises(ValueError, match="hex"):
        Workload(mr_td="zz")


def _event(event: str, payload: bytes) -> dict[str, object]:
    digest = runtime_event_digest(DSTACK_RUNTIME_EVENT, event, payload)
    return {
        "imr": 3,
        "event_type": DSTACK_RUNTIME_EVENT,
        "digest": digest.hex(),
        "event": event,
        "event_payload": payload.hex(),
    }


def _log(events: list[dict[str, object]]) -> tuple[str, str]:
    register = bytes(48)
    for event in events:
        register = hashlib.sha384(register + bytes.fromhex(str(event["digest"]))).digest()
    return json.dumps(events), register.hex()


def test_the_dstack_app_is_replayed_from_the_event_log() -> None:
    compose, app = bytes(range(32)), bytes(20)
    log, rtmr3 = _log([_event("app-id", app), _event("compose-hash", compose)])
    assert replay_event_log(log, rtmr3=rtmr3) == {
        "app_id": app.hex(),
        "compose_hash": compose.hex(),
    }


def test_an_event_log_that_does_not_replay_is_refused() -> None:
    log, rtmr3 = _log([_event("compose-hash", b"\x01" * 32)])
    with pytest.raises(AttestationRejected, match="does not replay"):
        replay_event_log(log, rtmr3="00" * 48)
    forged = _event("compose-hash", b"\x01" * 32)
    forged["event_payload"] = (b"\x02" * 32).hex()
    with pytest.raises(AttestationRejected, match="does not match its digest"):
        replay_event_log(_log([forged])[0], rtmr3=rtmr3)


SIM_RULE = {"models": "*", "workloads": [{"mr_td": SIM_MR_TD.hex(), "note": "reviewed"}]}


def anchorless_simulator_trust() -> Trust:
    """The simulator's test root with no workload allowed: every quote is refused until a rule
    admits its measurements."""
    return Trust(quotes=TestRootQuotes((sim_root_public_key(),)), label="simulated", simulated=True)


async def test_an_unlisted_workload_is_refused_until_an_admin_allows_it(
    attested_gateway: Attested,
) -> None:
    async with attested_gateway() as env:
        install_trust(env.kernel, anchorless_simulator_trust())
        answer = await admin(env, "POST", "/attestation/reverify")
        found = attestable(answer.json()["data"])
        assert found
        assert all(SIM_MR_TD.hex() in s["reason"] for s in found)
        assert all(s["measurements"] == {"mr_td": SIM_MR_TD.hex()} for s in found)
        path = f"/attestation/history?limit=1&model={found[0]['model']}"
        history = (await admin(env, "GET", path)).json()["data"]
        assert history[0]["measurements"] == {"mr_td": SIM_MR_TD.hex()}
        added = await admin(env, "POST", "/attestation/trust", json=SIM_RULE)
        assert added.status_code == 201, added.text
        assert added.json()["rule"]["workloads"][0]["mr_td"] == SIM_MR_TD.hex()
        await until_attested(env)
        listed = (await admin(env, "GET", "/attestation/trust")).json()
        assert [a["rule"]["models"] for a in listed["added"]] == ["*"]
        assert listed["anchor"] == []
        assert listed["label"] == "simulated"


async def test_trust_rules_are_validated_and_for_admins_only(attested_gateway: Attested) -> None:
    async with attested_gateway() as env:
        empty = await admin(env, "POST", "/attestation/trust", json={"workloads": []})
        assert empty.status_code == 400
        bad_tcb = {**SIM_RULE, "accepted_tcb_statuses": ["Revoked"]}
        assert (await admin(env, "POST", "/attestation/trust", json=bad_tcb)).status_code == 400
        async with httpx.AsyncClient(base_url=origin(env)) as client:
            anonymous = await client.get("/api-internal/v1/attestation/trust")
            assert anonymous.status_code == 401
        assert await redpill_statuses(env)


async def test_an_added_rule_removed_refuses_its_models_again(
    attested_gateway: Attested,
) -> None:
    async with attested_gateway() as env:
        install_trust(env.kernel, anchorless_simulator_trust())
        added = (await admin(env, "POST", "/attestation/trust", json=SIM_RULE)).json()
        await until_attested(env)
        path = f"/attestation/trust/{added['id']}"
        removed = await admin(env, "DELETE", path)
        again = await admin(env, "DELETE", path)
        found = await redpill_statuses(env)
        listed = (await admin(env, "GET", "/attestation/trust")).json()
        audit = (await admin(env, "GET", "/audit?action=attestation.trust.remove")).json()
        async with httpx.AsyncClient(base_url=origin(env)) as client:
            anonymous = await client.delete(f"/api-internal/v1{path}")
    assert removed.status_code == 200, removed.text
    assert removed.json()["rule"]["workloads"][0]["mr_td"] == SIM_MR_TD.hex()
    assert again.status_code == 404
    assert listed["added"] == []
    assert found
    assert not any(s["verified"] for s in found)
    assert [e["resource_id"] for e in audit["data"]] == [str(added["id"])]
    assert anonymous.status_code == 401
