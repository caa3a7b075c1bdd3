"""Users, passwords, JWT sessions and roles for the internal API."""

from __future__ import annotations

from pathlib import Path

from builtin_plugins.auth.roles import RoleCheck
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import RequestCheck

__all__ = ["PLUGIN_NAME", "VERSION"]

PLUGIN_NAME = "auth"
VERSION = "1.0.0"


@hookimpl
def enclava_migrations() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def enclava_request_checks(kernel: Kernel) -> list[RequestCheck]:
    return [RoleCheck()]
