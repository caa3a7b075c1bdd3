"""Attestation history in SQL: one row per attestation outcome (table ``attestation_history``),
with the workload the quote measured, so refused workloads can be reviewed and allowed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import msgspec
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from builtin_plugins.attestation.verdicts import Verdict
from kernel.errors import StoreUnavailableError
from kernel.storage.sql import Database

__all__ = ["HistoryEntry", "HistoryStore", "attestation_history", "signing_key"]

log = logging.getLogger(__name__)
metadata = MetaData()

attestation_history = Table(
    "attestation_history",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("checked_at", DateTime(timezone=True), nullable=False, index=True),
    Column("provider", String(64), nullable=False),
    Column("model", String(256), nullable=False),
    Column("scheme", String(16), nullable=False),
    Column("valid", Boolean, nullable=False),
    Column("tcb_status", String(64), nullable=False),
    Column("gpu_checked", Boolean, nullable=False),
    Column("signing_key", String(128), nullable=False),
    Column("reason", String(512), nullable=False),
    Column("measurements", Text, nullable=False, server_default="{}"),
)


class HistoryEntry(msgspec.Struct, kw_only=True):
    """One recorded attestation."""

    id: int
    checked_at: datetime
    provider: str
    model: str
    scheme: str
    verdict: str
    tcb_status: str
    gpu_checked: bool
    signing_key: str
    reason: str
    measurements: dict[str, str] = {}


def signing_key(verdict: Verdict) -> str:
    """The key a verdict attests: the legacy signing address, or the aci/1 keyset digest."""
    return verdict.signing_address or verdict.keyset_digest


class HistoryStore:
    """Appends and lists attestation outcomes."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, verdict: Verdict) -> None:
        """Append ``verdict``; a database failure is logged, never raised."""
        values = {
            "checked_at": datetime.fromtimestamp(verdict.checked_at, UTC),
            "provider": verdict.provider[:64],
            "model": verdict.model[:256],
            "scheme": verdict.scheme[:16],
            "valid": verdict.valid,
            "tcb_status": verdict.tcb_status[:64],
            "gpu_checked": verdict.gpu_checked,
            "signing_key": signing_key(verdict)[:128],
            "reason": verdict.reason[:512],
            "measurements": msgspec.json.encode(verdict.measurements).decode(),
        }
        try:
            async with self._db.session() as session:
                await session.execute(attestation_history.insert().values(**values))
        except (SQLAlchemyError, StoreUnavailableError) as exc:
            log.error("attestation history not recorded: %s", type(exc).__name__)

    async def recent(
        self, *, limit: int, provider: str | None = None, model: str | None = None
    ) -> list[HistoryEntry]:
        """The newest ``limit`` entries, optionally for one provider and/or model."""
        query = select(attestation_history).order_by(attestation_history.c.id.desc())
        if provider:
            query = query.where(attestation_history.c.provider == provider)
        if model:
            query = query.where(attestation_history.c.model == model)
        async with self._db.session() as session:
            rows = (await session.execute(query.limit(limit))).mappings().all()
        return [
            HistoryEntry(
                id=row["id"],
                checked_at=_aware(row["checked_at"]),
                provider=row["provider"],
                model=row["model"],
                scheme=row["scheme"],
                verdict="valid" if row["valid"] else "invalid",
                tcb_status=row["tcb_status"],
                gpu_checked=row["gpu_checked"],
                signing_key=row["signing_key"],
                reason=row["reason"],
                measurements=msgspec.json.decode(row["measurements"] or "{}", type=dict[str, str]),
            )
            for row in rows
        ]


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every one stored here is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
