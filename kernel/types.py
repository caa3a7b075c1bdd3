"""Structs and protocols handed between the kernel and plugins.

Hooks return these components once, at startup or when a plugin is toggled; the hot path then
calls them as plain async objects. Providers, models and attestation verifiers have their own
module, :mod:`kernel.upstream`.
"""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import msgspec

if TYPE_CHECKING:
    from litestar import Request
    from litestar.types import ControllerRouterHandler

    from kernel.admission import Admission
    from kernel.settings import Settings
    from kernel.storage.sql import Database

__all__ = [
    "ApiSurface",
    "AuditEvent",
    "AuditOutcome",
    "AuditSink",
    "Authenticator",
    "BackgroundTask",
    "CheckPhase",
    "CliCommand",
    "Principal",
    "RequestCheck",
    "RequestContext",
    "RouteSet",
    "ServeOption",
    "SettingsSection",
    "ToggleVeto",
    "Unscoped",
]

ApiSurface = Literal["public", "internal", "root"]
"""Where a route is mounted: ``/api/v1``, ``/api-internal/v1`` or the app root."""


AuditOutcome = Literal["success", "failure", "denied"]


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Something worth a durable record: who did what to which resource, and how it ended.

    ``details`` holds ids, counts and reasons only: never secrets, prompts or completions.
    """

    action: str
    outcome: AuditOutcome
    actor_type: str = "anonymous"
    actor_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    ip: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = {}


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: an API key, a user (JWT), or a plugin acting on its own behalf.

    ``scopes`` are what the principal may call on the public surface (each public route declares
    the one it needs, see :mod:`kernel.access`). ``allowed_models`` (None: every model) and
    ``required_region`` (None: any) restrict it wherever it goes; the kernel gate enforces the
    models a route declares, the gateway the region.
    """

    kind: Literal["api_key", "user", "plugin"]
    id: str
    owner_id: str
    scopes: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    attributes: dict[str, Any] = {}
    allowed_models: frozenset[str] | None = None
    required_region: str | None = None

    def may_use_model(self, model: str) -> bool:
        """True when ``allowed_models`` admits ``model``."""
        return self.allowed_models is None or model in self.allowed_models


class Unscoped(msgspec.Struct, frozen=True):
    """The ``enclava_scope`` of a public route open to every authenticated caller, whatever its
    scopes (e.g. a key reading its own usage); ``reason`` says why, for review."""

    reason: str


class RequestContext(msgspec.Struct):
    """Per-request state kept on the request scope (never in module globals)."""

    request_id: str
    surface: ApiSurface
    client_ip: str
    principal: Principal | None = None
    response_headers: dict[str, str] = {}
    state: dict[str, Any] = {}
    started: float = 0.0
    """``time.perf_counter()`` when the gate ran, set only while request observers exist or the
    access log is on (:mod:`kernel.access_log`)."""
    status: int = 0
    """The response status, once its start was sent."""
    error_code: str | None = None
    """The ``code`` of the error the gateway answered with, if it answered one."""
    admission: Admission | None = None
    """KV steps deferred to the request's model call (:mod:`kernel.admission`), on routes that
    declare ``enclava_deferred_admission``."""


class RouteSet(msgspec.Struct, frozen=True):
    """Route handlers a plugin contributes, by surface. Paths are relative to the surface.

    ``dependencies`` (Litestar ``Provide`` objects by parameter name) are given to every handler of
    the plugin, next to the app-wide ``kernel``, ``stores`` and ``settings``
    (:mod:`kernel.dependencies`).
    """

    public: Sequence[ControllerRouterHandler] = ()
    internal: Sequence[ControllerRouterHandler] = ()
    root: Sequence[ControllerRouterHandler] = ()
    dependencies: Mapping[str, Any] = {}


