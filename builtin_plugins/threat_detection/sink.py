"""The counting audit sink: failed logins and invalid API keys become IP blocks and account flags.

Watches the events auth and api_keys already emit, so detection costs nothing on the hot path.
Failed logins are ``auth.login`` with outcome failure or denied, and ``auth.lockout``; the account
is the user the event is about (``resource_id``), else ``details["email_hash"]``, else the actor.
Every decision is itself audited (``security.*``), and ``security.*`` events are ignored here.
"""

from __future__ import annotations

from typing import Any

from builtin_plugins.threat_detection.blocks import Blocks, Counter, Subject
from builtin_plugins.threat_detection.policy import Policy, normalise_ip
from kernel.runtime import Kernel
from kernel.types import AuditEvent

__all__ = ["ThreatSink", "account_of", "is_failed_login"]

_ACCOUNT_MAX = 128


def is_failed_login(event: AuditEvent) -> bool:
    """True for the events auth emits when a login attempt does not succeed."""
    if event.action == "auth.login":
        return event.outcome in ("failure", "denied")
    return event.action == "auth.lockout"


def account_of(event: AuditEvent) -> str | None:
    """The account a failed login targeted, or None when the event does not say."""
    if event.resource_type == "user" and event.resource_id:
        return event.resource_id[:_ACCOUNT_MAX]
    email_hash = event.details.get("email_hash")
    if isinstance(email_hash, str) and email_hash:
        return email_hash[:_ACCOUNT_MAX]
    return event.actor_id[:_ACCOUNT_MAX] if event.actor_id else None


class ThreatSink:
    """Counts failures per IP and per account and blocks when a threshold is reached."""

    name = "threat_detection.counters"

    def __init__(self, kernel: Kernel, policy: Policy, blocks: Blocks) -> None:
        self.kernel = kernel
        self.policy = policy
        self.blocks = blocks

    async def write(self, event: AuditEvent) -> None:
        """Count ``event`` if it is a failure worth counting; KV errors propagate (fail closed)."""
        if event.action.startswith("security."):
            return
        settings = self.policy.settings
        if is_failed_login(event):
            window = settings.failed_login_window_seconds
            if self.policy.enabled("failed_logins_per_ip"):
                await self._count_ip(event, "login_ip", settings.failed_logins_per_ip, window)
            account = account_of(event)
            if account and self.policy.enabled("failed_logins_per_account"):
                await self._count_account(event, account)
        elif event.action == "api_key.invalid" and self.policy.enabled("invalid_keys_per_ip"):
            limit, window = settings.invalid_keys_per_ip, settings.invalid_key_window_seconds
            await self._count_ip(event, "invalid_key_ip", limit, window)

    async def _count_ip(self, event: AuditEvent, counter: Counter, limit: int, window: int) -> None:
        ip = normalise_ip(event.ip)
        if ip is None or self.policy.allowlisted(ip):
            return
        counted = await self.blocks.count(counter, ip, window=window)
        if counted.count >= limit:
            reason = "failed_logins" if counter == "login_ip" else "invalid_api_keys"
            details = {"count": counted.count, "window_seconds": window}
            await self._block(event, "ip", ip, reason, details)

    async def _count_account(self, event: AuditEvent, account: str) -> None:
        settings = self.policy.settings
        window = settings.failed_login_window_seconds
        counted = await self.blocks.count("login_account", account, window=window)
        if counted.count >= settings.failed_logins_per_account:
            details = {"count": counted.count, "window_seconds": window}
            await self._block(event, "account", account, "credential_stuffing", details)

    async def _block(
        self, event: AuditEvent, subject: Subject, value: str, reason: str, details: dict[str, Any]
    ) -> None:
        seconds = self.policy.settings.block_seconds
        if not await self.blocks.block(subject, value, reason=reason, seconds=seconds):
            return  # already blocked, by this replica or another
        await self.kernel.audit(
            AuditEvent(
                action="security.ip_blocked" if subject == "ip" else "security.account_flagged",
                outcome="success",
                actor_type="system",
                actor_id="threat_detection",
                resource_type=subject,
                resource_id=value,
                ip=event.ip,
                request_id=event.request_id,
                details={"reason": reason, "block_seconds": seconds, **details},
            )
        )
