"""Settings compiled once per component build: parsed networks, lowered patterns, check flags."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from builtin_plugins.threat_detection.settings import ThreatSettings

__all__ = ["IP_COUNTERS", "Network", "Policy", "normalise_ip"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IP_COUNTERS = frozenset({"failed_logins_per_ip", "invalid_keys_per_ip"})


def normalise_ip(value: str | None) -> str | None:
    """The canonical text of an IP address, or None when ``value`` is not one."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Policy:
    """What the checks and the counting sink enforce, ready for the hot path."""

    settings: ThreatSettings
    checks: frozenset[str]
    allowlist: tuple[Network, ...]
    scanner_patterns: tuple[str, ...]
    scanner_regex: re.Pattern[bytes] | None

    @classmethod
    def from_settings(cls, settings: ThreatSettings) -> Policy:
        """Compile ``settings`` (already validated)."""
        patterns = tuple(dict.fromkeys(a.strip().lower() for a in settings.scanner_user_agents))
        # One alternation over the lower-cased bytes: cheaper than a loop of ``in`` tests.
        alternation = b"|".join(re.escape(pattern.encode()) for pattern in patterns)
        return cls(
            settings=settings,
            checks=frozenset(settings.checks),
            allowlist=tuple(ipaddress.ip_network(c, strict=False) for c in settings.allowlist_ips),
            scanner_patterns=patterns,
            scanner_regex=re.compile(alternation) if patterns else None,
        )

    @property
    def enforces_ip_blocks(self) -> bool:
        """IP blocks are enforced while any per-IP counter is enabled."""
        return bool(self.checks & IP_COUNTERS)

    def enabled(self, check: str) -> bool:
        """True when ``check`` is listed in ``checks``."""
        return check in self.checks

    def allowlisted(self, ip: str) -> bool:
        """True when ``ip`` falls in ``allowlist_ips`` (it is then never blocked)."""
        if not self.allowlist:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.allowlist)

    def scanner_match(self, user_agent: bytes) -> str | None:
        """The scanner pattern found in ``user_agent`` (case-insensitive), or None."""
        if self.scanner_regex is None:
            return None
        found = self.scanner_regex.search(user_agent.lower())
        return None if found is None else found.group().decode()
