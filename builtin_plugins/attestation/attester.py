"""One attestation of one RedPill model, start to verdict, with a nonce of our own.

Legacy: ``GET {url}/attestation/report?model&nonce&signing_algo=ecdsa[&signing_address]``,
in any shape RedPill serves (:mod:`.report_shapes`: flat, two-layer, tinfoil, chutes), then
(``require_gpu``) the GPU evidence of every model attestation through NRAS (:mod:`.gpu`); in a
two-layer report the gateway's and every model attestation's workload must be allowed too.
aci/1: ``GET {url}/aci/attestation?nonce``, checked by
:func:`.aci.verify_aci_report`. Either way the measured workload must then be allowed by the
trust policy (:mod:`.policy`): the ``[attestation] trust`` rules, the trust anchor's own and the
``allowed`` ones admins added. Every failure becomes an invalid :class:`Verdict` whose reason
names the failed check; nothing here raises.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence

import msgspec

from builtin_plugins.attestation.aci import verify_aci_report
from builtin_plugins.attestation.gpu import check_nras_token, gpu_payload, overall_token
from builtin_plugins.attestation.legacy import LegacyAttestation
from builtin_plugins.attestation.measurements import Measurements
from builtin_plugins.attestation.policy import TrustRule, check_workload, measure
from builtin_plugins.attestation.quotes import VerifiedQuote
from builtin_plugins.attestation.report_shapes import ReportAttestation, verify_report
from builtin_plugins.attestation.settings import AttestationSettings
from builtin_plugins.attestation.trust import Trust
from builtin_plugins.attestation.upstream import EvidenceClient
from builtin_plugins.attestation.verdicts import AttestationRejected, Verdict
from kernel.http import is_loopback_url

__all__ = ["Attester", "Target"]

log = logging.getLogger(__name__)


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """A provider model to attest: where the provider answers and with which key."""

    provider: str
    model: str
    url: str
    api_key: str = ""


class Attester:
    """Runs attestations under the given trust and settings."""

    def __init__(self, client: EvidenceClient, *, clock: Callable[[], float] = time.time):
        self._client = client
        self._clock = clock

    async def attest(
        self,
        target: Target,
        *,
        trust: Trust,
        settings: AttestationSettings,
        previous: Verdict | None = None,
        allowed: Sequence[TrustRule] = (),
    ) -> Verdict:
        """A fresh verdict for ``target``; invalid (with the reason) when any check fails.

        ``allowed``: trust rules added at run time, besides the settings' and the anchor's."""
        now = self._clock()
        base = Verdict(
            provider=target.provider,
            model=target.model,
            scheme=settings.redpill_scheme,
            label=trust.label,
            valid=False,
            url=target.url,
            checked_at=now,
            expires_at=now,
        )
        rules = (*settings.trust, *trust.rules, *allowed)
        try:
            if trust.simulated and not is_loopback_url(target.url):
                raise AttestationRejected("a simulated trust root only attests loopback providers")
            if settings.redpill_scheme == "aci":
                verdict = await self._aci(target, base, trust, settings)
            else:
                verdict = await self._legacy(target, base, trust, settings, previous, rules)
            return self._judge(verdict, rules)
        except AttestationRejected as exc:
            return msgspec.structs.replace(base, reason=str(exc))
        except Exception:  # fail closed on anything unforeseen, loudly
            log.exception("attestation of %s/%s failed unexpectedly", target.provider, target.model)
            return msgspec.structs.replace(base, reason="attestation failed unexpectedly")

    @staticmethod
    def _judge(verdict: Verdict, rules: Sequence[TrustRule]) -> Verdict:
        """``verdict``, made invalid unless the trust policy allows its measured workload."""
        try:
            check_workload(
                rules,
                provider=verdict.provider,
                model=verdict.model,
                tcb_status=verdict.tcb_status,
                measured=Measurements(**verdict.measurements),
            )
        except AttestationRejected as exc:
            now = verdict.checked_at
            return msgspec.structs.replace(verdict, valid=False, reason=str(exc), expires_at=now)
        return verdict

    def _expiry(self, now: float, settings: AttestationSettings) -> float:
        return now + 2 * settings.ttl_seconds

    async def _legacy(
        self,
        target: Target,
        base: Verdict,
        trust: Trust,
        settings: AttestationSettings,
        previous: Verdict | None,
        rules: Sequence[TrustRule],
    ) -> Verdict:
        nonce = secrets.token_bytes(32)
        params = {"model": target.model, "nonce": nonce.hex(), "signing_algo": "ecdsa"}
        if previous is not None and previous.signing_address:
            params["signing_address"] = previous.signing_address
        body = await self._client.request(
            "GET",
            f"{target.url.rstrip('/')}/attestation/report",
            what="the attestation report",
            api_key=target.api_key,
            params=params,
        )
        report = await verify_report(body, nonce=nonce, quotes=trust.quotes)
        attested = report.models[0]
        if settings.require_gpu:
            for model in report.models:
                await self._gpu(model, nonce, settings)
        verdict = msgspec.structs.replace(
            base,
            valid=True,
            expires_at=self._expiry(base.checked_at, settings),
            tcb_status=attested.quote.tcb_status,
            gpu_checked=settings.require_gpu,
            signing_address=attested.signing_address,
            measurements=measure(attested.quote, attested.event_log).as_dict(),
        )
        problem = _layer_problem(report, rules, target)
        if problem:  # kept with the measurements; _judge names the model's own problem first
            invalid = {"valid": False, "reason": problem, "expires_at": base.checked_at}
            return msgspec.structs.replace(verdict, **invalid)
        return verdict

    async def _gpu(
        self, attested: LegacyAttestation, nonce: bytes, settings: AttestationSettings
    ) -> None:
        payload = gpu_payload(attested.nvidia_payload, nonce=nonce)
        answer = await self._client.request("POST", settings.nras_url, what="NRAS", data=payload)
        token = overall_token(answer)
        jwks = await self._client.json(settings.nras_jwks_url, what="the NRAS JWKS")
        check_nras_token(token, jwks=jwks, nonce=nonce)

    async def _aci(
        self, target: Target, base: Verdict, trust: Trust, settings: AttestationSettings
    ) -> Verdict:
        if settings.require_gpu:
            raise AttestationRejected("aci/1 reports carry no GPU evidence but require_gpu is set")
        nonce = secrets.token_hex(32)
        body = await self._client.request(
            "GET",
            f"{target.url.rstrip('/')}/aci/attestation",
            what="the aci/1 attestation",
            api_key=target.api_key,
            params={"nonce": nonce},
        )
        attested = await verify_aci_report(
            body, nonce=nonce, quotes=trust.quotes, now=base.checked_at
        )
        return msgspec.structs.replace(
            base,
            valid=True,
            expires_at=min(self._expiry(base.checked_at, settings), attested.not_after),
            tcb_status=attested.quote.tcb_status,
            keyset_digest=attested.digest,
            keyset=attested.keyset,
            measurements=measure(attested.quote, attested.event_log).as_dict(),
        )


def _layer_problem(report: ReportAttestation, rules: Sequence[TrustRule], target: Target) -> str:
    """Why a layer besides the first model attestation (judged with the verdict) runs a workload
    the trust policy does not allow: the gateway in front, each further model attestation."""
    layers: list[tuple[str, VerifiedQuote, str | None]] = [
        (f"model_attestations[{i}]", m.quote, m.event_log) for i, m in enumerate(report.models)
    ][1:]
    if report.gateway is not None:
        layers.append(("gateway", report.gateway.quote, report.gateway.event_log))
    for name, quote, event_log in layers:
        try:
            check_workload(
                rules,
                provider=target.provider,
                model=target.model,
                tcb_status=quote.tcb_status,
                measured=measure(quote, event_log),
            )
        except AttestationRejected as exc:
            return f"{name}: {exc}"
    return ""
