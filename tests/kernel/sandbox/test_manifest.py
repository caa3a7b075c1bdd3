"""``plugin.toml`` validation: everything unknown or out of range fails with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.errors import ConfigError
from kernel.sandbox.manifest import load_manifest, parse_manifest, permissions_digest

VALID = """
name = "demo"
version = "1.0.0"
abi = "0.1.0"

[[endpoints]]
method = "GET"
path = "/stats"

[filter]
order = 10

[permissions]
kv = true
http = ["api.example.com", "internal.example:8443"]

[config]
mode = { type = "string", default = "lax" }

[limits]
memory_mb = 32
"""


def test_valid_manifest(tmp_path: Path) -> None:
    (tmp_path / "plugin.toml").write_text(VALID)
    manifest = load_manifest(tmp_path / "plugin.toml")
    assert manifest.name == "demo"
    assert manifest.endpoints[0].path == "/stats"
    assert manifest.filter is not None
    assert manifest.filter.request
    assert not manifest.filter.response
    assert manifest.permissions.http == ("api.example.com", "internal.example:8443")
    assert manifest.config["mode"].default == "lax"
    assert manifest.limits.memory_mb == 32
    assert manifest.limits.timeout_ms == 2000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('abi = "0.1.0"', 'abi = "9.0.0"'), "abi '9.0.0' is not supported"),
        (('name = "demo"', 'name = "Demo!"'), "name must match"),
        (("kv = true", "kv = true\nfs = true"), "Object contains unknown field `fs`"),
        (('"api.example.com"', '"https://x/"'), "bad http host"),
        (('path = "/stats"', 'path = "/../etc"'), "bad endpoint path"),
        (("memory_mb = 32", "memory_mb = 4"), "memory_mb must be within 16..1024"),
        (('version = "1.0.0"', 'version = "1.0.0"\nsha256 = "abc"'), "sha256 must be"),
        (('version = "1.0.0"', 'version = "1.0.0"\nwasm = "../x.wasm"'), "wasm must be"),
    ],
)
def test_invalid_manifests_name_the_problem(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match="upload") as info:
        parse_manifest(VALID.replace(*change), "upload/plugin.toml")
    assert message in str(info.value)


def test_duplicate_endpoints_are_refused() -> None:
    twice = VALID + '\n[[endpoints]]\nmethod = "GET"\npath = "/stats"\n'
    with pytest.raises(ConfigError, match="declared twice"):
        parse_manifest(twice.replace("[limits]", "[limits]"), "x")


def test_approval_digest_covers_component_and_permissions() -> None:
    manifest = parse_manifest(VALID, "x")
    wider = parse_manifest(VALID.replace('http = ["api.example.com", ', "http = ["), "x")
    digest = permissions_digest(manifest, "a" * 64)
    assert digest == permissions_digest(manifest, "a" * 64)
    assert digest != permissions_digest(manifest, "b" * 64)
    assert digest != permissions_digest(wider, "a" * 64)
