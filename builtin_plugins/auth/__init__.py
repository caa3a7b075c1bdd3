"""Users, passwords, JWT sessions and roles for the internal API."""

from __future__ import annotations

from pathlib import Path

from builtin_plugins.auth.authenticator import JwtAuthenticator
from builtin_plugins.auth.checks import PasswordChangeCheck
from builtin_plugins.auth.cli import admin_command
from builtin_plugins.auth.directory import AccountDirectory
from builtin_plugins.auth.roles import RoleCheck
from builtin_plugins.auth.routes_auth import auth_router
from builtin_plugins.auth.service import AuthService
from builtin_plugins.auth.settings import SECTION, AuthSettings
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.services import Service, UserDirectory
from kernel.types import Authenticator, CliCommand, RequestCheck, RouteSet, SettingsSection

__all__ = ["PLUGIN_NAME", "VERSION"]

PLUGIN_NAME = "auth"
VERSION = "1.0.0"


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    return SettingsSection(name=SECTION, schema=AuthSettings)


@hookimpl
def enclava_migrations() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def enclava_startup(kernel: Kernel) -> None:
    """Load the signing key now: a bad key file stops the boot, not the first login."""
    _ = AuthService(kernel).codec


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    return RouteSet(internal=[auth_router(AuthService(kernel))])


@hookimpl
def enclava_authenticators(kernel: Kernel) -> list[Authenticator]:
    return [JwtAuthenticator(AuthService(kernel))]


@hookimpl
def enclava_request_checks(kernel: Kernel) -> list[RequestCheck]:
    return [RoleCheck(), PasswordChangeCheck()]


@hookimpl
def enclava_cli(kernel: Kernel) -> list[CliCommand]:
    return [admin_command(kernel)]


@hookimpl
def enclava_services(kernel: Kernel) -> list[Service]:
    return [Service(contract=UserDirectory, implementation=AccountDirectory(kernel))]
