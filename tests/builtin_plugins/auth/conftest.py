"""The auth plugin's apps: the kernel with health + auth, and a sink recording audit events."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar

from kernel.app import create_app
from kernel.hookspecs import hookimpl
from kernel.plugins import PluginManager
from kernel.settings import Settings
from kernel.types import AuditEvent, AuditSink

API = "/api-internal/v1"


class AuditRecorder:
    """A plugin whose audit sink keeps every event in memory."""

    PLUGIN_NAME = "audit_recorder"
    name = "audit-recorder"

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def write(self, event: AuditEvent) -> None:
        self.events.append(event)

    @hookimpl
    def enclava_audit_sinks(self, kernel: Any) -> list[AuditSink]:
        return [self]

    def actions(self) -> list[tuple[str, str]]:
        return [(e.action, e.outcome) for e in self.events]


@pytest.fixture
def audit() -> AuditRecorder:
    return AuditRecorder()


@pytest.fixture
def make_app(audit: AuditRecorder):  # type: ignore[no-untyped-def]
    """``make_app(settings, *extra)``: an app with only health, auth, the audit recorder and
    ``extra`` plugins."""

    def build(settings: Settings, *extra: object) -> Litestar:
        plugins = PluginManager(
            builtins=("builtin_plugins.health", "builtin_plugins.auth"),
            essential={"health", "auth"},
            extra=(audit, *extra),
            load_entry_points=False,
        )
        return create_app(settings, plugins=plugins)

    return build
