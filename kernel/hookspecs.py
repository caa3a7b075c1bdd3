"""Every extension point of Enclava, and nothing else.

Hooks are registration points: the kernel calls them at startup and again whenever a plugin is
enabled or disabled, and keeps what they return in an immutable component snapshot. The hot path
never dispatches hooks per request. Collect hooks return a list (or None for "nothing"); the one
firstresult hook is synchronous and side-effect free. Every hook is called with keyword
arguments only (pluggy's rule: ``pm.hook.enclava_routes(kernel=...)``) and an implementation
takes any subset of the spec's arguments by name, so hooks grow by adding arguments, never by
changing them. Each spec's docstring describes each of its arguments
(``tests/kernel/test_hookspecs.py`` checks it, and that README's hook table lists them).

Arguments used throughout:

* ``kernel`` — the running :class:`~kernel.runtime.Kernel`: settings, stores (once started),
  ``service(Protocol)`` for other plugins' services, ``audit(event)``, ``stash``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from kernel.exchange import ChatFilter, ExchangeGuard, UsageSink
    from kernel.observe import RequestObserver
    from kernel.runtime import Kernel
    from kernel.services import Service
    from kernel.types import (
        AuditSink,
        Authenticator,
        BackgroundTask,
        CliCommand,
        RequestCheck,
        RouteSet,
        ServeOption,
        SettingsSection,
        ToggleVeto,
    )
    from kernel.upstream import Provider, Verifier

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "enclava"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def enclava_settings_schema() -> SettingsSection | None:
    """Collect, sync, called before settings load: this plugin's settings section or None."""


@hookspec
def enclava_migrations() -> str | None:
    """Collect, sync: the path of this plugin's Alembic version folder, or None if it has no tables.

    The folder's first revision carries ``branch_labels = ("<plugin name>",)``; cross-plugin order
    is expressed with Alembic ``depends_on``.
    """


@hookspec
def enclava_startup(kernel: Kernel) -> Awaitable[None] | None:
    """Collect, called after storage is ready and when the plugin is enabled: awaitable or None.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_shutdown(kernel: Kernel) -> Awaitable[None] | None:
    """Collect, called at shutdown and when the plugin is disabled: awaitable or None.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_routes(kernel: Kernel) -> RouteSet | None:
    """Collect, sync, called once when the app is built: this plugin's route handlers.

    Routes of a disabled plugin answer 404; they come back when it is enabled.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_authenticators(kernel: Kernel) -> Sequence[Authenticator] | None:
    """Collect, sync: authenticators tried in order until one returns a Principal.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_request_checks(kernel: Kernel) -> Sequence[RequestCheck] | None:
    """Collect, sync: checks every authenticated request passes, sorted by their ``order``.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_providers(kernel: Kernel) -> Sequence[Provider] | None:
    """Collect, sync: inference provider adapters.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_toggle_vetoes(kernel: Kernel) -> Sequence[ToggleVeto] | None:
    """Collect, sync: objects asked before any plugin is enabled or disabled (internal API and
    CLI alike); one that answers a reason refuses the toggle with 409. Asked of every registered
    plugin, enabled or not, so a plugin can guard its own disabling.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_provider_regions(kernel: Kernel) -> Sequence[str] | None:
    """Collect, sync: the regions this plugin's provider serves as configured, whether or not it
    is active now — what API keys and routing policies may require (``Kernel.provider_regions``).

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_attestation_verifiers(kernel: Kernel) -> Sequence[Verifier] | None:
    """Collect, sync: attestation verifiers, one per provider kind.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec(firstresult=True)
def enclava_route_model(
    kernel: Kernel, request: Any, candidates: Sequence[Any]
) -> Sequence[Any] | None:
    """Firstresult, sync, side-effect free: reorder routing candidates, or None to keep them.

    ``kernel``: the kernel asking. ``request``: the requested model id. ``candidates``: the
    usable routes (healthy, circuit closed, attested), in priority order.
    """


@hookspec
def enclava_chat_filters(kernel: Kernel) -> Sequence[ChatFilter] | None:
    """Collect, sync: chat request/response filters, applied by ascending ``order``.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_exchange_guards(kernel: Kernel) -> Sequence[ExchangeGuard] | None:
    """Collect, sync: guards admitting every model call and told how it ended, by ``order``.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_usage_sinks(kernel: Kernel) -> Sequence[UsageSink] | None:
    """Collect, sync: sinks receiving usage records off the hot path.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_request_observers(kernel: Kernel) -> Sequence[RequestObserver] | None:
    """Collect, sync: observers told of every routed request once its response is complete
    (surface, route template, method, status, duration, error code); see :mod:`kernel.observe`.
    With none enabled the hot path pays nothing for them.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_audit_sinks(kernel: Kernel) -> Sequence[AuditSink] | None:
    """Collect, sync: sinks every audit/security event is written to (``Kernel.audit``).

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_background_tasks(kernel: Kernel) -> Sequence[BackgroundTask] | None:
    """Collect, sync: periodic tasks the kernel runs while the plugin is enabled.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_services(kernel: Kernel) -> Sequence[Service] | None:
    """Collect, sync: the contracts (Protocols of :mod:`kernel.services`) this plugin fulfils for
    the others, one :class:`~kernel.services.Service` each; a contract has one provider.

    Also called for disabled plugins when a lookup fails, to name the plugin that would provide
    the contract: return cheap objects that reach the plugin's state only when used.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_cli(kernel: Kernel) -> Sequence[CliCommand] | None:
    """Collect, sync: extra ``enclava`` subcommands.

    ``kernel``: the kernel asking (see the module docstring).
    """


@hookspec
def enclava_serve_options() -> Sequence[ServeOption] | None:
    """Collect, sync, called when the ``enclava`` parser is built: extra ``serve`` flags, or None.

    A given flag's ``prepare`` runs before migrations; the variables it returns reach the server
    process (and every worker) like the command line's own overrides.
    """
