"""``/api-internal/v1/budgets``: admins attach budgets to users, keys, chatbots
(``owner_type = "chatbot"``: every call through it, whoever makes it) and sandboxed plugins
(``owner_type = "plugin"``, ``owner_id`` = its name: what its ``llm-chat`` calls spend); users
read their own.

A user sees budgets on their account, their own keys and their own chatbots; another user's
budget answers 404, exactly like a missing one. Every change is audited and reaches every
replica at once.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from builtin_plugins.usage.access import caller
from builtin_plugins.usage.budget_queries import owners_of_user
from builtin_plugins.usage.budget_store import (
    Budget,
    OwnerType,
    delete_budget,
    get_budget,
    insert_budget,
    list_budgets,
    update_budget,
)
from builtin_plugins.usage.payloads import (
    BudgetInput,
    BudgetPage,
    BudgetUpdate,
    BudgetView,
    checked_budget_fields,
)
from builtin_plugins.usage.runtime import UsageRuntime
from builtin_plugins.usage.status import budget_status
from kernel.audit import event_from_context
from kernel.dependencies import NamedDependency
from kernel.errors import InvalidRequestError, NotFoundError
from kernel.gate import request_context
from kernel.roles import is_admin

__all__ = ["BUDGET_ROUTES"]

Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**31 - 1)]
ADMIN = {"enclava_role": "admin"}


async def _visible(request: Request[Any, Any, Any], usage: UsageRuntime, budget_id: str) -> Budget:
    principal = caller(request)
    budget = await get_budget(usage.kernel.stores.db, budget_id)
    if (
        budget is not None
        and not is_admin(principal)
        and (budget.owner_type, budget.owner_id)
        not in await owners_of_user(usage.kernel, principal.owner_id)
    ):
        budget = None
    if budget is None:
        raise NotFoundError(f"No budget with id '{budget_id}'.")
    return budget


async def _changed(
    request: Request[Any, Any, Any], usage: UsageRuntime, action: str, budget: Budget
) -> None:
    await usage.announce()
    event = event_from_context(
        request_context(request.scope),
        action=action,
        outcome="success",
        resource_type="budget",
        resource_id=budget.id,
        details={
            "owner_type": budget.owner_type,
            "owner_id": budget.owner_id,
            "limit_micros": budget.limit_micros,
            "period": budget.period,
            "hard": budget.hard,
        },
    )
    await usage.kernel.audit(event)


async def _view(usage: UsageRuntime, budget: Budget) -> BudgetView:
    return BudgetView(budget=budget, status=await budget_status(usage, budget))


@post("/budgets", opt=ADMIN)
async def create_budget(
    request: Request[Any, Any, Any],
    usage: NamedDependency[UsageRuntime],
    data: JSONBody[BudgetInput],
) -> BudgetView:
    """Attach a budget to a user, an API key, a chatbot or a plugin (admins)."""
    if data.owner_type == "chatbot" and await usage.chatbot_owner(data.owner_id) is None:
        raise InvalidRequestError(f"No chatbot with id '{data.owner_id}'.", param="owner_id")
    budget = await insert_budget(
        usage.kernel.stores.db, msgspec.structs.asdict(data), caller(request).owner_id
    )
    await _changed(request, usage, "budget.create", budget)
    return await _view(usage, budget)


@get("/budgets")
async def list_budget_route(
    request: Request[Any, Any, Any],
    usage: NamedDependency[UsageRuntime],
    limit: Limit = 50,
    offset: Offset = 0,
    owner_type: FromQuery[OwnerType | None] = None,
    owner_id: FromQuery[str | None] = None,
) -> BudgetPage:
    """Budgets newest first: the caller's own (and their keys'), or any for admins."""
    principal = caller(request)
    owners: list[tuple[OwnerType, str]] | None = None
    if not is_admin(principal):
        owners = await owners_of_user(usage.kernel, principal.owner_id)
    if owner_type is not None and owner_id is not None:
        wanted = (owner_type, owner_id)
        owners = [wanted] if owners is None or wanted in owners else []
    budgets, total = await list_budgets(
        usage.kernel.stores.db, owners=owners, limit=limit, offset=offset
    )
    views = [await _view(usage, budget) for budget in budgets]
    return BudgetPage(data=views, total=total, limit=limit, offset=offset)


@get("/budgets/{budget_id:str}")
async def get_budget_route(
    request: Request[Any, Any, Any], usage: NamedDependency[UsageRuntime], budget_id: FromPath[str]
) -> BudgetView:
    """One budget with its current status."""
    return await _view(usage, await _visible(request, usage, budget_id))


@patch("/budgets/{budget_id:str}", opt=ADMIN)
async def update_budget_route(
    request: Request[Any, Any, Any],
    usage: NamedDependency[UsageRuntime],
    budget_id: FromPath[str],
    data: JSONBody[BudgetUpdate],
) -> BudgetView:
    """Change a budget's name, limit, period, warning threshold or hardness (admins)."""
    await _visible(request, usage, budget_id)
    changes = checked_budget_fields(msgspec.structs.asdict(data))
    budget = await update_budget(usage.kernel.stores.db, budget_id, changes)
    if budget is None:
        raise NotFoundError(f"No budget with id '{budget_id}'.")
    await _changed(request, usage, "budget.update", budget)
    return await _view(usage, budget)


@delete("/budgets/{budget_id:str}", opt=ADMIN)
async def delete_budget_route(
    request: Request[Any, Any, Any], usage: NamedDependency[UsageRuntime], budget_id: FromPath[str]
) -> None:
    """Remove a budget (admins); its owner is no longer limited by it."""
    budget = await _visible(request, usage, budget_id)
    await delete_budget(usage.kernel.stores.db, budget_id)
    await _changed(request, usage, "budget.delete", budget)


BUDGET_ROUTES = [
    create_budget,
    list_budget_route,
    get_budget_route,
    update_budget_route,
    delete_budget_route,
]
