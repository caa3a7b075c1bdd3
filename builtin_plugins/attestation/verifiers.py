"""The plugin's two :class:`~kernel.upstream.Verifier` implementations.

* :class:`RedPillVerifier`: routing verdicts and per-response checks from the
  :class:`~.service.AttestationService`; the response policy is the deployment's
  ``[attestation] response_policy``, tightened (never loosened) by an API key's
  ``response_verification``.
* :class:`PrivatemodeVerifier`: the Privatemode proxy attests the deployment and encrypts end to
  end, so there is nothing for us to check per answer; the status says honestly that the proxy
  is reachable and serving (its model list answers), labelled ``privatemode-proxy`` (or
  ``simulated`` under a simulated trust), and claims nothing more.
"""

from __future__ import annotations

from builtin_plugins.attestation.service import AttestationService
from kernel.runtime import Kernel
from kernel.services import KeyPolicy
from kernel.types import Principal
from kernel.upstream import AttestationStatus, ModelInfo, ResponseEvidence, ResponsePolicy

__all__ = ["PROXY_LABEL", "PrivatemodeVerifier", "RedPillVerifier"]

_ORDER: tuple[ResponsePolicy, ...] = ("off", "async", "strict_trailer", "strict")
"""Least to most strict; a key's policy counts only when it is later in this order."""

PROXY_LABEL = "privatemode-proxy"


class RedPillVerifier:
    """RedPill: attested TDX signing key, answers verified per the response policy."""

    provider_kind = "redpill"

    def __init__(self, kernel: Kernel, service: AttestationService) -> None:
        self._kernel = kernel
        self._service = service

    def status(self, provider: str, model: ModelInfo) -> AttestationStatus:
        """Answered from memory."""
        return self._service.status(provider, model)

    def response_policy(self, principal: Principal | None) -> ResponsePolicy:
        """The stricter of the deployment's policy and the API key's (a key only tightens)."""
        deployment = self._service.settings().response_policy
        key = self._kernel.service(KeyPolicy).response_verification(principal)
        if key not in _ORDER or _ORDER.index(key) <= _ORDER.index(deployment):
            return deployment
        return _ORDER[_ORDER.index(key)]

    async def verify_response(self, evidence: ResponseEvidence) -> AttestationStatus:
        """Signature (legacy) or receipt (aci/1) of the answer; never raises."""
        return await self._service.verify_response(evidence)


class PrivatemodeVerifier:
    """Privatemode: the proxy is the verifier; we report whether it is serving."""

    provider_kind = "privatemode"

    def __init__(self, kernel: Kernel, service: AttestationService) -> None:
        self._kernel = kernel
        self._service = service

    def _label(self) -> str:
        return "simulated" if self._service.trust().simulated else PROXY_LABEL

    def status(self, provider: str, model: ModelInfo) -> AttestationStatus:
        """Valid while the proxy answers its model list; never claims more."""
        for candidate in self._kernel.components.providers:
            if candidate.name == provider:
                if candidate.healthy:
                    return AttestationStatus(valid=True, label=self._label())
                break
        reason = "the Privatemode proxy is not serving (its model list does not answer)"
        return AttestationStatus(valid=False, label=self._label(), reason=reason)

    def response_policy(self, principal: Principal | None) -> ResponsePolicy:
        """Nothing to check per answer: the proxy verified the deployment and the channel."""
        return "off"

    async def verify_response(self, evidence: ResponseEvidence) -> AttestationStatus:
        """Not called under policy ``off``; never claims an answer verified by us."""
        return AttestationStatus(
            valid=False, label=self._label(), reason="answers are verified by the proxy"
        )
