"""The budget forms: amounts typed in the accounting currency become the API's micro-units, an
owner typed as an email becomes that user's id. The internal API validates the rest."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from builtin_plugins.dashboard.forms import Form
from kernel.runtime import Kernel
from kernel.services import ServiceMissingError, UserDirectory

__all__ = ["PERIODS", "FormError", "budget_fields", "owner_id"]

PERIODS = ("daily", "weekly", "monthly", "total")
_MICROS = Decimal(1_000_000)


class FormError(Exception):
    """A field the dashboard cannot even turn into JSON; shown next to it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _micros(text: str) -> int:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise FormError("limit", "The limit must be an amount such as 25 or 12.50.") from None
    if not amount.is_finite() or amount < 0:
        raise FormError("limit", "The limit must be zero or more.")
    return int(amount * _MICROS)


def _percent(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise FormError("warning_percent", "The warning threshold must be a whole percentage.")
    return int(text)


def budget_fields(form: Form) -> dict[str, Any]:
    """Name, limit, period, warning threshold and hardness from the form."""
    return {
        "name": form.text("name"),
        "limit_micros": _micros(form.text("limit")),
        "period": form.text("period") or "monthly",
        "warning_percent": _percent(form.text("warning_percent")),
        "hard": form.text("hard") == "on",
    }


async def owner_id(kernel: Kernel, owner_type: str, text: str) -> str:
    """The owner's id: a user may be given by email."""
    if owner_type != "user" or "@" not in text:
        return text
    try:
        record = await kernel.service(UserDirectory).by_email(kernel.stores.db, text)
    except ServiceMissingError:
        record = None
    if record is None:
        raise FormError("owner_id", f"No user with the email {text}.")
    return record.id
