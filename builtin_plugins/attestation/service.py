"""The attestation lifecycle of one kernel: verdicts in memory, refreshed off the hot path.

:class:`AttestationService` attests every model of every RedPill provider at startup (the first
background run), again once a verdict is ``ttl_seconds`` old, retries failed or pending ones every
``retry_seconds``, re-attests at once when an answer fails verification or announces another
aci/1 keyset, pins the provider's TLS key to an aci/1 keyset's (:mod:`.pinning`), and records
each outcome in SQL (:mod:`.history`). ``status`` answers from
memory; any doubt (no verdict, a failed one, an expired one) is "not valid".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
from sqlalchemy.exc import SQLAlchemyError

from builtin_plugins.attestation.allowlist import AllowlistStore
from builtin_plugins.attestation.attester import Attester, Target
from builtin_plugins.attestation.history import HistoryStore
from builtin_plugins.attestation.pinning import apply_pins
from builtin_plugins.attestation.policy import HOW_TO_ALLOW, TrustRule
from builtin_plugins.attestation.responses import ResponseChecker
from builtin_plugins.attestation.settings import SECTION, AttestationSettings
from builtin_plugins.attestation.trust import Trust, production_trust, simulated_trust
from builtin_plugins.attestation.upstream import EvidenceClient
from builtin_plugins.attestation.verdicts import AttestationRejected, Verdict
from kernel.errors import StoreUnavailableError
from kernel.runtime import Kernel
from kernel.stash import StashKey
from kernel.upstream import AttestationStatus, HttpUpstream, ModelInfo, ResponseEvidence

__all__ = ["FAILED_LABEL", "SERVICE", "AttestationService", "service_of"]

log = logging.getLogger(__name__)
FAILED_LABEL = "failed"
Key = tuple[str, str]


class AttestationService:
    """Verdicts per (provider name, upstream model id)."""

    def __init__(self, kernel: Kernel, *, clock: Callable[[], float] = time.time) -> None:
        self._kernel = kernel
        self._clock = clock
        self._verdicts: dict[Key, Verdict] = {}
        self._inflight: dict[Key, asyncio.Task[Verdict]] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._installed: Trust | None = None
        self._production: tuple[tuple[str, tuple[str, ...], str], Trust] | None = None
        self._announced = False

    def settings(self) -> AttestationSettings:
        """The current ``[attestation]`` section."""
        return self._kernel.settings.section(SECTION, AttestationSettings)

    def install_trust(self, trust: Trust | None) -> None:
        """Use ``trust`` instead of Intel DCAP from now on (demo mode, tests; None: back to
        DCAP); forgets every verdict."""
        self._installed = trust
        self._verdicts.clear()

    def trust_simulators(self, enabled: bool) -> None:
        """:class:`~kernel.services.SimulatedTrust`: the simulator's test root (demo mode), or
        back to production."""
        self.install_trust(simulated_trust(self.settings()) if enabled else None)

    def trust(self) -> Trust:
        """The installed trust, else production DCAP for the current settings."""
        if self._installed is not None:
            return self._installed
        settings = self.settings()
        key = (
            settings.pccs_url,
            tuple(sorted(settings.accepted_tcb_statuses)),
            settings.extra_roots_file if settings.allow_test_roots else "",
        )
        if self._production is None or self._production[0] != key:
            self._production = (key, production_trust(settings))
        return self._production[1]

    def _client(self) -> EvidenceClient:
        return EvidenceClient(self._kernel.http, self.settings().timeout_seconds)

    def verdicts(self) -> list[Verdict]:
        """Every current verdict, sorted by provider and model."""
        return [self._verdicts[k] for k in sorted(self._verdicts)]

    def status(self, provider: str, model: ModelInfo) -> AttestationStatus:
        """The routing verdict for ``model`` served by ``provider``, from memory."""
        label = self.trust().label
        verdict = self._verdicts.get((provider, model.upstream_id))
        if verdict is None:
            return AttestationStatus(valid=False, label=label, reason="attestation pending")
        if not verdict.valid:
            return AttestationStatus(valid=False, label=label, reason=verdict.reason)
        if verdict.label != label:
            return AttestationStatus(valid=False, label=label, reason="trust anchor changed")
        if self._clock() >= verdict.expires_at:
            return AttestationStatus(valid=False, label=label, reason="attestation expired")
        if verdict.url != self._url(provider):
            return AttestationStatus(valid=False, label=label, reason="provider URL changed")
        return AttestationStatus(valid=True, label=label)

    def _url(self, provider: str) -> str | None:
        for candidate in self._kernel.components.providers:
            if candidate.name == provider and isinstance(candidate, HttpUpstream):
                return candidate.base_url
        return None

    async def targets(self) -> list[Target]:
        """Every model of every RedPill provider, with where to reach it."""
        found: list[Target] = []
        for provider in self._kernel.components.providers:
            if provider.kind != "redpill" or not isinstance(provider, HttpUpstream):
                continue
            url, api_key = provider.base_url, provider.api_key
            for model in sorted({m.upstream_id for m in await provider.list_models()}):
                found.append(Target(provider=provider.name, model=model, url=url, api_key=api_key))
        return found

    def _due(self, target: Target, now: float, ttl: float) -> bool:
        verdict = self._verdicts.get((target.provider, target.model))
        if verdict is None or not verdict.valid or verdict.url != target.url:
            return True
        if verdict.label != self.trust().label:
            return True
        return now - verdict.checked_at >= ttl or now >= verdict.expires_at

    async def allowed(self) -> list[TrustRule]:
        """The trust rules admins added (none when the database cannot say: fail closed)."""
        try:
            return [stored.rule for stored in await AllowlistStore(self._kernel.stores.db).all()]
        except (SQLAlchemyError, StoreUnavailableError) as exc:
            log.error("run-time trust rules unavailable (%s): using settings only", exc)
            return []

    async def _announce_policy(self) -> None:
        """Say once, at the first attestation pass, when production trusts no workload at all."""
        if self._announced:
            return
        self._announced = True
        trust = self.trust()
        if trust.rules or self.settings().trust or await self.allowed():
            return
        log.warning(
            "the attestation trust policy is empty: every RedPill model is refused; %s",
            HOW_TO_ALLOW,
        )

    async def refresh(self) -> None:
        """Attest what is missing, failed, expiring or served from a new URL (background)."""
        await self._announce_policy()
        targets = await self.targets()
        wanted = {(t.provider, t.model) for t in targets}
        for key in [k for k in self._verdicts if k not in wanted]:
            del self._verdicts[key]
        ttl = self.settings().ttl_seconds
        for target in targets:
            if self._due(target, self._clock(), ttl):
                await self.attest(target)

    async def reverify(self) -> list[Verdict]:
        """Attest every model now ("re-verify now")."""
        for target in await self.targets():
            await self.attest(target)
        return self.verdicts()

    async def attest(self, target: Target) -> Verdict:
        """Attest ``target`` now, joining an attestation of it already running."""
        key = (target.provider, target.model)
        running = self._inflight.get(key)
        if running is None:
            running = asyncio.ensure_future(self._attest(target))
            self._inflight[key] = running
            running.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(running)

    async def _attest(self, target: Target) -> Verdict:
        key = (target.provider, target.model)
        previous = self._verdicts.get(key)
        verdict = await Attester(self._client(), clock=self._clock).attest(
            target,
            trust=self.trust(),
            settings=self.settings(),
            previous=previous,
            allowed=await self.allowed(),
        )
        verdict = await apply_pins(self._kernel.http, target.url, verdict)
        self._verdicts[key] = verdict
        await self._record(previous, verdict)
        return verdict

    async def _record(self, previous: Verdict | None, verdict: Verdict) -> None:
        repeated = previous is not None and not previous.valid and not verdict.valid
        if repeated and previous is not None and previous.reason == verdict.reason:
            return
        if verdict.valid:
            log.info("%s/%s attested (%s)", verdict.provider, verdict.model, self.trust().label)
        else:
            log.warning("%s/%s not attested: %s", verdict.provider, verdict.model, verdict.reason)
        await HistoryStore(self._kernel.stores.db).record(verdict)

    def _spawn(self, coroutine: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def schedule_refresh(self) -> None:
        """Run :meth:`refresh` in the background now (after the trust policy grew)."""
        self._spawn(self.refresh())

    async def invalidate(self, provider: str, model: str, reason: str) -> None:
        """Mark the verdict invalid (recorded) and re-attest in the background."""
        key = (provider, model)
        current = self._verdicts.get(key)
        if current is not None:
            now = self._clock()
            failed = msgspec.structs.replace(
                current, valid=False, reason=reason, checked_at=now, expires_at=now
            )
            self._verdicts[key] = failed
            await self._record(current, failed)
        target = await self._target(provider, model)
        if target is not None:
            self._spawn(self.attest(target))

    async def _target(self, provider: str, model: str) -> Target | None:
        for target in await self.targets():
            if (target.provider, target.model) == (provider, model):
                return target
        return None

    async def verify_response(self, evidence: ResponseEvidence) -> AttestationStatus:
        """Whether the answer was signed (receipted) by the attested key; never raises."""
        provider, model = evidence.provider, evidence.model.upstream_id
        try:
            verdict = self._verdicts.get((provider, model))
            target = await self._target(provider, model)
            if verdict is None or not self.status(provider, evidence.model).valid:
                raise AttestationRejected("no valid attestation for this model")
            if target is None:
                raise AttestationRejected("the provider is gone")
            if verdict.scheme == "aci":
                verdict = await self._current_keyset(verdict, target, evidence)
            await ResponseChecker(self._client()).check(evidence, verdict, target)
        except AttestationRejected as exc:
            reason = f"response verification failed: {exc}"
        except Exception:  # fail closed on anything unforeseen, loudly
            log.exception("verification of an answer from %s failed unexpectedly", provider)
            reason = "response verification failed unexpectedly"
        else:
            return AttestationStatus(valid=True, label=self.trust().label)
        await self.invalidate(provider, model, reason)
        return AttestationStatus(valid=False, label=FAILED_LABEL, reason=reason)

    async def _current_keyset(
        self, verdict: Verdict, target: Target, evidence: ResponseEvidence
    ) -> Verdict:
        announced = evidence.evidence.get("keyset_digest")
        if not announced or announced == verdict.keyset_digest:
            return verdict
        renewed = await self._reattest_provider(target)
        if not renewed.valid:
            raise AttestationRejected(f"the keyset changed and did not attest: {renewed.reason}")
        if renewed.keyset_digest != announced:
            raise AttestationRejected("the answer names a keyset that is not the attested one")
        return renewed

    async def _reattest_provider(self, target: Target) -> Verdict:
        """Re-attest every model of ``target``'s provider (its aci/1 keyset changed); the
        verdict for ``target``."""
        targets = [t for t in await self.targets() if t.provider == target.provider]
        verdicts = await asyncio.gather(*(self.attest(t) for t in targets))
        for candidate, verdict in zip(targets, verdicts, strict=True):
            if candidate.model == target.model:
                return verdict
        return await self.attest(target)

    async def close(self) -> None:
        """Cancel background and running attestations."""
        pending: list[asyncio.Future[Any]] = [*self._tasks, *self._inflight.values()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


SERVICE: StashKey[AttestationService] = StashKey()


def service_of(kernel: Kernel) -> AttestationService:
    """The kernel's attestation service (created on first use)."""
    service = kernel.stash.get(SERVICE)
    if service is None:
        service = kernel.stash[SERVICE] = AttestationService(kernel)
    return service
