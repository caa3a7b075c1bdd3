"""Demo mode's attestation verdicts: simulated RedPill reports fetched with our own nonces.

:class:`SimulatedAttestations` keeps one verdict per (provider, upstream model) in memory.
Its :meth:`~SimulatedAttestations.refresh` (the plugin's background task) attests every model
a RedPill provider lists when it has no verdict, a failed one, or one older than the TTL:
``GET {url}/attestation/report?model=M&nonce=N&signing_algo=ecdsa`` with a fresh 32-byte
nonce, checked by :func:`.verifier.verify_legacy_report` against the simulator's test root
only. Any error fails closed, and only loopback URLs are ever asked. The verifiers answer
from memory and say ``simulated``, never ``verified``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence

import aiohttp
import msgspec

from builtin_plugins.demo.urls import is_loopback_url
from builtin_plugins.demo.verifier import AttestationRejected, verify_legacy_report
from builtin_plugins.providers.base import HttpProvider
from builtin_plugins.providers.settings import read_api_key
from builtin_plugins.simulators.keys import sim_root_public_key
from kernel.errors import ConfigError
from kernel.http import HttpClients
from kernel.types import (
    AttestationStatus,
    ModelInfo,
    Principal,
    Provider,
    ResponseEvidence,
    ResponsePolicy,
)

__all__ = [
    "LABEL",
    "SimulatedAttestations",
    "SimulatedPrivatemodeVerifier",
    "SimulatedRedPillVerifier",
    "Verdict",
]

log = logging.getLogger(__name__)
LABEL = "simulated"
_TIMEOUT = aiohttp.ClientTimeout(total=10.0)
_VALID = AttestationStatus(valid=True, label=LABEL)
_PENDING = AttestationStatus(valid=False, label=LABEL, reason="attestation pending")


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one attestation of the server at ``url``; trusted until ``expires_at``."""

    valid: bool
    url: str
    checked_at: float
    expires_at: float
    reason: str = ""
    signing_address: str = ""


