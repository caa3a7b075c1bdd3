"""The add-a-trust-rule form: its fields as the ``POST /attestation/trust`` body (the API
validates it), the fields prefilled with what one model presents now, and the API's refusal
placed next to the field it names."""

from __future__ import annotations

from typing import Any

from builtin_plugins.dashboard.api import ApiAnswer
from builtin_plugins.dashboard.forms import Form, split_list
from kernel.services import AttestationEntry

__all__ = ["RULE_FIELDS", "WORKLOAD_FIELDS", "prefilled", "rule_body", "rule_errors"]

WORKLOAD_FIELDS = ("mr_td", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "compose_hash", "app_id")
"""The measured values one workload of a rule may pin (hex), as the attestation API names them."""
RULE_FIELDS = ("provider", "models", "accepted_tcb_statuses", "workloads")
"""The fields an API refusal may name; anything else is shown for the whole form."""


def rule_body(form: Form) -> dict[str, Any]:
    """The rule the form describes: one workload of the values filled in (none if empty)."""
    workload: dict[str, str] = {name: form.text(name) for name in WORKLOAD_FIELDS}
    workload = {name: value for name, value in workload.items() if value}
    if workload or form.text("note"):
        workload["note"] = form.text("note")
    return {
        "provider": form.text("provider") or "*",
        "models": form.text("models") or "*",
        "accepted_tcb_statuses": split_list(form.text("accepted_tcb_statuses")),
        "workloads": [workload] if workload else [],
    }


def rule_errors(answer: ApiAnswer) -> dict[str, str]:
    """The API's refusal by form field (``workloads`` covers every measured value)."""
    return {answer.param if answer.param in RULE_FIELDS else "form": answer.message}


def prefilled(entries: list[AttestationEntry], provider: str, model: str) -> dict[str, str]:
    """The form filled with what ``model`` on ``provider`` presents now; empty if unknown."""
    for entry in entries:
        if (entry.provider, entry.upstream_model) != (provider, model):
            continue
        presented = {k: v for k, v in entry.measurements.items() if k in WORKLOAD_FIELDS}
        checked = entry.checked_at.strftime("%Y-%m-%d") if entry.checked_at else "now"
        return {
            "provider": provider,
            "models": model,
            "accepted_tcb_statuses": entry.tcb_status or "",
            **presented,
            "note": f"presented by {model} on {provider} ({checked})",
        }
    return {}
