"""Per-response verification: did this answer come from the attested key?

The verifier of the provider's kind decides the policy for the caller: ``off``; ``async``
(verified right after the client got it, in a task); ``strict_trailer`` (a stream's content
flows, its ``[DONE]`` only once verified); ``strict`` (the client gets nothing of an answer,
streamed or not, before it is verified). A verifier that raises counts as a failed
verification. A failure opens the provider's circuit on every replica and is audited.
"""

from __future__ import annotations

import asyncio
import logging

from builtin_plugins.llm.catalog import Route
from builtin_plugins.llm.circuit import CircuitBreaker
from kernel.errors import UpstreamError
from kernel.exchange import Exchange
from kernel.runtime import Kernel
from kernel.types import AuditEvent
from kernel.upstream import (
    AttestationStatus,
    ResponseEvidence,
    ResponsePolicy,
    UpstreamCall,
    Verifier,
)

__all__ = ["ResponseVerification", "VerificationFailedError"]

log = logging.getLogger(__name__)


class VerificationFailedError(UpstreamError):
    """The provider's answer could not be tied to its attested key; it was withheld."""

    default_code = "response_verification_failed"


def _sent_body(call: UpstreamCall) -> bytes:
    """The bytes the provider actually sent (it may add required options), else the call's."""
    sent = call.evidence.get("sent_body")
    return sent if isinstance(sent, bytes) else call.body


class ResponseVerification:
    """Runs verifications for one gateway; keeps its async tasks until they end."""

    def __init__(self, kernel: Kernel, breaker: CircuitBreaker) -> None:
        self._kernel = kernel
        self._breaker = breaker
        self._tasks: set[asyncio.Task[AttestationStatus]] = set()

    def verifier(self, route: Route) -> Verifier | None:
        for verifier in self._kernel.components.verifiers:
            if verifier.provider_kind == route.provider.kind:
                return verifier
        return None

    def policy(self, route: Route, exchange: Exchange) -> ResponsePolicy:
        """The policy for this exchange: ``off`` when no verifier covers the provider."""
        verifier = self.verifier(route)
        if verifier is None or exchange.endpoint != "/chat/completions":
            return "off"
        return verifier.response_policy(exchange.principal)

    async def verify(
        self, route: Route, exchange: Exchange, call: UpstreamCall, response: bytes
    ) -> AttestationStatus:
        """Verify ``response`` (exact bytes) for ``call``; on failure trip and audit."""
        verifier = self.verifier(route)
        if verifier is None:
            return AttestationStatus(valid=False, label="failed", reason="no verifier")
        evidence = ResponseEvidence(
            provider=route.provider.name,
            model=route.model,
            request_id=exchange.request_id,
            stream=call.stream,
            request_body=_sent_body(call),
            response_body=response,
            evidence=call.evidence,
        )
        with self._kernel.components.tracer.span(
            "attestation.verify", provider=route.provider.name, model=route.model.id
        ) as span:
            try:
                verdict = await verifier.verify_response(evidence)
            except Exception:
                log.exception("verifier for %s raised", route.provider.kind)
                verdict = AttestationStatus(
                    valid=False, label="failed", reason="the verifier failed"
                )
            span.set_attribute("outcome", "verified" if verdict.valid else "failed")
        exchange.verification = "verified" if verdict.valid else "failed"
        if not verdict.valid:
            await self._reject(route, exchange, verdict)
        return verdict

    def later(self, route: Route, exchange: Exchange, call: UpstreamCall, response: bytes) -> None:
        """Verify in a task (policy ``async``); the exchange says ``pending`` until it ends."""
        exchange.verification = "pending"
        task = asyncio.create_task(self.verify(route, exchange, call, response))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for verifications still running (shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def failure(self, route: Route, verdict: AttestationStatus) -> VerificationFailedError:
        reason = verdict.reason or verdict.label
        return VerificationFailedError(
            f"The answer from provider `{route.provider.name}` failed verification ({reason}); "
            "it was withheld and the provider is paused.",
            provider=route.provider.name,
        )

    async def _reject(self, route: Route, exchange: Exchange, verdict: AttestationStatus) -> None:
        provider = route.provider.name
        log.warning("response from %s failed verification: %s", provider, verdict.reason)
        try:
            await self._breaker.trip(provider)
        except Exception:
            log.exception("could not open the circuit of %s", provider)
        event = AuditEvent(
            action="attestation.response_rejected",
            outcome="failure",
            actor_type="provider",
            actor_id=provider,
            resource_type="model",
            resource_id=route.model.id,
            request_id=exchange.request_id,
            details={"reason": verdict.reason or verdict.label, "stream": exchange.stream},
        )
        try:
            await self._kernel.audit(event)
        except Exception:
            log.exception("could not audit a failed verification")