class SimulatedAttestations:
    """Verdicts per (provider name, upstream model id), refreshed off the hot path."""

    def __init__(self, http: HttpClients, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._http = http
        self._clock = clock
        self._root = sim_root_public_key()
        self._verdicts: dict[tuple[str, str], Verdict] = {}

    def status(self, provider: str, model: ModelInfo) -> AttestationStatus:
        """The current verdict for ``model`` as served by ``provider``."""
        verdict = self._verdicts.get((provider, model.upstream_id))
        if verdict is None:
            return _PENDING
        if not verdict.valid:
            return AttestationStatus(valid=False, label=LABEL, reason=verdict.reason)
        if self._clock() >= verdict.expires_at:
            return AttestationStatus(valid=False, label=LABEL, reason="attestation expired")
        return _VALID

    async def refresh(self, providers: Sequence[Provider], ttl_seconds: float) -> None:
        """Attest each RedPill model whose verdict is missing, failed or ``ttl_seconds`` old."""
        verdicts: dict[tuple[str, str], Verdict] = {}
        for provider in providers:
            if provider.kind == "redpill" and isinstance(provider, HttpProvider):
                for model in sorted({m.upstream_id for m in await provider.list_models()}):
                    key = (provider.name, model)
                    verdicts[key] = await self._renewed(key, provider, ttl_seconds)
        self._verdicts = verdicts

    async def _renewed(self, key: tuple[str, str], provider: HttpProvider, ttl: float) -> Verdict:
        """The current verdict for ``key`` if still fresh for the provider's URL, else a new one."""
        current = self._verdicts.get(key)
        if current is not None and self._fresh(current, provider.settings.url, ttl):
            return current
        verdict = await self._attest_provider(provider, key[1], ttl)
        self._announce(key, current, verdict)
        return verdict

    async def _attest_provider(self, provider: HttpProvider, model: str, ttl: float) -> Verdict:
        try:
            api_key = read_api_key(provider.settings)
        except ConfigError as exc:
            return self._failed(provider.settings.url, str(exc))
        return await self.attest(provider.settings.url, api_key, model, ttl_seconds=ttl)

    def _failed(self, url: str, reason: str) -> Verdict:
        now = self._clock()
        return Verdict(valid=False, url=url, checked_at=now, expires_at=now, reason=reason)

    async def attest(self, url: str, api_key: str, model: str, *, ttl_seconds: float) -> Verdict:
        """One attestation of ``model`` at the RedPill base ``url``; never raises."""
        if not is_loopback_url(url):
            return self._failed(url, "demo mode only attests simulators on loopback URLs")
        now = self._clock()
        nonce = secrets.token_bytes(32)
        try:
            body = await self._fetch(url, api_key, model, nonce)
            signer = verify_legacy_report(body, nonce=nonce, trusted_root=self._root)
        except AttestationRejected as exc:
            reason = f"attestation rejected: {exc}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = f"attestation report unavailable ({type(exc).__name__})"
        except Exception:  # fail closed on anything unforeseen, loudly
            log.exception("demo: attestation of %s failed unexpectedly", model)
            reason = "attestation failed unexpectedly"
        else:
            return Verdict(
                valid=True,
                url=url,
                checked_at=now,
                expires_at=now + 2 * ttl_seconds,
                signing_address=signer.signing_address,
            )
        return self._failed(url, reason)

    async def _fetch(self, url: str, api_key: str, model: str, nonce: bytes) -> bytes:
        base = url.rstrip("/")
        params = {"model": model, "nonce": nonce.hex(), "signing_algo": "ecdsa"}
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        async with self._http.session(base).get(
            f"{base}/attestation/report",
            params=params,
            headers=headers,
            timeout=_TIMEOUT,
            allow_redirects=False,
        ) as response:
            body = await response.read()
        if response.status != 200:
            raise AttestationRejected(f"the report endpoint answered HTTP {response.status}")
        return body

    def _fresh(self, verdict: Verdict, url: str, ttl_seconds: float) -> bool:
        if not verdict.valid or verdict.url != url:
            return False
        return self._clock() - verdict.checked_at < ttl_seconds

    @staticmethod
    def _announce(key: tuple[str, str], old: Verdict | None, new: Verdict) -> None:
        if old is not None and (old.valid, old.reason) == (new.valid, new.reason):
            return
        if new.valid:
            log.info("demo: %s/%s attested (SIMULATED, signer %s)", *key, new.signing_address)
        else:
            log.warning("demo: %s/%s not attested: %s", *key, new.reason)


class SimulatedRedPillVerifier:
    """RedPill verdicts of demo mode: valid only for models whose simulated report verified."""

    provider_kind = "redpill"

    def __init__(self, attestations: SimulatedAttestations) -> None:
        self._attestations = attestations

    def status(self, provider: str, model: ModelInfo) -> AttestationStatus:
        """Answered from memory."""
        return self._attestations.status(provider, model)

    def response_policy(self, principal: Principal | None) -> ResponsePolicy:
        """Demo mode checks attestation reports only, never individual answers."""
        return "off"

    async def verify_response(self, evidence: ResponseEvidence) -> AttestationStatus:
        """Not used (policy ``off``); never claims an answer verified."""
        return AttestationStatus(valid=False, label=LABEL, reason="demo mode verifies no answers")


class SimulatedPrivatemodeVerifier:
    """Privatemode in demo mode: the simulated proxy attests nothing, so say ``simulated``."""

    provider_kind = "privatemode"

    def status(self, provider: str, model: ModelInfo) -> AttestationStatus:
        """Always routable, never claimed to be attested."""
        return _VALID

    def response_policy(self, principal: Principal | None) -> ResponsePolicy:
        """The proxy verifies its own traffic; nothing to check per answer here."""
        return "off"

    async def verify_response(self, evidence: ResponseEvidence) -> AttestationStatus:
        """Not used (policy ``off``)."""
        return AttestationStatus(valid=False, label=LABEL, reason="demo mode verifies no answers")
