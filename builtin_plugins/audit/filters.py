"""Audit query filters: parsed from query parameters, turned into SQL conditions."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import msgspec
from sqlalchemy import ColumnElement

from builtin_plugins.audit.models import audit_events
from kernel.errors import InvalidRequestError

__all__ = ["OUTCOMES", "AuditFilter", "conditions", "parse_filter"]

OUTCOMES = frozenset({"success", "failure", "denied"})
_ACTION = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*(\.\*)?$|^\*$")
_MAX_VALUE = 256


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which events to return; None means "any". ``action`` may end in ``.*`` (prefix match)."""

    action: str | None = None
    outcome: str | None = None
    actor_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    ip: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _timestamp(value: str | None, param: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequestError(
            f"'{param}' must be an ISO 8601 timestamp such as 2026-01-31T12:00:00Z.", param=param
        ) from None
    # Naive timestamps are read as UTC; stored times are UTC (SQLite keeps no zone).
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _text(value: str | None, param: str) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > _MAX_VALUE:
        raise InvalidRequestError(f"'{param}' is too long.", param=param)
    return value


def parse_filter(
    *,
    action: str | None = None,
    outcome: str | None = None,
    actor_id: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    ip: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> AuditFilter:
    """Validate raw query values; InvalidRequestError naming the bad parameter."""
    action = _text(action, "action")
    if action is not None and not _ACTION.match(action):
        raise InvalidRequestError(
            "'action' must be a dotted action such as 'auth.login', or a prefix such as 'auth.*'.",
            param="action",
        )
    outcome = _text(outcome, "outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidRequestError(
            f"'outcome' must be one of {', '.join(sorted(OUTCOMES))}.", param="outcome"
        )
    result = AuditFilter(
        action=None if action == "*" else action,
        outcome=outcome,
        actor_id=_text(actor_id, "actor_id"),
        resource_type=_text(resource_type, "resource_type"),
        resource_id=_text(resource_id, "resource_id"),
        ip=_text(ip, "ip"),
        since=_timestamp(since, "since"),
        until=_timestamp(until, "until"),
    )
    if result.since and result.until and result.since > result.until:
        raise InvalidRequestError("'since' must not be later than 'until'.", param="since")
    return result


def conditions(audit_filter: AuditFilter) -> list[ColumnElement[bool]]:
    """SQL conditions selecting the events ``audit_filter`` describes."""
    c = audit_events.c
    where: list[ColumnElement[bool]] = []
    action = audit_filter.action
    if action is not None and action.endswith(".*"):
        where.append(c.action.startswith(action[:-1], autoescape=True))
    elif action is not None:
        where.append(c.action == action)
    for column, value in (
        (c.outcome, audit_filter.outcome),
        (c.actor_id, audit_filter.actor_id),
        (c.resource_type, audit_filter.resource_type),
        (c.resource_id, audit_filter.resource_id),
        (c.ip, audit_filter.ip),
    ):
        if value is not None:
            where.append(column == value)
    if audit_filter.since is not None:
        where.append(c.occurred_at >= audit_filter.since)
    if audit_filter.until is not None:
        where.append(c.occurred_at <= audit_filter.until)
    return where
