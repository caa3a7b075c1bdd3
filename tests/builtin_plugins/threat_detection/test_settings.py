"""The ``[threat_detection]`` section: validated at boot, and runtime changes take effect."""

from __future__ import annotations

from typing import Any

import pytest

from builtin_plugins.threat_detection.settings import CHECKS, ThreatSettings
from kernel.errors import ConfigError

ATTACKER = "203.0.113.7"


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("CHECKS", "failed_logins_per_ip,port_scans", "port_scans"),
        ("ALLOWLIST_IPS", "10.0.0.0/33", "10.0.0.0/33"),
        ("BLOCK_SECONDS", "0", "block_seconds"),
        ("MAX_HEADER_COUNT", "-1", "max_header_count"),
    ],
)
def test_bad_settings_stop_the_boot(make_settings: Any, key: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        make_settings(**{f"ENCLAVA_THREAT_DETECTION_{key}": value})


def test_defaults() -> None:
    settings = ThreatSettings()
    assert settings.checks == list(CHECKS)
    assert settings.block_seconds == 900
    assert (settings.failed_logins_per_ip, settings.failed_login_window_seconds) == (20, 600)
    assert (settings.invalid_keys_per_ip, settings.invalid_key_window_seconds) == (30, 300)
    assert (settings.max_header_count, settings.max_header_bytes) == (100, 16384)
    assert {"sqlmap", "nikto", "nmap", "nuclei", "openvas"} <= set(settings.scanner_user_agents)


async def test_runtime_changes_apply_without_restart(
    make_app: Any, running: Any, client_at: Any, failed_logins: Any
) -> None:
    app = make_app()
    async with running(app), client_at(app, ATTACKER) as attacker:
        await failed_logins(app, ATTACKER, 2)
        assert (await attacker.get("/api/v1/probe")).is_success
        await app.state.kernel.update_section("threat_detection", {"failed_logins_per_ip": 3})
        await failed_logins(app, ATTACKER, 1)
        assert (await attacker.get("/api/v1/probe")).json()["error"]["code"] == "ip_blocked"
