"""The pre-auth gate: blocked IPs, header anomalies and scanner user agents.

Happy-path cost: one KV read (the client's block key) and one in-memory pass over the headers.
On a route that admits a model call the read is one step of the request's single admission
round trip (:mod:`kernel.admission`), answered before anything is forwarded.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from builtin_plugins.threat_detection.anomalies import inspect_headers
from builtin_plugins.threat_detection.blocks import Blocks
from builtin_plugins.threat_detection.policy import Policy
from builtin_plugins.threat_detection.rejections import audit_rejection
from kernel.errors import InvalidRequestError, PermissionDeniedError
from kernel.runtime import Kernel
from kernel.storage.kv import Absent, StepResult
from kernel.types import ApiSurface, CheckPhase, RequestContext

__all__ = ["IP_BLOCKED", "REJECTED", "ThreatGate"]

IP_BLOCKED = "Requests from your IP address are temporarily blocked. Try again later."
REJECTED = "This request was rejected."


def _refuse_blocked(absent: StepResult) -> None:
    """The deferred block check's answer: 403 ``ip_blocked`` when the block key exists."""
    if absent is not True:
        raise PermissionDeniedError(IP_BLOCKED, code="ip_blocked")


class ThreatGate:
    """Refuses blocked IPs (403 ip_blocked), odd headers (400) and scanners (403)."""

    name = "threat_detection.gate"
    order = 0
    phase: CheckPhase = "pre_auth"
    surfaces: frozenset[ApiSurface] = frozenset({"public", "internal"})

    def __init__(self, kernel: Kernel, policy: Policy, blocks: Blocks) -> None:
        self.kernel = kernel
        self.policy = policy
        self.blocks = blocks
        self._enforce_blocks = policy.enforces_ip_blocks
        self._has_allowlist = bool(policy.allowlist)
        self._kv = blocks.kv
        self._block_prefix = blocks.key("ip", "")

    async def check(self, request: Request[Any, Any, Any], context: RequestContext) -> None:
        """Raise to refuse; return to let the request through."""
        ip = context.client_ip
        # The hot path: one KV read (or one step of the request's admission batch), no extra
        # coroutine layer, no IP parsing without an allowlist.
        if (
            self._enforce_blocks
            and ip
            and not (self._has_allowlist and self.policy.allowlisted(ip))
        ):
            admission = context.admission
            if admission is not None:
                admission.defer(Absent(self._block_prefix + ip), _refuse_blocked)
            elif await self._kv.get(self._block_prefix + ip) is not None:
                raise PermissionDeniedError(IP_BLOCKED, code="ip_blocked")
        finding = inspect_headers(self.policy, request.scope["headers"])
        if finding is None:
            return
        action = "security.scanner" if finding.kind == "scanner" else "security.header_anomaly"
        await audit_rejection(
            self.kernel, context, action=action, reason=finding.reason, details=finding.details
        )
        if finding.kind == "scanner":
            raise PermissionDeniedError(REJECTED, code="request_rejected")
        raise InvalidRequestError(REJECTED, code="request_rejected")
