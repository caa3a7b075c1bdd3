"""The attestation status of every model of every provider, as the kernel's
:class:`~kernel.services.AttestationOverview` (``GET /api/v1/attestation`` answers with it, and
other plugins read it through ``kernel.service(AttestationOverview)``)."""

from __future__ import annotations

from datetime import UTC, datetime

from builtin_plugins.attestation.history import signing_key
from builtin_plugins.attestation.service import service_of
from kernel.runtime import Kernel
from kernel.services import AttestationEntry

__all__ = ["Overview"]


def _time(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class Overview:
    """Implements :class:`~kernel.services.AttestationOverview` over one kernel's verdicts."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel

    async def entries(self) -> list[AttestationEntry]:
        """The status of every model of every enabled provider, with the verdict behind it."""
        kernel = self._kernel
        verdicts = {(v.provider, v.model): v for v in service_of(kernel).verdicts()}
        entries: list[AttestationEntry] = []
        for provider in kernel.components.providers:
            verifier = next(
                (v for v in kernel.components.verifiers if v.provider_kind == provider.kind), None
            )
            for model in await provider.list_models():
                status = verifier.status(provider.name, model) if verifier else None
                entry = AttestationEntry(
                    provider=provider.name,
                    model=model.id,
                    upstream_model=model.upstream_id,
                    verified=bool(status and status.valid),
                    label=status.label if status else "none",
                    reason=status.reason if status else "no verifier for this provider",
                )
                verdict = verdicts.get((provider.name, model.upstream_id))
                if verdict is not None:
                    entry.scheme = verdict.scheme
                    entry.checked_at = _time(verdict.checked_at)
                    entry.expires_at = _time(verdict.expires_at)
                    entry.tcb_status = verdict.tcb_status or None
                    entry.gpu_checked = verdict.gpu_checked
                    entry.signing_key = signing_key(verdict) or None
                    entry.measurements = verdict.measurements
                entries.append(entry)
        return entries
