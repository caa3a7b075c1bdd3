"""Security schemes, per surface, from the authenticators that enabled plugins contribute.

An authenticator documents how clients send its credential with ``security_schemes`` (optional:
without it, it still authenticates, undocumented). An operation on a surface then requires any
one of the schemes of that surface's authenticators; routes on the root surface and routes marked
``enclava_anonymous`` require none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from litestar.openapi.spec import SecurityScheme

from kernel.types import ApiSurface

__all__ = ["DocumentedAuthenticator", "SecurityRequirements", "security_by_surface"]

SecurityRequirements = dict[ApiSurface, list[dict[str, list[str]]]]
"""Per surface, the alternatives an operation lists under ``security`` (any one suffices)."""


@runtime_checkable
class DocumentedAuthenticator(Protocol):
    """An :class:`~kernel.types.Authenticator` that names its OpenAPI security schemes."""

    surfaces: frozenset[ApiSurface]
    security_schemes: Mapping[str, SecurityScheme]


def security_by_surface(
    authenticators: Iterable[object],
) -> tuple[dict[str, Any], SecurityRequirements]:
    """``components.securitySchemes`` and, per surface, the requirement alternatives."""
    schemes: dict[str, Any] = {}
    requirements: SecurityRequirements = {}
    for authenticator in authenticators:
        if not isinstance(authenticator, DocumentedAuthenticator):
            continue
        for name, scheme in authenticator.security_schemes.items():
            schemes[name] = scheme.to_schema()
            for surface in sorted(authenticator.surfaces):
                alternatives = requirements.setdefault(surface, [])
                if {name: []} not in alternatives:
                    alternatives.append({name: []})
    return schemes, requirements
