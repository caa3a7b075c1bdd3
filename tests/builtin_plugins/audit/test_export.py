"""``GET /api-internal/v1/audit/export``: CSV or JSON attachments with the search filters."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from support.identity import admin_headers

from builtin_plugins.audit.export import CSV_COLUMNS
from builtin_plugins.audit.models import audit_events
from kernel.types import AuditEvent

EXPORT = "/api-internal/v1/audit/export"


async def _seed(app: Any) -> None:
    kernel = app.state.kernel
    for n in range(3):
        await kernel.audit(
            AuditEvent(
                action=f"demo.step{n}",
                outcome="success",
                resource_type="doc",
                resource_id='=HYPERLINK("http://x")' if n == 1 else f"doc_{n}",
                details={"n": n, "note": 'a,b "quoted"\nline'},
            )
        )


async def test_csv_export(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app) as client:
        headers = await admin_headers(app, client)
        await _seed(app)
        response = await client.get(EXPORT, params={"action": "demo.*"}, headers=headers)
        json_body = await client.get(
            EXPORT, params={"action": "demo.*", "format": "json"}, headers=headers
        )
        exports = (
            await client.get(
                "/api-internal/v1/audit", params={"action": "audit.export"}, headers=headers
            )
        ).json()
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="audit-')
    assert response.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == list(CSV_COLUMNS)
    assert [row[2] for row in rows[1:]] == ["demo.step2", "demo.step1", "demo.step0"]
    by_action = {row[2]: dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert by_action["demo.step1"]["resource_id"] == '\'=HYPERLINK("http://x")'
    assert by_action["demo.step0"]["details"] == '{"n":0,"note":"a,b \\"quoted\\"\\nline"}'
    assert by_action["demo.step0"]["actor_id"] == ""

    assert json_body.headers["content-type"].startswith("application/json")
    assert json_body.headers["content-disposition"].endswith('.json"')
    events = json_body.json()
    assert [e["action"] for e in events] == ["demo.step2", "demo.step1", "demo.step0"]
    assert events[1]["resource_id"] == '=HYPERLINK("http://x")'  # JSON keeps values exact
    assert events[0]["details"] == {"n": 2, "note": 'a,b "quoted"\nline'}

    recorded = exports["data"]
    assert [e["details"] for e in recorded] == [
        {"format": "json", "filters": {"action": "demo.*"}},
        {"format": "csv", "filters": {"action": "demo.*"}},
    ]
    assert all(e["actor_type"] == "user" for e in recorded)


async def test_export_crosses_batches_and_can_be_empty(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app) as client:
        headers = await admin_headers(app, client)
        now = datetime.now(UTC)
        rows = [
            {
                "occurred_at": now,
                "action": "bulk.event",
                "outcome": "success",
                "actor_type": "system",
                "resource_id": str(n),
                "details": {},
            }
            for n in range(2345)
        ]
        async with app.state.kernel.stores.db.session() as session:
            await session.execute(audit_events.insert(), rows)
        response = await client.get(EXPORT, params={"action": "bulk.*"}, headers=headers)
        as_json = await client.get(
            EXPORT, params={"action": "bulk.*", "format": "json"}, headers=headers
        )
        empty = await client.get(
            EXPORT, params={"action": "none.*", "format": "json"}, headers=headers
        )
        empty_csv = await client.get(EXPORT, params={"action": "none.*"}, headers=headers)
        bad = await client.get(EXPORT, params={"format": "xml"}, headers=headers)
    lines = list(csv.reader(io.StringIO(response.text)))
    assert len(lines) == 2346
    assert [line[7] for line in lines[1:]] == [str(n) for n in reversed(range(2345))]
    assert len(as_json.json()) == 2345
    assert empty.json() == []
    assert empty_csv.text.strip() == ",".join(CSV_COLUMNS)
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "format"
