"""Alembic migrations, run by ``enclava migrate`` and at every start.

The kernel and each plugin own an Alembic version folder (a branch labelled with their name);
``upgrade heads`` applies them all in dependency order. On PostgreSQL an advisory lock makes
replicas starting together migrate one at a time. When ``alembic_version`` already holds exactly
the heads read from the version files, nothing is pending and Alembic is not even imported
(it and Mako cost ~11 MiB per process); any doubt (no table, another set) runs Alembic, and
so does an explicit ``enclava migrate`` (``thorough=True``), which Alembic then logs.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from kernel.storage.sql import Database

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["KERNEL_VERSIONS", "upgrade"]

KERNEL_VERSIONS = str(Path(__file__).resolve().parent / "migrations" / "versions")
_SCRIPT_LOCATION = str(Path(__file__).resolve().parent / "migrations")
_ADVISORY_LOCK_KEY = 0x656E636C  # "encl"
_FIELDS = frozenset({"revision", "down_revision", "depends_on"})


def _config(locations: Sequence[str]) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", _SCRIPT_LOCATION)
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join([KERNEL_VERSIONS, *locations]))
    return cfg


def _revisions(folder: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(revision, its down revisions and dependencies) of every version file in ``folder``,
    read without running it. Alembic keeps neither in ``alembic_version`` once applied."""
    for path in sorted(Path(folder).glob("*.py")):
        found: dict[str, object] = {}
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.AnnAssign | ast.Assign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if node.value is not None and _FIELDS & set(names):
                    found[names[0]] = ast.literal_eval(node.value)
        revision = found.get("revision")
        if not isinstance(revision, str):
            raise ValueError(f"{path}: no literal revision")
        yield revision, (*_names(found.get("down_revision")), *_names(found.get("depends_on")))


def _names(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
        return tuple(str(v) for v in value)
    raise ValueError(f"not a revision or a list of revisions: {value!r}")


def _heads(locations: Sequence[str]) -> frozenset[str] | None:
    """Head revisions of every version folder, or None when a file cannot be read literally."""
    try:
        pairs = [pair for folder in (KERNEL_VERSIONS, *locations) for pair in _revisions(folder)]
    except (OSError, SyntaxError, ValueError):
        return None
    parents = {down for _, downs in pairs for down in downs}
    return frozenset(revision for revision, _ in pairs if revision not in parents)


def _upgrade_sync(connection: Connection, locations: Sequence[str], thorough: bool) -> None:
    heads = None if thorough else _heads(locations)
    if heads and inspect(connection).has_table("alembic_version"):
        applied = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        if frozenset(applied) == heads:
            return
    from alembic import command

    cfg = _config(locations)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "heads")


async def upgrade(db: Database, locations: Sequence[str] = (), *, thorough: bool = False) -> None:
    """Apply every pending revision of the kernel and of ``locations`` (plugin folders);
    ``thorough`` asks Alembic even when the applied heads already match the version files."""
    async with db.reachable(), db.engine.begin() as conn:
        if db.dialect == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        await conn.run_sync(_upgrade_sync, locations, thorough)
