"""Budget periods, calendar-aligned in the configured timezone.

Days start at local midnight, weeks on Monday at midnight, months on the 1st; ``total`` never
resets. A period is named by its local start date (``2026-11-27``), which keys its counter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

__all__ = ["PERIODS", "Period", "PeriodWindow", "window"]

Period = Literal["daily", "weekly", "monthly", "total"]
PERIODS: tuple[Period, ...] = ("daily", "weekly", "monthly", "total")


class PeriodWindow(msgspec.Struct, frozen=True):
    """The period containing a moment: its label and bounds (None for ``total``)."""

    label: str
    start: datetime | None
    end: datetime | None

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in this bounded window (``total`` has no bounds: False)."""
        return self.start is not None and self.end is not None and self.start <= moment < self.end


def _start(period: Period, local: datetime) -> datetime:
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "weekly":
        return midnight - timedelta(days=midnight.weekday())
    if period == "monthly":
        return midnight.replace(day=1)
    return midnight


def _next(period: Period, start: datetime) -> datetime:
    if period == "daily":
        following = start.date() + timedelta(days=1)
    elif period == "weekly":
        following = start.date() + timedelta(days=7)
    elif start.month == 12:
        following = start.date().replace(year=start.year + 1, month=1)
    else:
        following = start.date().replace(month=start.month + 1)
    # Rebuild from the date so a DST change inside the period keeps midnight at midnight.
    return datetime(following.year, following.month, following.day, tzinfo=start.tzinfo)


def window(period: Period, now: datetime, zone: ZoneInfo) -> PeriodWindow:
    """The ``period`` containing ``now`` (aware), with UTC bounds."""
    if period == "total":
        return PeriodWindow(label="total", start=None, end=None)
    local = now.astimezone(zone)
    start = _start(period, local)
    start = datetime(start.year, start.month, start.day, tzinfo=zone)
    end = _next(period, start)
    return PeriodWindow(
        label=start.date().isoformat(), start=start.astimezone(UTC), end=end.astimezone(UTC)
    )
