"""Audit export bodies: CSV (header row, one line per event) or a JSON array, streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import msgspec

from builtin_plugins.audit.store import AuditRecord
from kernel.csv_export import csv_cell, csv_lines

__all__ = ["CSV_COLUMNS", "ExportFormat", "chain", "stream_csv", "stream_json"]

ExportFormat = Literal["csv", "json"]
CSV_COLUMNS = (
    "id",
    "occurred_at",
    "action",
    "outcome",
    "actor_type",
    "actor_id",
    "resource_type",
    "resource_id",
    "ip",
    "request_id",
    "details",
)
_encode = msgspec.json.Encoder().encode


def _csv_row(record: AuditRecord) -> list[str]:
    builtins = msgspec.to_builtins(record)
    row = [csv_cell(builtins[column]) for column in CSV_COLUMNS[:-1]]
    row.append(_encode(record.details).decode())
    return row


async def chain(
    first: list[AuditRecord], rest: AsyncIterator[list[AuditRecord]]
) -> AsyncIterator[list[AuditRecord]]:
    """``first`` (already fetched, so errors surface before streaming) followed by ``rest``."""
    if first:
        yield first
    async for batch in rest:
        yield batch


async def stream_csv(batches: AsyncIterator[list[AuditRecord]]) -> AsyncIterator[bytes]:
    """The header row, then one line per event."""
    yield csv_lines([list(CSV_COLUMNS)])
    async for batch in batches:
        yield csv_lines([_csv_row(record) for record in batch])


async def stream_json(batches: AsyncIterator[list[AuditRecord]]) -> AsyncIterator[bytes]:
    """A JSON array of every event."""
    yield b"["
    separator = b""
    async for batch in batches:
        if batch:
            yield separator + _encode(batch)[1:-1]
            separator = b","
    yield b"]"
