"""The trust policy beside what each provider model presents now: for every rule (from the
settings, the trust anchor or added at run time), the models it covers and, per workload, whether
the values it pins equal the values the model's current attestation measured."""

from __future__ import annotations

import fnmatch
from typing import Any

import msgspec

from kernel.services import AttestationEntry

__all__ = ["Covered", "RuleView", "rule_views"]


class Covered(msgspec.Struct, frozen=True, kw_only=True):
    """One model a rule applies to, and whether each workload matches what it presents."""

    provider: str
    model: str
    tcb_status: str | None
    tcb_accepted: bool
    matches: list[bool]
    """Per workload of the rule, in order."""


class RuleView(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    rule_id: int | None
    """Set on rules added at run time (the ones that can be removed)."""
    provider: str
    models: str
    tcb_statuses: list[str]
    workloads: list[dict[str, str]]
    note: str
    covered: list[Covered]


def _pins(workload: dict[str, Any]) -> dict[str, str]:
    return {k: str(v).lower().removeprefix("0x") for k, v in workload.items() if v and k != "note"}


def _covered(rule: dict[str, Any], entry: AttestationEntry) -> Covered:
    statuses = list(rule.get("accepted_tcb_statuses", []))
    matches = [
        all(entry.measurements.get(name, "").lower() == value for name, value in pins.items())
        for pins in (_pins(w) for w in rule.get("workloads", []))
    ]
    return Covered(
        provider=entry.provider,
        model=entry.upstream_model,
        tcb_status=entry.tcb_status,
        tcb_accepted=not statuses or entry.tcb_status in statuses,
        matches=matches,
    )


def _view(
    source: str,
    rule: dict[str, Any],
    entries: list[AttestationEntry],
    note: str,
    rule_id: int | None = None,
) -> RuleView:
    provider, models = str(rule.get("provider", "*")), str(rule.get("models", "*"))
    covered = [
        _covered(rule, e)
        for e in entries
        if fnmatch.fnmatchcase(e.provider, provider)
        and fnmatch.fnmatchcase(e.upstream_model, models)
    ]
    return RuleView(
        source=source,
        rule_id=rule_id,
        provider=provider,
        models=models,
        tcb_statuses=list(rule.get("accepted_tcb_statuses", [])),
        workloads=[{**_pins(w), "note": str(w.get("note", ""))} for w in rule.get("workloads", [])],
        note=note,
        covered=covered,
    )


def rule_views(policy: dict[str, Any], entries: list[AttestationEntry]) -> list[RuleView]:
    """Every rule of ``GET /attestation/trust`` with the models it covers now."""
    views = [_view("settings", rule, entries, "") for rule in policy.get("settings", [])]
    views += [
        _view("trust anchor", rule, entries, str(policy.get("label", "")))
        for rule in policy.get("anchor", [])
    ]
    views += [
        _view(
            "added",
            stored["rule"],
            entries,
            f"by {stored['added_by']} {stored['created_at']}",
            int(stored["id"]),
        )
        for stored in policy.get("added", [])
    ]
    return views
