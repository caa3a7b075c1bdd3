"""The trust policy: which workloads, at which TCB statuses, may serve which provider models.

A :class:`TrustRule` applies to providers and upstream model ids matching its globs and lists
the :class:`Workload` measurements it allows. A quote is trusted for a model when some applicable
rule lists a workload whose every named value equals the measured one and (when the rule lists
TCB statuses) its TCB status is among them. No applicable workload means **refuse**: an
empty allowlist trusts nothing. Rules come from ``[[attestation.trust]]``, from admins
(``POST /api-internal/v1/attestation/trust``, :mod:`.allowlist`) and from the trust anchor
(the simulator's measurement under the simulated root).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

import msgspec

from builtin_plugins.attestation.measurements import Measurements, replay_event_log
from builtin_plugins.attestation.quotes import VerifiedQuote
from builtin_plugins.attestation.verdicts import AttestationRejected

__all__ = ["HOW_TO_ALLOW", "TrustRule", "Workload", "check_workload", "measure"]

HOW_TO_ALLOW = (
    "review it and allow it with POST /api-internal/v1/attestation/trust or an "
    "[[attestation.trust]] rule (`enclava attestation measure MODEL` prints what a model presents)"
)
_HEX = re.compile(r"(0x)?[0-9a-fA-F]*")


class Workload(Measurements, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One allowed workload: the measured values it pins (``mr_td`` and any further ones that
    must match, hex) and a free-text ``note``."""

    note: str = ""

    def __post_init__(self) -> None:
        for name, value in self.required().items():
            if not _HEX.fullmatch(value):
                raise ValueError(f"workload {name} must be hex")
        if not self.mr_td:
            raise ValueError("a workload names at least its mr_td")

    def required(self) -> dict[str, str]:
        """The measured values this workload pins, normalised to lowercase hex."""
        values = msgspec.structs.asdict(self)
        values.pop("note")
        return {k: v.lower().removeprefix("0x") for k, v in values.items() if v}

    def allows(self, measured: Measurements) -> bool:
        """Whether every value this workload pins equals the measured one."""
        found = measured.as_dict()
        return all(found.get(k) == v for k, v in self.required().items())


class TrustRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Workloads allowed for providers (``provider`` glob) and upstream models (``models``)."""

    provider: str = "*"
    models: str = "*"
    accepted_tcb_statuses: list[str] = []
    workloads: list[Workload] = []

    def applies(self, provider: str, model: str) -> bool:
        """Whether the rule covers ``model`` served by ``provider``."""
        return fnmatch.fnmatchcase(provider, self.provider) and fnmatch.fnmatchcase(
            model, self.models
        )

    def allows(self, measured: Measurements, tcb_status: str) -> bool:
        """Whether a workload of the rule matches at an accepted TCB status."""
        if self.accepted_tcb_statuses and tcb_status not in self.accepted_tcb_statuses:
            return False
        return any(w.allows(measured) for w in self.workloads)


def measure(quote: VerifiedQuote, event_log: str | None) -> Measurements:
    """What ``quote`` measures, with the app replayed from ``event_log`` when there is one (a
    quote without RTMR3, like the simulator's, cannot vouch for a log: it is ignored)."""
    rtmrs = dict(zip(("rtmr0", "rtmr1", "rtmr2", "rtmr3"), quote.rtmrs, strict=False))
    rtmr3 = rtmrs.get("rtmr3", "")
    app = replay_event_log(event_log, rtmr3=rtmr3) if event_log and rtmr3 else {}
    return Measurements(mr_td=quote.mr_td.lower(), **rtmrs, **app)


def check_workload(
    rules: Sequence[TrustRule],
    *,
    provider: str,
    model: str,
    tcb_status: str,
    measured: Measurements,
) -> None:
    """Raise AttestationRejected unless an applicable rule allows the measured workload."""
    applicable = [r for r in rules if r.applies(provider, model)]
    if any(r.allows(measured, tcb_status) for r in applicable):
        return
    if not any(r.workloads for r in applicable):
        problem = "the trust policy allows no workload (empty allowlist) for this model"
    else:
        problem = "the workload is not in the trust policy's allowlist"
    raise AttestationRejected(
        f"{problem}; measured {measured.describe()} (TCB {tcb_status}); {HOW_TO_ALLOW}"
    )
