"""Budgets with their spend bars (``GET /budgets``: a user's own and their keys', an admin's
every one), and for admins create, edit and delete (the API refuses anyone else)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromPath

from builtin_plugins.dashboard.api import ApiAnswer, ApiFailure, InternalApi
from builtin_plugins.dashboard.budget_form import PERIODS, FormError, budget_fields, owner_id
from builtin_plugins.dashboard.forms import Form, read_form, writer
from builtin_plugins.dashboard.pages_usage import owner_emails
from builtin_plugins.dashboard.render import Pages, redirect
from builtin_plugins.dashboard.session import Viewer, load_viewer
from builtin_plugins.dashboard.signed_in import LISTED, Refusal, act, listing, viewer_page
from builtin_plugins.dashboard.usage_view import money
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel

__all__ = ["BUDGET_HANDLERS"]

URL = "/dashboard/budgets"


def _path(budget_id: str) -> str:
    return f"/budgets/{quote(budget_id, safe='')}"


async def _labels(
    request: Request[Any, Any, Any], kernel: Kernel, viewer: Viewer, budgets: list[dict[str, Any]]
) -> dict[str, str]:
    users = {b["budget"]["owner_id"] for b in budgets if b["budget"]["owner_type"] == "user"}
    labels = await owner_emails(kernel, users)
    keys = await InternalApi(request, viewer.token).call("GET", "/api-keys", params={"limit": 200})
    if keys.ok and isinstance(keys.body, dict):
        labels.update({str(k["id"]): f"key {k['name']}" for k in keys.body["data"]})
    return labels


async def _list(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    refusal: Refusal | None = None,
) -> Response[Any]:
    body = await listing(InternalApi(request, viewer.token), "/budgets", LISTED)
    budgets = list(body["data"])
    return viewer_page(
        pages,
        kernel,
        viewer,
        "budgets.html",
        refusal,
        budgets=budgets,
        total=body["total"],
        labels=await _labels(request, kernel, viewer, budgets),
        money=money,
        periods=PERIODS,
    )


def _errors(answer: ApiAnswer) -> dict[str, str]:
    field = {"limit_micros": "limit"}.get(answer.param or "", answer.param or "form")
    return {field: answer.message}


@get("/budgets")
async def budgets_page(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Every budget the caller may see, with its spend in the current period."""
    return await _list(request, kernel, pages, await load_viewer(request))


async def _create_body(kernel: Kernel, form: Form) -> dict[str, Any]:
    owner_type = form.text("owner_type")
    return {
        "owner_type": owner_type,
        "owner_id": await owner_id(kernel, owner_type, form.text("owner_id")),
        **budget_fields(form),
    }


@post("/budgets")
async def create_budget(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Create a budget (admins)."""
    viewer = await writer(request, kernel)
    form = await read_form(request)
    try:
        body = await _create_body(kernel, form)
    except FormError as exc:
        refusal = Refusal(errors={exc.field: str(exc)}, status=400, form=form.fields())
        return await _list(request, kernel, pages, viewer, refusal)
    answer = await InternalApi(request, viewer.token).call("POST", "/budgets", json=body)
    if answer.ok:
        return redirect(request, URL)
    refusal = Refusal(errors=_errors(answer), status=answer.status, form=form.fields())
    return await _list(request, kernel, pages, viewer, refusal)


async def _edit(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    budget_id: str,
    refusal: Refusal | None = None,
    *,
    saved: bool = False,
) -> Response[Any]:
    answer = await InternalApi(request, viewer.token).call("GET", _path(budget_id))
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    labels = await _labels(request, kernel, viewer, [answer.body])
    return viewer_page(
        pages,
        kernel,
        viewer,
        "budget_edit.html",
        refusal,
        item=answer.body,
        labels=labels,
        money=money,
        periods=PERIODS,
        saved=saved,
    )


@get("/budgets/{budget_id:str}")
async def budget_page(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    budget_id: FromPath[str],
) -> Response[Any]:
    """One budget: its spend, and a form for admins."""
    return await _edit(request, kernel, pages, await load_viewer(request), budget_id)


@post("/budgets/{budget_id:str}")
async def update_budget(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    budget_id: FromPath[str],
) -> Response[Any]:
    """Save a budget's name, limit, period, warning threshold and hardness (admins)."""
    viewer = await writer(request, kernel)
    try:
        body = budget_fields(await read_form(request))
    except FormError as exc:
        refusal = Refusal(errors={exc.field: str(exc)}, status=400)
        return await _edit(request, kernel, pages, viewer, budget_id, refusal)
    answer = await InternalApi(request, viewer.token).call("PATCH", _path(budget_id), json=body)
    if answer.ok:
        return await _edit(request, kernel, pages, viewer, budget_id, saved=True)
    refusal = Refusal(errors=_errors(answer), status=answer.status)
    return await _edit(request, kernel, pages, viewer, budget_id, refusal)


@post("/budgets/{budget_id:str}/delete")
async def delete_budget(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], budget_id: FromPath[str]
) -> Response[Any]:
    """Remove a budget (admins)."""
    return await act(request, kernel, "DELETE", _path(budget_id), URL)


BUDGET_HANDLERS = [budgets_page, create_budget, budget_page, update_budget, delete_budget]
