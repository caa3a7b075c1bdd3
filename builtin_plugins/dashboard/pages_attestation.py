"""Attestation: every provider model's full current verdict (the ``AttestationOverview``
service, as ``GET /api/v1/attestation`` shows it to any caller), and for admins its history
(``/attestation/history``), the trust policy beside the values presented now
(``/attestation/trust``), adding and removing run-time trust rules (``POST`` and ``DELETE``
there: validated, audited and refused to non-admins by the API) and re-verification on demand
(``/attestation/reverify``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from builtin_plugins.dashboard.api import ApiFailure, InternalApi
from builtin_plugins.dashboard.forms import read_form, writer
from builtin_plugins.dashboard.render import Pages, redirect
from builtin_plugins.dashboard.session import Viewer, load_viewer
from builtin_plugins.dashboard.signed_in import Refusal, act, viewer_page
from builtin_plugins.dashboard.trust_form import WORKLOAD_FIELDS, prefilled, rule_body, rule_errors
from builtin_plugins.dashboard.trust_view import rule_views
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel
from kernel.services import AttestationEntry, AttestationOverview, ServiceMissingError

__all__ = ["ATTESTATION_HANDLERS"]

URL = "/dashboard/attestation"
_POLICY_URL = f"{URL}#trust-policy"
_HISTORY = 50
_INLINE = frozenset({400, 409, 422})
"""Refusals shown next to the form; any other (403 for non-admins) is an error page."""


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


async def _page(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    refusal: Refusal | None = None,
    *,
    history_of: tuple[str, str] = ("", ""),
    fill: tuple[str, str] = ("", ""),
) -> Response[Any]:
    entries = await _entries(kernel)
    admin: dict[str, Any] = {"history": [], "rules": [], "how_to_allow": ""}
    if viewer.is_admin and entries is not None:
        admin = await _admin_part(InternalApi(request, viewer.token), entries, *history_of)
    shown = refusal.form if refusal else prefilled(entries or [], *fill)
    return viewer_page(
        pages,
        kernel,
        viewer,
        "attestation.html",
        refusal,
        entries=entries,
        provider=history_of[0],
        model=history_of[1],
        trust_form=shown,
        workload_fields=WORKLOAD_FIELDS,
        **admin,
    )


@get("/attestation")
async def attestation_page(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    provider: FromQuery[str] = "",
    model: FromQuery[str] = "",
    fill_provider: FromQuery[str] = "",
    fill_model: FromQuery[str] = "",
) -> Response[Any]:
    """Current verdicts; for admins the history (of one provider or model), the trust policy
    and the add-a-rule form (filled with what ``fill_model`` on ``fill_provider`` presents)."""
    viewer = await load_viewer(request)
    return await _page(
        request,
        kernel,
        pages,
        viewer,
        history_of=(provider, model),
        fill=(fill_provider, fill_model),
    )


@post("/attestation/reverify")
async def reverify(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel]
) -> Response[Any]:
    """Attest every model now (admins)."""
    return await act(request, kernel, "POST", "/attestation/reverify", URL)


@post("/attestation/trust")
async def add_trust_rule(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Add a run-time trust rule of one workload (admins); a refusal shows next to its field."""
    viewer = await writer(request, kernel)
    form = await read_form(request)
    api = InternalApi(request, viewer.token)
    answer = await api.call("POST", "/attestation/trust", json=rule_body(form))
    if answer.ok:
        return redirect(request, _POLICY_URL)
    if answer.status not in _INLINE:
        raise ApiFailure(answer)
    refusal = Refusal(errors=rule_errors(answer), status=answer.status, form=form.fields())
    return await _page(request, kernel, pages, viewer, refusal)


@post("/attestation/trust/{rule_id:int}/remove")
async def remove_trust_rule(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], rule_id: FromPath[int]
) -> Response[Any]:
    """Remove a rule added at run time (admins); models it alone allowed are refused again."""
    return await act(request, kernel, "DELETE", f"/attestation/trust/{rule_id}", _POLICY_URL)


ATTESTATION_HANDLERS = [attestation_page, reverify, add_trust_rule, remove_trust_rule]
