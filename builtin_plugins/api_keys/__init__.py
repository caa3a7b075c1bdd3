"""API keys for the public API: hashed storage, scopes, IP/model/chatbot restrictions, expiry.

Keys (``en_`` + 40 url-safe characters) authenticate ``/api/v1`` requests as
``Authorization: Bearer en_...`` or ``X-API-Key: en_...``; users manage them under
``/api-internal/v1/api-keys`` and operators with ``enclava keys``. Verified keys are cached per
replica and dropped on every replica the moment a key changes (KV channel ``api_keys.changed``).
"""

from __future__ import annotations

from pathlib import Path

from builtin_plugins.api_keys.authenticator import ApiKeyAuthenticator
from builtin_plugins.api_keys.checks import KeyRestrictionsCheck
from builtin_plugins.api_keys.cli import keys_command
from builtin_plugins.api_keys.policy import ApiKeyPolicy
from builtin_plugins.api_keys.routes import KEYS_DEPENDENCIES, ROUTES
from builtin_plugins.api_keys.runtime import ApiKeysRuntime
from builtin_plugins.api_keys.usage import FLUSH_SECONDS
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.services import KeyPolicy, Service
from kernel.types import (
    Authenticator,
    BackgroundTask,
    CliCommand,
    RequestCheck,
    RouteSet,
    SettingsSection,
)

__all__ = ["PLUGIN_NAME", "VERSION"]

PLUGIN_NAME = "api_keys"
VERSION = "1.0.0"


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    return ApiKeysRuntime.settings_section()


@hookimpl
def enclava_migrations() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
async def enclava_startup(kernel: Kernel) -> None:
    await ApiKeysRuntime.of(kernel).start()


@hookimpl
async def enclava_shutdown(kernel: Kernel) -> None:
    await ApiKeysRuntime.of(kernel).stop()


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    return RouteSet(internal=ROUTES, dependencies=KEYS_DEPENDENCIES)


@hookimpl
def enclava_authenticators(kernel: Kernel) -> list[Authenticator]:
    runtime = ApiKeysRuntime.of(kernel)
    return [
        ApiKeyAuthenticator(
            kernel, cache=runtime.cache(), pepper=runtime.pepper(), usage=runtime.usage
        )
    ]


@hookimpl
def enclava_request_checks(kernel: Kernel) -> list[RequestCheck]:
    return [KeyRestrictionsCheck(kernel)]


@hookimpl
def enclava_background_tasks(kernel: Kernel) -> list[BackgroundTask]:
    runtime = ApiKeysRuntime.of(kernel)
    return [
        BackgroundTask(
            name="last-used", interval=FLUSH_SECONDS, run=runtime.flush_usage, run_at_start=False
        )
    ]


@hookimpl
def enclava_cli(kernel: Kernel) -> list[CliCommand]:
    return [keys_command(kernel)]


@hookimpl
def enclava_services(kernel: Kernel) -> list[Service]:
    return [Service(contract=KeyPolicy, implementation=ApiKeyPolicy(kernel))]
