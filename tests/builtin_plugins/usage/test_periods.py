"""Budget periods are calendar-aligned in the configured zone, across DST and year ends."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from builtin_plugins.usage.periods import window

BERLIN = ZoneInfo("Europe/Berlin")


def test_daily_starts_at_local_midnight() -> None:
    # 23:30 UTC on the 27th is 00:30 on the 28th in Berlin.
    now = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    day = window("daily", now, BERLIN)
    assert day.label == "2026-11-28"
    assert day.start == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
    assert day.end == datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
    assert window("daily", now, ZoneInfo("UTC")).label == "2026-11-27"


def test_weekly_starts_monday_and_monthly_on_the_first() -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)  # a Friday
    week = window("weekly", now, ZoneInfo("UTC"))
    assert (week.label, week.end) == ("2026-11-23", datetime(2026, 11, 30, tzinfo=UTC))
    month = window("monthly", datetime(2026, 12, 31, 23, 59, tzinfo=UTC), ZoneInfo("UTC"))
    assert (month.label, month.end) == ("2026-12-01", datetime(2027, 1, 1, tzinfo=UTC))


def test_dst_change_keeps_midnight() -> None:
    # Berlin leaves summer time on 2026-10-25: that day has 25 hours.
    day = window("daily", datetime(2026, 10, 25, 12, tzinfo=UTC), BERLIN)
    assert day.start == datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert day.end == datetime(2026, 10, 25, 23, tzinfo=UTC)


def test_total_never_resets() -> None:
    total = window("total", datetime(2026, 1, 1, tzinfo=UTC), BERLIN)
    assert (total.label, total.start, total.end) == ("total", None, None)
