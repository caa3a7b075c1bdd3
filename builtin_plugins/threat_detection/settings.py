"""The ``[threat_detection]`` settings section (``ENCLAVA_THREAT_DETECTION_*``)."""

from __future__ import annotations

import ipaddress

import msgspec

__all__ = ["CHECKS", "DEFAULT_SCANNER_USER_AGENTS", "ThreatSettings"]

CHECKS: tuple[str, ...] = (
    "failed_logins_per_ip",
    "failed_logins_per_account",
    "invalid_keys_per_ip",
    "header_anomalies",
    "scanner_user_agents",
)
"""Every check ``checks`` can name; IP blocks are enforced while any per-IP counter is on."""

DEFAULT_SCANNER_USER_AGENTS: tuple[str, ...] = (
    "sqlmap",
    "nikto",
    "nmap",
    "masscan",
    "zgrab",
    "nuclei",
    "dirbuster",
    "gobuster",
    "wpscan",
    "acunetix",
    "nessus",
    "openvas",
    "feroxbuster",
    "ffuf",
    "wfuzz",
    "netsparker",
    "arachni",
    "skipfish",
    "w3af",
    "whatweb",
    "jaeles",
    "xsstrike",
    "commix",
)


class ThreatSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Which checks run, their thresholds (count per window) and who is never blocked."""

    checks: list[str] = msgspec.field(default_factory=lambda: list(CHECKS))
    block_seconds: int = 900
    failed_logins_per_ip: int = 20
    failed_logins_per_account: int = 10
    failed_login_window_seconds: int = 600
    invalid_keys_per_ip: int = 30
    invalid_key_window_seconds: int = 300
    max_header_count: int = 100
    max_header_bytes: int = 16384
    scanner_user_agents: list[str] = msgspec.field(
        default_factory=lambda: list(DEFAULT_SCANNER_USER_AGENTS)
    )
    allowlist_ips: list[str] = []

    def __post_init__(self) -> None:
        unknown = sorted(set(self.checks) - set(CHECKS))
        if unknown:
            raise ValueError(f"unknown checks {unknown}; known: {', '.join(CHECKS)}")
        positive = (
            "block_seconds",
            "failed_logins_per_ip",
            "failed_logins_per_account",
            "failed_login_window_seconds",
            "invalid_keys_per_ip",
            "invalid_key_window_seconds",
            "max_header_count",
            "max_header_bytes",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if any(not agent.strip() for agent in self.scanner_user_agents):
            raise ValueError("scanner_user_agents must not contain empty entries")
        for cidr in self.allowlist_ips:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"allowlist_ips entry {cidr!r} is not an IP or CIDR") from None
