"""``enclava admin create``: the first super admin, from the command line, password on stdin."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path
from typing import Any

import pytest
from support.identity import login

from builtin_plugins.auth.users import get_user
from kernel.app import create_app
from kernel.cli import main

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def clean_cwd_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in an empty directory with no ENCLAVA_* variable from the machine."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("ENCLAVA_")]:
        monkeypatch.delenv(name)


def admin_create(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stdin: str,
    *args: str,
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["admin", "create", "--password-stdin", *args])
    out, err = capsys.readouterr()
    return code, out.strip(), err


def test_help_lists_the_admin_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["admin", "create", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for option in ("--email", "--password-stdin", "--role"):
        assert option in out


async def test_creates_the_first_super_admin_who_can_log_in(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    tmp_path: Path,
    make_settings: Any,
    running: Any,
) -> None:
    monkeypatch.setenv("ENCLAVA_DATABASE_URL", database_url)
    code, out, err = await _in_thread(
        admin_create, monkeypatch, capsys, PASSWORD + "\n", "--email", "Root@Example.com"
    )
    assert (code, err) == (0, "")
    user_id = out
    assert len(user_id) == 32
    # Every builtin's migrations ran: the full app opens this database.
    app = create_app(make_settings(database_url, data_dir=tmp_path / "data"))
    async with running(app) as client:
        user = await get_user(app.state.kernel.stores.db, user_id)
        assert user is not None
        assert (user.email, user.role, user.is_active) == ("root@example.com", "super_admin", True)
        headers = await login(client, "root@example.com", PASSWORD)
        me = await client.get("/api-internal/v1/auth/me", headers=headers)
        assert me.json()["role"] == "super_admin"
    code, out, err = await _in_thread(
        admin_create, monkeypatch, capsys, PASSWORD, "--email", "root@example.com"
    )
    assert code == 1
    assert out == ""
    assert "already exists" in err
    assert "root@example.com" in err


async def _in_thread(func: Any, *args: Any) -> Any:
    """The CLI calls asyncio.run; keep it off the test's running loop."""
    return await asyncio.to_thread(func, *args)


def test_role_option_and_windows_newline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = admin_create(
        monkeypatch, capsys, PASSWORD + "\r\n", "--email", "ops@example.com", "--role", "admin"
    )
    assert code == 0
    assert len(out) == 32
    with pytest.raises(SystemExit) as caught:
        admin_create(monkeypatch, capsys, PASSWORD, "--email", "x@example.com", "--role", "god")
    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("stdin", "message"),
    [("", "no password"), ("\n", "no password"), ("short\n", "at least 12 characters")],
)
def test_refuses_empty_and_short_passwords(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, message: str
) -> None:
    code, out, err = admin_create(monkeypatch, capsys, stdin, "--email", "root@example.com")
    assert (code, out) == (1, "")
    assert message in err


def test_honours_the_configured_minimum_length(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENCLAVA_AUTH_PASSWORD_MIN_LENGTH", "40")
    code, _, err = admin_create(monkeypatch, capsys, PASSWORD, "--email", "root@example.com")
    assert code == 1
    assert "at least 40 characters" in err


def test_password_stdin_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["admin", "create", "--email", "root@example.com"])
    assert caught.value.code == 2
    assert "--password-stdin" in capsys.readouterr().err
