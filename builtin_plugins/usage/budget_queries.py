"""The ``BudgetQueries`` service: budgets and recorded spend for other plugins (the dashboard)."""

from __future__ import annotations

from datetime import datetime

from builtin_plugins.usage.budget_store import OwnerType, budgets_for
from builtin_plugins.usage.queries import RecordFilter, recorded_cost
from builtin_plugins.usage.runtime import runtime_for
from builtin_plugins.usage.status import budget_status
from kernel.runtime import Kernel
from kernel.services import BudgetStatus, ChatbotDirectory, KeyPolicy, ServiceMissingError
from kernel.types import Principal

__all__ = ["UsageBudgetQueries", "owners_of_user"]


async def owners_of_user(kernel: Kernel, user_id: str) -> list[tuple[OwnerType, str]]:
    """The user, every key and every chatbot of that user: whom their budgets may be on."""
    keys = await kernel.service(KeyPolicy).key_ids_owned_by(user_id)
    owners: list[tuple[OwnerType, str]] = [("user", user_id), *(("api_key", k) for k in keys)]
    try:
        directory = kernel.service(ChatbotDirectory)
    except ServiceMissingError:  # the chatbots plugin is disabled: no chatbot spends
        return owners
    owners.extend(("chatbot", bot) for bot in await directory.chatbot_ids_owned_by(user_id))
    return owners


class UsageBudgetQueries:
    """Implements :class:`kernel.services.BudgetQueries` over the usage plugin's tables."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel

    async def budgets_of(self, principal: Principal) -> list[BudgetStatus]:
        runtime = runtime_for(self._kernel)
        owners = await owners_of_user(self._kernel, principal.owner_id)
        budgets = await budgets_for(self._kernel.stores.db, owners)
        user = principal.owner_id  # owns every key and chatbot budget found above
        return [await budget_status(runtime, budget, user=user) for budget in budgets]

    async def spent_since(self, owner_id: str, since: datetime) -> int:
        record_filter = RecordFilter(start=since, user_id=owner_id)
        return await recorded_cost(self._kernel.stores.db, record_filter)