class SettingsSection(msgspec.Struct, frozen=True):
    """A plugin's settings section: ``[name]`` in TOML, ``ENCLAVA_<NAME>_<KEY>`` in the env."""

    name: str
    schema: type[msgspec.Struct]


class BackgroundTask(msgspec.Struct, frozen=True):
    """A coroutine the kernel runs every ``interval`` seconds while its plugin is enabled."""

    name: str
    interval: float
    run: Callable[[], Awaitable[None]]
    run_at_start: bool = True


class CliCommand(msgspec.Struct, frozen=True):
    """A subcommand of ``enclava``: ``configure`` adds arguments, ``run`` returns the exit code."""

    name: str
    help: str
    configure: Callable[[ArgumentParser], None]
    run: Callable[[Namespace], int]


class ServeOption(msgspec.Struct, frozen=True):
    """A plugin's flag of ``enclava serve``, given or not; ``prepare`` runs when it is given.

    ``prepare(settings, configured)`` gets the settings the command line, config file and
    environment produce, and ``configured``: only the values the config file and ``ENCLAVA_*``
    variables set explicitly, by section (so a flag can refuse to override an operator's
    choice). It returns extra ``ENCLAVA_*`` variables for the server, or raises
    :class:`~kernel.errors.ConfigError` to refuse to start.
    """

    flag: str
    help: str
    prepare: Callable[[Settings, Mapping[str, Any]], Mapping[str, str]]


@runtime_checkable
class Authenticator(Protocol):
    """Turns a request's credentials into a Principal.

    Returns None when the request carries no credential this authenticator understands; raises
    :class:`~kernel.errors.AuthenticationError` when it carries one that is invalid. Optionally it
    names its OpenAPI security schemes (:class:`kernel.openapi.DocumentedAuthenticator`).
    """

    name: str
    surfaces: frozenset[ApiSurface]

    async def authenticate(self, request: Request[Any, Any, Any]) -> Principal | None: ...


CheckPhase = Literal["pre_auth", "post_auth"]
"""``pre_auth`` checks run before authenticators (IP blocks, anomalies); ``post_auth`` after."""


@runtime_checkable
class RequestCheck(Protocol):
    """A gate requests pass on its surfaces, by phase then ascending ``order``; raises to refuse.

    In ``post_auth`` the context carries the principal (None on anonymous routes).
    """

    name: str
    order: int
    phase: CheckPhase
    surfaces: frozenset[ApiSurface]

    async def check(self, request: Request[Any, Any, Any], context: RequestContext) -> None: ...


@runtime_checkable
class AuditSink(Protocol):
    """Receives audit and security events; ``write`` returns once the event is durable."""

    name: str

    async def write(self, event: AuditEvent) -> None: ...


@runtime_checkable
class ToggleVeto(Protocol):
    """May refuse a plugin toggle that would turn off a protection still in force (the usage
    plugin refuses to be disabled while hard budgets exist)."""

    async def refusal(self, db: Database, plugin: str, *, enabled: bool) -> str | None:
        """Why toggling ``plugin`` to ``enabled`` must not happen now; None allows it."""
        ...


_MOVED_TO_EXCHANGE = frozenset(
    {"ChatFilter", "Exchange", "ExchangeGuard", "TokenUsage", "UsageRecord", "UsageSink"}
)


def __getattr__(name: str) -> Any:
    """Names that moved to :mod:`kernel.exchange` and :mod:`kernel.upstream` in 0.1: still
    importable from here, with a DeprecationWarning, until 0.2. Import them from ``kernel``."""
    import importlib
    import warnings

    from kernel import upstream

    if name in _MOVED_TO_EXCHANGE:
        module = "kernel.exchange"
    elif name in upstream.__all__:
        module = "kernel.upstream"
    else:
        raise AttributeError(f"module 'kernel.types' has no attribute {name!r}")
    warnings.warn(
        f"kernel.types.{name} moved to {module}; import it from 'kernel' "
        "(kernel.types keeps it until 0.2)",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), name)
