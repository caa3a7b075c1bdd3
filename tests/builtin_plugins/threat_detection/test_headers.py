"""Header anomalies and scanner user agents are refused before authentication, and audited."""

from __future__ import annotations

from typing import Any

import pytest

SCANNER = "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"


@pytest.mark.parametrize("path", ["/api/v1/probe", "/api-internal/v1/probe"])
async def test_scanner_user_agent_is_rejected_and_audited_once(
    make_app: Any, running: Any, audit_rows: Any, path: str
) -> None:
    app = make_app()
    async with running(app) as client:
        for _ in range(3):
            refused = await client.get(path, headers={"user-agent": SCANNER})
            assert refused.status_code == 403
            assert refused.json()["error"] == {
                "message": "This request was rejected.",
                "type": "permission_error",
                "param": None,
                "code": "request_rejected",
            }
        assert (await client.get(path, headers={"user-agent": "python-httpx/0.28"})).is_success
        rows = await audit_rows(app, "security.scanner")
    assert len(rows) == 1  # one record per client and minute, however many requests
    assert rows[0].outcome == "denied"
    assert rows[0].ip == "127.0.0.1"
    assert rows[0].details["pattern"] == "nmap"
    assert "Scripting" not in str(rows[0].details)


async def test_scanner_list_is_configurable(make_app: Any, running: Any) -> None:
    app = make_app(ENCLAVA_THREAT_DETECTION_SCANNER_USER_AGENTS='["evilbot"]')
    async with running(app) as client:
        assert (
            await client.get("/api/v1/probe", headers={"user-agent": "EvilBot/2"})
        ).status_code == 403
        assert (await client.get("/api/v1/probe", headers={"user-agent": "sqlmap/1.7"})).is_success


async def test_too_many_headers_are_rejected(make_app: Any, running: Any, audit_rows: Any) -> None:
    app = make_app(ENCLAVA_THREAT_DETECTION_MAX_HEADER_COUNT="20")
    async with running(app) as client:
        headers = {f"x-filler-{n}": "1" for n in range(25)}
        refused = await client.get("/api/v1/probe", headers=headers)
        assert refused.status_code == 400
        assert refused.json()["error"]["type"] == "invalid_request_error"
        assert refused.json()["error"]["code"] == "request_rejected"
        assert (await client.get("/api/v1/probe")).is_success
        rows = await audit_rows(app, "security.header_anomaly")
    assert [r.details["reason"] for r in rows] == ["too_many_headers"]
    assert rows[0].details["header_count"] > 20


async def test_oversized_headers_are_rejected(make_app: Any, running: Any, audit_rows: Any) -> None:
    app = make_app()
    async with running(app) as client:
        big = {"x-padding": "a" * 17_000}
        refused = await client.get("/api-internal/v1/probe", headers=big)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "request_rejected"
        split = {f"x-part-{n}": "b" * 1000 for n in range(17)}
        assert (await client.get("/api/v1/probe", headers=split)).status_code == 400
        rows = await audit_rows(app, "security.header_anomaly")
    assert [r.details["reason"] for r in rows] == ["headers_too_large"]
    assert "aaaa" not in str(rows[0].details)


async def test_conflicting_length_headers_are_rejected(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app) as client:
        headers = [("content-length", "0"), ("transfer-encoding", "chunked")]
        refused = await client.get("/api/v1/probe", headers=headers)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "request_rejected"


async def test_root_routes_are_not_inspected(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app) as client:
        assert (await client.get("/health/live", headers={"user-agent": SCANNER})).is_success
