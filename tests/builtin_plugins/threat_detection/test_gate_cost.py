"""The pre-auth gate's happy path costs one KV read (the block key) and nothing else."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from builtin_plugins.threat_detection.blocks import Blocks
from builtin_plugins.threat_detection.gate import ThreatGate
from builtin_plugins.threat_detection.policy import Policy
from builtin_plugins.threat_detection.settings import ThreatSettings
from kernel.storage.kv import KV
from kernel.types import RequestContext

HEADERS = [
    (b"host", b"gateway.example"),
    (b"user-agent", b"OpenAI/Python 1.55.0"),
    (b"authorization", b"Bearer en_" + b"x" * 40),
    (b"content-type", b"application/json"),
    (b"content-length", b"312"),
]


class RecordingKV:
    """The KV seam, recording every call made through it."""

    def __init__(self, inner: KV) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(key: str, *args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, key))
            return await method(key, *args, **kwargs)

        return call


async def _calls(app: Any, ip: str, **settings: Any) -> list[tuple[str, str]]:
    kernel = app.state.kernel
    kv = RecordingKV(kernel.stores.kv)
    policy = Policy.from_settings(ThreatSettings(**settings))
    gate = ThreatGate(kernel, policy, Blocks(kv))  # type: ignore[arg-type]
    context = RequestContext(request_id="req_1", surface="public", client_ip=ip)
    await gate.check(SimpleNamespace(scope={"headers": HEADERS}), context)  # type: ignore[arg-type]
    return kv.calls


async def test_happy_path_reads_only_the_block_key(make_app: Any, running: Any) -> None:
    app = make_app()
    async with running(app):
        assert await _calls(app, "198.51.100.1") == [("get", "threat:block:198.51.100.1")]
        assert await _calls(app, "10.0.0.9", allowlist_ips=["10.0.0.0/8"]) == []
        assert await _calls(app, "198.51.100.1", checks=["scanner_user_agents"]) == []


async def test_disabling_the_plugin_lifts_enforcement(
    make_app: Any, running: Any, client_at: Any, failed_logins: Any
) -> None:
    app = make_app(ENCLAVA_THREAT_DETECTION_FAILED_LOGINS_PER_IP="1")
    async with running(app), client_at(app, "203.0.113.7") as attacker:
        await failed_logins(app, "203.0.113.7", 1)
        assert (await attacker.get("/api/v1/probe")).status_code == 403
        await app.state.kernel.set_enabled("threat_detection", enabled=False)
        assert (await attacker.get("/api/v1/probe")).is_success
        assert (await attacker.get("/api-internal/v1/security/blocks")).status_code == 404
