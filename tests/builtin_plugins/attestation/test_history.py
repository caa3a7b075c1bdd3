"""Attestation history in SQL (SQLite and PostgreSQL) through the real app's routes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from support.identity import admin_headers, create_user, login

from builtin_plugins.attestation.history import HistoryStore
from builtin_plugins.attestation.verdicts import Verdict
from kernel.app import create_app
from kernel.runtime import Kernel


def _verdict(model: str, valid: bool, reason: str = "") -> Verdict:
    return Verdict(
        provider="redpill",
        model=model,
        scheme="legacy",
        label="verified",
        valid=valid,
        url="https://api.redpill.ai/v1",
        checked_at=1_800_000_000.0,
        expires_at=1_800_003_600.0,
        reason=reason,
        tcb_status="UpToDate" if valid else "",
        signing_address="0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A" if valid else "",
    )


async def test_history_is_recorded_and_listed_newest_first(
    make_settings: Any, database_url: str, running: Any
) -> None:
    app = create_app(make_settings(database_url))
    kernel: Kernel = app.state.kernel
    async with running(app) as client:
        store = HistoryStore(kernel.stores.db)
        await store.record(_verdict("a", True))
        await store.record(_verdict("b", False, "report_data does not bind our nonce"))
        headers = await admin_headers(app, client)
        answer = await client.get("/api-internal/v1/attestation/history", headers=headers)
        assert answer.status_code == 200, answer.text
        entries = answer.json()["data"]
        assert [(e["model"], e["verdict"]) for e in entries] == [("b", "invalid"), ("a", "valid")]
        assert entries[1]["tcb_status"] == "UpToDate"
        assert entries[1]["signing_key"].startswith("0x19E7")
        assert entries[0]["reason"] == "report_data does not bind our nonce"
        checked_at = datetime.fromisoformat(entries[0]["checked_at"])
        assert checked_at.utcoffset() == timedelta(0)  # UTC, on SQLite too
        only_a = await client.get(
            "/api-internal/v1/attestation/history?model=a&limit=1", headers=headers
        )
        assert [e["model"] for e in only_a.json()["data"]] == ["a"]
        bad = await client.get("/api-internal/v1/attestation/history?limit=0", headers=headers)
        assert bad.status_code == 400


async def test_the_routes_need_credentials(
    make_settings: Any, sqlite_url: str, running: Any
) -> None:
    app = create_app(make_settings(sqlite_url))
    async with running(app) as client:
        assert (await client.get("/api/v1/attestation")).status_code == 401
        assert (await client.get("/api-internal/v1/attestation/history")).status_code == 401
        assert (await client.post("/api-internal/v1/attestation/reverify")).status_code == 401


async def test_history_and_reverify_refuse_plain_users(
    make_settings: Any, sqlite_url: str, running: Any
) -> None:
    app = create_app(make_settings(sqlite_url))
    async with running(app) as client:
        await create_user(app, "user@example.com", "a-long-password-1")
        headers = await login(client, "user@example.com", "a-long-password-1")
        history = await client.get("/api-internal/v1/attestation/history", headers=headers)
        assert history.status_code == 403
        reverify = await client.post("/api-internal/v1/attestation/reverify", headers=headers)
        assert reverify.status_code == 403
