"""What the usage page shows, from the internal API's ``/usage/aggregate`` and ``/usage/top``
(a user sees their own usage, an admin everyone's): the range asked for, the totals, a series by
day for the chart and shares by model, provider and key."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from builtin_plugins.dashboard.api import ApiFailure, InternalApi

__all__ = [
    "Range",
    "Share",
    "UsageView",
    "day_range",
    "money",
    "rollup",
    "shares",
    "usage_view",
]

DEFAULT_DAYS = 30
MAX_DAYS = 366
_ROWS = 1000


class Range(msgspec.Struct, frozen=True, kw_only=True):
    """Whole UTC days ``first``..``last`` (inclusive), as the form shows them."""

    first: date
    last: date

    def params(self) -> dict[str, str]:
        start = datetime.combine(self.first, time(), UTC)
        end = datetime.combine(self.last + timedelta(days=1), time(), UTC)
        return {"start": start.isoformat(), "end": end.isoformat()}


class Share(msgspec.Struct, frozen=True, kw_only=True):
    """One group's sums and its share of the largest group's cost (for its bar)."""

    name: str
    label: str
    requests: int
    tokens: int
    cost: str
    percent: int


class UsageView(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    requests: int
    tokens: int
    cost: str
    days: list[tuple[str, int, float]]
    """(ISO day, requests, cost) for the chart, oldest first."""
    by: dict[str, list[Share]]


def money(micros: int) -> str:
    return f"{Decimal(micros) / Decimal(1_000_000):.4f}"


def _day(text: str, fallback: date) -> date:
    try:
        return date.fromisoformat(text) if text else fallback
    except ValueError:
        return fallback


def day_range(first: str, last: str, today: date | None = None) -> Range:
    """The range the form asks for (bad or missing dates: the last 30 days; at most a year)."""
    today = today or datetime.now(UTC).date()
    end = _day(last, today)
    start = _day(first, end - timedelta(days=DEFAULT_DAYS - 1))
    start, end = min(start, end), max(start, end)
    return Range(first=max(start, end - timedelta(days=MAX_DAYS - 1)), last=end)


def shares(rows: list[dict[str, Any]], group: str, labels: dict[str, str]) -> list[Share]:
    """Rows of one grouping, costliest first, each with its bar's length."""
    rows = sorted(rows, key=lambda r: (-int(r["cost_micros"]), -int(r["requests"])))
    top_cost = max((int(r["cost_micros"]) for r in rows), default=0)
    top_requests = max((int(r["requests"]) for r in rows), default=0)
    result = []
    for row in rows:
        name = str(row["group"].get(group) or "—")
        if top_cost:
            percent = round(100 * int(row["cost_micros"]) / top_cost)
        else:
            percent = round(100 * int(row["requests"]) / top_requests) if top_requests else 0
        result.append(
            Share(
                name=name,
                label=labels.get(name, name),
                requests=int(row["requests"]),
                tokens=int(row["total_tokens"]),
                cost=money(int(row["cost_micros"])),
                percent=percent,
            )
        )
    return result


_SUMS = ("requests", "prompt_tokens", "completion_tokens", "total_tokens", "cost_micros")
_FINE = "day,model,provider,key"


async def _rows(
    api: InternalApi, group: str, span: Range
) -> tuple[list[dict[str, Any]], str, bool]:
    """(the rows of ``group``, the currency, whether every row came in one page)."""
    params = {"group_by": group, "limit": _ROWS, **span.params()}
    answer = await api.call("GET", "/usage/aggregate", params=params)
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    rows = list(answer.body["data"])
    return rows, str(answer.body["currency"]), int(answer.body["total"]) <= len(rows)


def rollup(rows: list[dict[str, Any]], group: str) -> list[dict[str, Any]]:
    """Rows of a finer grouping summed by ``group`` alone."""
    sums: dict[Any, dict[str, Any]] = {}
    for row in rows:
        name = row["group"].get(group)
        into = sums.setdefault(name, {"group": {group: name}, **dict.fromkeys(_SUMS, 0)})
        for field in _SUMS:
            into[field] += int(row[field])
    return list(sums.values())


async def _groupings(api: InternalApi, span: Range) -> tuple[dict[str, list[dict[str, Any]]], str]:
    """Rows by day, model, provider and key: one fine-grained call summed here when it fits in
    one page (the usual case), else one call per grouping."""
    rows, currency, complete = await _rows(api, _FINE, span)
    groups = _FINE.split(",")
    if complete:
        return {group: rollup(rows, group) for group in groups}, currency
    found = await asyncio.gather(*(_rows(api, group, span) for group in groups))
    return {group: rows for group, (rows, _, _) in zip(groups, found, strict=True)}, currency


async def usage_view(api: InternalApi, span: Range, key_names: dict[str, str]) -> UsageView:
    """The usage in ``span`` as the caller may see it."""
    grouped, currency = await _groupings(api, span)
    day_rows = grouped["day"]
    by = {
        group: shares(grouped[group], group, key_names if group == "key" else {})
        for group in ("model", "provider", "key")
    }
    found = {str(r["group"]["day"])[:10]: r for r in day_rows}
    days = []
    for offset in range((span.last - span.first).days + 1):
        day = (span.first + timedelta(days=offset)).isoformat()
        row = found.get(day, {"requests": 0, "cost_micros": 0})
        days.append((day, int(row["requests"]), int(row["cost_micros"]) / 1_000_000))
    return UsageView(
        currency=currency,
        requests=sum(r["requests"] for r in day_rows),
        tokens=sum(r["total_tokens"] for r in day_rows),
        cost=money(sum(r["cost_micros"] for r in day_rows)),
        days=days,
        by=by,
    )
