"""The ``enclava`` command, run in-process: help, exit codes, masking, migrations, plugins."""

from __future__ import annotations

import base64
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from kernel.cli import Context, build_parser, main
from kernel.errors import ConfigError
from kernel.hookspecs import hookimpl
from kernel.plugins import PluginManager
from kernel.settings import Settings
from kernel.types import ServeOption

pytestmark = pytest.mark.usefixtures("clean_cwd_and_env")


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace ``uvicorn.run`` so no test binds a port; returns the calls it received."""
    calls: list[dict[str, Any]] = []

    def record(app: str, **kwargs: Any) -> None:
        calls.append({"app": app, **kwargs})

    monkeypatch.setattr(uvicorn, "run", record)
    return calls


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def exit_code(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[object, str]:
    with pytest.raises(SystemExit) as caught:
        main(list(argv))
    out, err = capsys.readouterr()
    return caught.value.code, out + err


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, output = exit_code(capsys, "--help")
    assert code == 0
    for command in ("serve", "migrate", "plugins", "config"):
        assert command in output


def test_serve_help_lists_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, output = exit_code(capsys, "serve", "--help")
    assert code == 0
    for option in ("--host", "--port", "--workers", "--config"):
        assert option in output


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, output = exit_code(capsys)
    assert code == 2
    assert "COMMAND" in output


def test_config_show_masks_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files_key = base64.b64encode(bytes(range(32))).decode()
    monkeypatch.setenv("ENCLAVA_FILES_KEY", files_key)
    monkeypatch.setenv("ENCLAVA_DATABASE_URL", "postgresql+asyncpg://gw:db-pass-123@db/enclava")
    monkeypatch.setenv("ENCLAVA_REDIS_PREFIX", "cli-prefix:")
    code, out, _ = run(capsys, "config", "show")
    assert code == 0
    assert files_key not in out
    assert "db-pass-123" not in out
    shown = json.loads(out)
    assert shown["database"]["url"] == "postgresql+asyncpg://gw:********@db/enclava"
    assert shown["files"]["key"] == "********"
    assert shown["redis"]["prefix"] == "cli-prefix:"


def test_config_file_from_flag_or_environment_is_used(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "enclava.toml"
    config.write_text("[server]\nport = 9123\n")
    code, out, _ = run(capsys, "config", "show", "--config", str(config))
    assert code == 0
    assert json.loads(out)["server"]["port"] == 9123
    monkeypatch.setenv("ENCLAVA_CONFIG_FILE", str(config))
    code, out, _ = run(capsys, "config", "show")
    assert code == 0
    assert json.loads(out)["server"]["port"] == 9123


def test_unknown_environment_variable_is_a_config_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCLAVA_DATABSE_URL", "sqlite+aiosqlite:///x.db")
    code, _, err = run(capsys, "config", "show")
    assert code == 3
    assert "ENCLAVA_DATABSE_URL" in err


@pytest.mark.parametrize(
    ("text", "message"), [("[server\n", "not valid TOML"), (None, "does not exist")]
)
def test_bad_config_file_is_a_config_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str | None, message: str
) -> None:
    config = tmp_path / "bad.toml"
    if text is not None:
        config.write_text(text)
    code, _, err = run(capsys, "migrate", "--config", str(config))
    assert code == 3
    assert message in err
    assert not (tmp_path / "data").exists()


def test_migrate_creates_the_sqlite_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "migrate")
    assert code == 0
    assert "up to date" in out
    assert (tmp_path / "data" / "enclava.db").is_file()


def test_migrate_on_postgresql_is_repeatable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv("ENCLAVA_DATABASE_URL", postgres_url)
    assert run(capsys, "migrate")[0] == 0
    assert run(capsys, "migrate")[0] == 0
    code, out, _ = run(capsys, "plugins", "list", "--json")
    assert code == 0
    assert any(row["name"] == "health" for row in json.loads(out))


def test_migrate_against_unreachable_database_exits_4_without_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql+asyncpg://gw:pw-hunter2@127.0.0.1:{_closed_port()}/enclava"
    monkeypatch.setenv("ENCLAVA_DATABASE_URL", url)
    code, out, err = run(capsys, "migrate")
    assert code == 4
    assert "sql" in err
    assert "pw-hunter2" not in out + err


def test_plugins_list_shows_health_as_essential_builtin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "plugins", "list")
    assert code == 0
    assert out.splitlines()[0].split() == ["NAME", "KIND", "VERSION", "ENABLED", "ESSENTIAL"]
    health = next(line.split() for line in out.splitlines() if line.startswith("health "))
    assert health[1] == "builtin"
    assert health[3:] == ["true", "true"]


def test_plugins_list_json_shows_health_as_essential_builtin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "plugins", "list", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["health"]["kind"] == "builtin"
    assert rows["health"]["enabled"] is True
    assert rows["health"]["essential"] is True
    assert set(rows["health"]) == {
        "name",
        "kind",
        "version",
        "enabled",
        "essential",
        "description",
    }


@pytest.mark.parametrize(("name", "message"), [("health", "essential"), ("nope", "nope")])
def test_plugins_disable_refuses_essential_or_unknown_plugin(
    capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    code, out, err = run(capsys, "plugins", "disable", name)
    assert code == 1
    assert message in err
    assert "disabled" not in out


def test_serve_with_workers_and_embedded_stores_fails_before_uvicorn(
    capsys: pytest.CaptureFixture[str], no_uvicorn: list[dict[str, Any]], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "serve", "--workers", "2")
    assert code == 3
    assert "ENCLAVA_REDIS_URL" in err
    assert "ENCLAVA_QDRANT_URL" in err
    assert no_uvicorn == []
    assert not (tmp_path / "data").exists()


def test_serve_flags_override_settings_and_reach_uvicorn(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_uvicorn: list[dict[str, Any]],
    redis_url: str,
    qdrant_readyz: str,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("ENCLAVA_REDIS_URL", redis_url)
    monkeypatch.setenv("ENCLAVA_QDRANT_URL", qdrant_readyz)
    monkeypatch.setenv("ENCLAVA_SERVER_FORWARDED_ALLOW_IPS", "10.0.0.5")
    code, _, _ = run(capsys, "serve", "--host", "0.0.0.0", "--port", "9231", "--workers", "3")
    assert code == 0
    [call] = no_uvicorn
    assert (call["host"], call["port"], call["workers"]) == ("0.0.0.0", 9231, 3)
    assert call["forwarded_allow_ips"] == "10.0.0.5"
    assert call["timeout_graceful_shutdown"] == 10  # a stop never waits on a stuck request
    assert call["access_log"] is False  # the kernel's access log (server.access_log) replaces it
    assert os.environ["ENCLAVA_SERVER_WORKERS"] == "3"  # the app factory in each worker sees it
    assert (tmp_path / "data" / "enclava.db").is_file()  # migrated before serving


def test_serve_trusts_no_forwarding_proxy_unless_told(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_uvicorn: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """By default a local process cannot pose as another IP with ``X-Forwarded-For``."""
    caplog.set_level("INFO", logger="kernel.cli")
    assert run(capsys, "serve")[0] == 0
    assert (no_uvicorn[0]["proxy_headers"], no_uvicorn[0]["forwarded_allow_ips"]) == (False, None)
    assert "X-Forwarded-For is ignored" in caplog.text
    monkeypatch.setenv("ENCLAVA_SERVER_FORWARDED_ALLOW_IPS", "10.0.0.5")
    assert run(capsys, "serve")[0] == 0
    assert (no_uvicorn[1]["proxy_headers"], no_uvicorn[1]["forwarded_allow_ips"]) == (
        True,
        "10.0.0.5",
    )
    assert "trusting X-Forwarded-For from 10.0.0.5" in caplog.text


class Loud:
    """A plugin contributing ``serve --loud``, which raises the log level it is given."""

    PLUGIN_NAME = "loud"

    def __init__(self, flag: str = "--loud", refuse: bool = False) -> None:
        self.flag = flag
        self.refuse = refuse
        self.seen: list[tuple[Settings, Any]] = []

    def _prepare(self, settings: Settings, configured: Any) -> dict[str, str]:
        self.seen.append((settings, configured))
        if self.refuse:
            raise ConfigError("--loud is not allowed here")
        return {"ENCLAVA_SERVER_LOG_LEVEL": "debug"}

    @hookimpl
    def enclava_serve_options(self) -> list[ServeOption]:
        return [ServeOption(flag=self.flag, help="log everything", prepare=self._prepare)]


def _serve_with(plugin: Loud, *argv: str) -> int:
    ctx = Context(None, {}, PluginManager(extra=[plugin], load_entry_points=False))
    args = build_parser(ctx).parse_args(["serve", *argv])
    code: int = args.handler(args, ctx)
    return code


def test_a_plugin_serve_flag_prepares_overrides_that_reach_uvicorn(
    monkeypatch: pytest.MonkeyPatch, no_uvicorn: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("ENCLAVA_SERVER_LOG_LEVEL", "")
    monkeypatch.delenv("ENCLAVA_SERVER_LOG_LEVEL")
    monkeypatch.setenv("ENCLAVA_SERVER_HOST", "127.0.0.2")
    plugin = Loud()
    assert _serve_with(plugin, "--loud", "--port", "9300") == 0
    [(settings, configured)] = plugin.seen
    assert settings.kernel.server.port == 9300  # prepared after the command line's overrides
    assert configured == {"server": {"host": "127.0.0.2", "port": "9300"}}
    [call] = no_uvicorn
    assert call["log_level"] == "debug"
    assert os.environ["ENCLAVA_SERVER_LOG_LEVEL"] == "debug"


def test_a_plugin_serve_flag_not_given_is_not_prepared(
    no_uvicorn: list[dict[str, Any]],
) -> None:
    plugin = Loud()
    assert _serve_with(plugin) == 0
    assert plugin.seen == []
    assert no_uvicorn[0]["log_level"] == "info"


def test_a_plugin_serve_flag_can_refuse_to_start(no_uvicorn: list[dict[str, Any]]) -> None:
    with pytest.raises(ConfigError, match="not allowed"):
        _serve_with(Loud(refuse=True), "--loud")
    assert no_uvicorn == []


@pytest.mark.parametrize("flag", ["--port", "loud"])
def test_a_clashing_or_malformed_serve_flag_fails_boot(flag: str) -> None:
    ctx = Context(None, {}, PluginManager(extra=[Loud(flag)], load_entry_points=False))
    with pytest.raises(ConfigError, match="loud"):
        build_parser(ctx)
