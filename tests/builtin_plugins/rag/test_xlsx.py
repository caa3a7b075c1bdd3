"""XLSX workbooks: sniffed from their members, one section per worksheet headed by its name,
rows as ``column: value`` pairs; a damaged workbook fails its own job, an encrypted one is
refused at upload, and the other files of the request still go in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from builtin_plugins.rag.extract import ExtractionError, extract
from builtin_plugins.rag.sniff import sniff

INTERNAL = "/api-internal/v1/rag"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
STAFF = [
    ["Name", "City", "Started", "Desk"],
    ["Ann", "Paris", datetime(2020, 1, 2), 7.0],
    [None, None, None, None],
    ["Bob", None, datetime(2021, 3, 4, 9, 30), 12.5],
]
INVENTORY = [["Item", "Count"], ["Brass lanterns", 40], ["Copper kettles", 3]]


def test_sections_per_sheet_with_column_names(documents: Any) -> None:
    data = documents.xlsx({"Staff": STAFF, "Inventory": INVENTORY, "Empty": []})
    assert sniff(data) == "xlsx"
    sections = extract("xlsx", data)
    assert [s.heading for s in sections] == ["Staff", "Inventory"]
    assert sections[0].text.splitlines() == [
        "Staff",
        "Name: Ann, City: Paris, Started: 2020-01-02, Desk: 7",
        "Name: Bob, Started: 2021-03-04 09:30:00, Desk: 12.5",
    ]
    assert "Item: Brass lanterns, Count: 40" in sections[1].text


def test_header_only_sheet_keeps_its_names(documents: Any) -> None:
    sections = extract("xlsx", documents.xlsx({"Plan": [["Goal", "Owner"]]}))
    assert sections[0].text == "Plan\nGoal, Owner"


def test_damaged_workbook_says_why() -> None:
    with pytest.raises(ExtractionError, match="cannot read the XLSX file"):
        extract("xlsx", b"PK\x03\x04 not really a workbook")


async def test_workbook_is_indexed_and_searched_by_sheet(rag_env: Any, documents: Any) -> None:
    async with rag_env() as env:
        _, headers = await env.user()
        cid = await env.collection(headers)
        workbook = documents.xlsx({"Staff": STAFF, "Inventory": INVENTORY})
        response = await env.upload(
            headers,
            cid,
            [
                ("stock.xlsx", workbook),
                ("locked.xlsx", OLE2 + b"\x00" * 504),
                ("notes.txt", b"Herons wade in the marsh."),
            ],
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert [e["name"] for e in body["errors"]] == ["locked.xlsx"]
        assert "remove the password" in body["errors"][0]["message"]
        ids = {d["name"]: d["id"] for d in body["documents"]}
        assert set(ids) == {"stock.xlsx", "notes.txt"}
        for document_id in ids.values():
            assert (await env.wait_indexed(headers, document_id))["job"]["state"] == "indexed"
        stock = await env.client.get(f"{INTERNAL}/documents/{ids['stock.xlsx']}", headers=headers)
        assert stock.json()["content_type"] == XLSX
        assert stock.json()["chunk_count"] == 2
        for query, section in [("how many brass lanterns", "Inventory"), ("Ann Paris", "Staff")]:
            hits = (await env.search(headers, cid, query, top_k=1)).json()["data"]
            assert (hits[0]["document_name"], hits[0]["section"]) == ("stock.xlsx", section)
        download = await env.client.get(
            f"{INTERNAL}/documents/{ids['stock.xlsx']}/download", headers=headers
        )
        assert download.content == workbook
