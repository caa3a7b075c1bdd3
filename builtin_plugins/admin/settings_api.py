"""``/api-internal/v1/settings``: effective settings (secrets masked); plugin sections editable.

Kernel sections (server, database, redis, ...) need a restart and are read-only here.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, put
from litestar.params import JSONBody

from kernel.audit import event_from_context
from kernel.dependencies import NamedDependency
from kernel.errors import ConflictError, InvalidRequestError
from kernel.gate import request_context
from kernel.runtime import Kernel
from kernel.settings import masked_settings

__all__ = ["SETTINGS_ROUTES", "SettingsView"]


class SettingsView(msgspec.Struct):
    """Effective settings and which sections can change at runtime."""

    values: dict[str, Any]
    editable: list[str]
    source: str


def _view(kernel: Kernel) -> SettingsView:
    return SettingsView(
        values=masked_settings(kernel.settings),
        editable=sorted(kernel.settings.sections),
        source=kernel.settings.source,
    )


@get("/settings", opt={"enclava_role": "admin"})
async def get_settings(kernel: NamedDependency[Kernel]) -> SettingsView:
    """Everything in effect on this replica, secrets masked."""
    return _view(kernel)


def _validate(kernel: Kernel, data: dict[str, Any]) -> None:
    for section, values in data.items():
        if section not in kernel.settings.sections:
            if section in msgspec.to_builtins(kernel.settings.kernel):
                raise ConflictError(
                    f"Settings section [{section}] needs a restart: change the config file "
                    "or environment instead.",
                    param=section,
                )
            raise InvalidRequestError(f"Unknown settings section [{section}].", param=section)
        if not isinstance(values, dict):
            raise InvalidRequestError(f"[{section}] must be an object.", param=section)


@put("/settings", opt={"enclava_role": "admin"})
async def put_settings(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], data: JSONBody[dict[str, Any]]
) -> SettingsView:
    """Change plugin sections: ``{"section": {"key": value}}``; applies on every replica."""
    _validate(kernel, data)
    for section, values in data.items():
        await kernel.update_section(section, values)
    await kernel.audit(
        event_from_context(
            request_context(request.scope),
            action="settings.update",
            outcome="success",
            resource_type="settings",
            details={"sections": {name: sorted(values) for name, values in data.items()}},
        )
    )
    return _view(kernel)


SETTINGS_ROUTES = [get_settings, put_settings]
