"""Attestation: every provider model's full current verdict (the ``AttestationOverview``
service, as ``GET /api/v1/attestation`` shows it to any caller), and for admins its history
(``/attestation/history``), the trust policy beside the values presented now
(``/attestation/trust``) and re-verification on demand (``/attestation/reverify``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery

from builtin_plugins.dashboard.api import ApiFailure, InternalApi
from builtin_plugins.dashboard.forms import writer
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.render import Pages, redirect
from builtin_plugins.dashboard.session import load_viewer
from builtin_plugins.dashboard.trust_view import rule_views
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel
from kernel.services import AttestationEntry, AttestationOverview, ServiceMissingError

__all__ = ["ATTESTATION_HANDLERS"]

URL = "/dashboard/attestation"
_HISTORY = 50


async def _entries(kernel: Kernel) -> list[AttestationEntry] | None:
    try:
        overview = kernel.service(AttestationOverview)
    except ServiceMissingError:
        return None
    return await overview.entries()


async def _admin_part(
    api: InternalApi, entries: list[AttestationEntry], provider: str, model: str
) -> dict[str, Any]:
    params = {"limit": _HISTORY, "provider": provider or None, "model": model or None}
    history = await api.call(
        "GET", "/attestation/history", params={k: v for k, v in params.items() if v}
    )
    trust = await api.call("GET", "/attestation/trust")
    if not history.ok or not trust.ok or not isinstance(trust.body, dict):
        raise ApiFailure(history if not history.ok else trust)
    return {
        "history": history.body["data"],
        "rules": rule_views(trust.body, entries),
        "how_to_allow": trust.body.get("how_to_allow", ""),
    }


@get("/attestation")
async def attestation_page(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    provider: FromQuery[str] = "",
    model: FromQuery[str] = "",
) -> Response[Any]:
    """Current verdicts; for admins the history (of one provider or model) and trust policy."""
    viewer = await load_viewer(request)
    entries = await _entries(kernel)
    admin: dict[str, Any] = {"history": [], "rules": [], "how_to_allow": ""}
    if viewer.is_admin and entries is not None:
        api = InternalApi(request, viewer.token)
        admin = await _admin_part(api, entries, provider, model)
    return pages.page(
        "attestation.html",
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        entries=entries,
        provider=provider,
        model=model,
        **admin,
    )


@post("/attestation/reverify")
async def reverify(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel]
) -> Response[Any]:
    """Attest every model now (admins)."""
    viewer = await writer(request, kernel)
    answer = await InternalApi(request, viewer.token).call("POST", "/attestation/reverify")
    if not answer.ok:
        raise ApiFailure(answer)
    return redirect(request, URL)


ATTESTATION_HANDLERS = [attestation_page, reverify]
