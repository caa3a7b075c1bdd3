"""``enclava serve --demo`` in-process (uvicorn replaced): what it sets and what it refuses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from builtin_plugins.demo.settings import DemoSettings
from builtin_plugins.providers.settings import PrivatemodeSettings, RedPillSettings
from builtin_plugins.simulators.keys import TEST_API_KEY
from kernel.cli import main
from kernel.plugins import PluginManager
from kernel.settings import load_settings

# ``serve`` exports its overrides to os.environ for uvicorn's factory; listing them here makes
# monkeypatch remove them again after each test.
_EXPORTS = (
    "ENCLAVA_CONFIG_FILE",
    "ENCLAVA_SERVER_HOST",
    "ENCLAVA_SERVER_PORT",
    "ENCLAVA_SERVER_WORKERS",
    "PROMETHEUS_MULTIPROC_DIR",  # serve --workers N shares metrics through files
    "ENCLAVA_DEMO_ENABLED",
    *(f"ENCLAVA_DEMO_{kind}_PORT" for kind in ("PRIVATEMODE", "REDPILL")),
    *(
        f"ENCLAVA_{kind}_{key}"
        for kind in ("PRIVATEMODE", "REDPILL")
        for key in ("ENABLED", "URL", "API_KEY", "API_KEY_FILE")
    ),
)


@pytest.fixture(autouse=True)
def clean_cwd_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in an empty directory with no ENCLAVA_* variable from the machine."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("ENCLAVA_")]:
        monkeypatch.delenv(name)
    for name in _EXPORTS:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace ``uvicorn.run`` so no test binds a port; returns the calls it received."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append({"app": app, **kwargs}))
    return calls


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


def _exported_settings() -> tuple[DemoSettings, PrivatemodeSettings, RedPillSettings]:
    """The settings uvicorn's app factory will load from the exported environment."""
    schemas = PluginManager(load_entry_points=False).settings_schemas()
    settings = load_settings(env=os.environ, plugin_schemas=schemas)
    return (
        settings.section("demo", DemoSettings),
        settings.section("privatemode", PrivatemodeSettings),
        settings.section("redpill", RedPillSettings),
    )


def test_serve_help_offers_demo(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--help"])
    assert caught.value.code == 0
    assert "--demo" in capsys.readouterr().out


def test_demo_points_both_providers_at_loopback_simulators(
    capsys: pytest.CaptureFixture[str], no_uvicorn: list[dict[str, Any]], tmp_path: Path
) -> None:
    code, output = run(capsys, "serve", "--demo", "--port", "9123")
    assert code == 0, output
    [call] = no_uvicorn
    assert call["port"] == 9123
    assert call["workers"] is None
    demo, privatemode, redpill = _exported_settings()
    assert demo.enabled
    ports = {demo.privatemode_port, demo.redpill_port}
    assert len(ports) == 2
    assert 0 not in ports
    assert 9123 not in ports
    assert privatemode.url == f"http://127.0.0.1:{demo.privatemode_port}/v1"
    assert redpill.url == f"http://127.0.0.1:{demo.redpill_port}/v1"
    for provider in (privatemode, redpill):
        assert provider.enabled
        assert provider.api_key == TEST_API_KEY
    assert (tmp_path / "data" / "enclava.db").is_file()


def test_demo_keeps_pinned_ports_and_replaces_loopback_urls_and_key_files(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_uvicorn: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "redpill.key"
    key_file.write_text("a-real-key\n")
    config = tmp_path / "enclava.toml"
    config.write_text(f'[redpill]\napi_key_file = "{key_file}"\n[demo]\nredpill_port = 18090\n')
    monkeypatch.setenv("ENCLAVA_PRIVATEMODE_URL", "http://localhost:8080/v1")
    code, output = run(capsys, "serve", "--demo", "--config", str(config))
    assert code == 0, output
    demo, privatemode, redpill = _exported_settings()
    assert demo.redpill_port == 18090
    assert redpill.url == "http://127.0.0.1:18090/v1"
    assert (redpill.api_key, redpill.api_key_file) == (TEST_API_KEY, "")
    assert privatemode.url == f"http://127.0.0.1:{demo.privatemode_port}/v1"


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("ENCLAVA_REDPILL_URL", "https://api.redpill.ai/v1"),
        ("ENCLAVA_PRIVATEMODE_URL", "http://10.1.2.3:8080/v1"),
    ],
)
def test_demo_refuses_a_real_provider_url_from_the_environment(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_uvicorn: list[dict[str, Any]],
    tmp_path: Path,
    variable: str,
    url: str,
) -> None:
    monkeypatch.setenv(variable, url)
    code, output = run(capsys, "serve", "--demo")
    assert code == 3
    assert "simulated providers only" in output
    assert url in output
    assert no_uvicorn == []
    assert not (tmp_path / "data").exists()
    assert "ENCLAVA_DEMO_ENABLED" not in os.environ


def test_demo_refuses_a_real_provider_url_from_the_config_file_and_masks_passwords(
    capsys: pytest.CaptureFixture[str], no_uvicorn: list[dict[str, Any]], tmp_path: Path
) -> None:
    config = tmp_path / "enclava.toml"
    config.write_text('[redpill]\nurl = "https://gw:hunter2@redpill.example/v1"\n')
    code, output = run(capsys, "serve", "--demo", "--config", str(config))
    assert code == 3
    assert "[redpill] url is https://gw:********@redpill.example/v1" in output
    assert "hunter2" not in output
    assert no_uvicorn == []


def test_demo_refuses_more_than_one_worker(
    capsys: pytest.CaptureFixture[str], no_uvicorn: list[dict[str, Any]]
) -> None:
    code, output = run(capsys, "serve", "--demo", "--workers", "2")
    assert code == 3
    assert "one worker" in output
    assert no_uvicorn == []


def test_demo_refuses_clashing_ports(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_uvicorn: list[dict[str, Any]],
) -> None:
    monkeypatch.setenv("ENCLAVA_DEMO_REDPILL_PORT", "9200")
    code, output = run(capsys, "serve", "--demo", "--port", "9200")
    assert code == 3
    assert "different ports" in output
    assert no_uvicorn == []


def test_a_bad_variable_is_reported_even_with_demo(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_uvicorn: list[dict[str, Any]],
) -> None:
    monkeypatch.setenv("ENCLAVA_SERVER_PORTT", "1")
    code, output = run(capsys, "serve", "--demo")
    assert code == 3
    assert "ENCLAVA_SERVER_PORTT" in output


def test_serve_without_demo_leaves_demo_off(
    capsys: pytest.CaptureFixture[str], no_uvicorn: list[dict[str, Any]]
) -> None:
    code, output = run(capsys, "serve")
    assert code == 0, output
    assert "ENCLAVA_DEMO_ENABLED" not in os.environ
    assert not _exported_settings()[0].enabled
