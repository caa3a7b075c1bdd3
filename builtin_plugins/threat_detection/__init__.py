"""Threat detection: IP blocks after failed logins or invalid keys, credential-stuffing flags,
header anomalies and scanner user agents, all configurable under ``[threat_detection]``."""

from __future__ import annotations

from builtin_plugins.threat_detection.blocks import Blocks
from builtin_plugins.threat_detection.gate import ThreatGate
from builtin_plugins.threat_detection.login_guard import LoginGuard
from builtin_plugins.threat_detection.policy import Policy
from builtin_plugins.threat_detection.routes import SECURITY_ROUTES
from builtin_plugins.threat_detection.settings import ThreatSettings
from builtin_plugins.threat_detection.sink import ThreatSink
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import AuditSink, RequestCheck, RouteSet, SettingsSection

__all__ = [
    "PLUGIN_NAME",
    "SECTION",
    "VERSION",
    "enclava_audit_sinks",
    "enclava_request_checks",
    "enclava_routes",
    "enclava_settings_schema",
]

PLUGIN_NAME = "threat_detection"
VERSION = "1.0.0"
SECTION = "threat_detection"


def _policy(kernel: Kernel) -> Policy:
    return Policy.from_settings(kernel.settings.section(SECTION, ThreatSettings))


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    """The ``[threat_detection]`` section."""
    return SettingsSection(name=SECTION, schema=ThreatSettings)


@hookimpl
def enclava_request_checks(kernel: Kernel) -> list[RequestCheck]:
    """The pre-auth gate, plus the login guard while per-account detection is on."""
    policy = _policy(kernel)
    blocks = Blocks(kernel.stores.kv)
    checks: list[RequestCheck] = [ThreatGate(kernel, policy, blocks)]
    if policy.enabled("failed_logins_per_account"):
        checks.append(LoginGuard(kernel, blocks))
    return checks


@hookimpl
def enclava_audit_sinks(kernel: Kernel) -> list[AuditSink]:
    """The sink that counts failed logins and invalid keys."""
    return [ThreatSink(kernel, _policy(kernel), Blocks(kernel.stores.kv))]


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    """``/api-internal/v1/security/...`` for admins."""
    return RouteSet(internal=list(SECURITY_ROUTES))
