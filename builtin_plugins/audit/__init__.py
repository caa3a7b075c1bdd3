"""The durable audit log: every audit and security event in SQL, searchable and exportable."""

from __future__ import annotations

from pathlib import Path

from builtin_plugins.audit.routes import AUDIT_ROUTES
from builtin_plugins.audit.store import AuditStore, SqlAuditSink
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import AuditSink, RouteSet

__all__ = [
    "PLUGIN_NAME",
    "VERSION",
    "enclava_audit_sinks",
    "enclava_migrations",
    "enclava_routes",
]

PLUGIN_NAME = "audit"
VERSION = "1.0.0"


@hookimpl
def enclava_migrations() -> str:
    """The folder of the ``audit_events`` migrations."""
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl(tryfirst=True)
def enclava_audit_sinks(kernel: Kernel) -> list[AuditSink]:
    """The SQL sink, first in line so an event is durable before anything reacts to it."""
    return [SqlAuditSink(AuditStore(kernel.stores.db))]


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    """Search and export under ``/api-internal/v1/audit``."""
    return RouteSet(internal=list(AUDIT_ROUTES))
