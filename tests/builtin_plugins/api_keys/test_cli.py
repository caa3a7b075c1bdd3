"""``enclava keys create|revoke`` in-process: stdout carries only the key, failures exit 1 with a
message on stderr, and a revocation reaches running replicas through Redis."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import pytest

from builtin_plugins.api_keys.keys import PUBLIC_SCOPES
from builtin_plugins.auth.users import create_user
from kernel.cli import main
from kernel.plugins import PluginManager
from kernel.settings import load_settings
from kernel.storage.stores import open_sql

WHOAMI = "/api/v1/probe/whoami"
EMAIL = "ops@example.com"


@pytest.fixture(autouse=True)
def clean_cwd_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in an empty directory with no ENCLAVA_* variable from the machine."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("ENCLAVA_")]:
        monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def _add_user(email: str) -> None:
    schemas = PluginManager(load_entry_points=False).settings_schemas()
    db = open_sql(load_settings(plugin_schemas=schemas))
    try:
        await create_user(db, email=email, password_hash="not-a-hash")
    finally:
        await db.close()


@pytest.fixture
def cli_db(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database_url: str
) -> str:
    """The database the CLI uses (SQLite or PostgreSQL), migrated, with one user."""
    monkeypatch.setenv("ENCLAVA_DATABASE_URL", database_url)
    assert run(capsys, "migrate")[0] == 0
    asyncio.run(_add_user(EMAIL))
    return database_url


async def _whoami(app_factory: Any, running: Any, key: str) -> Any:
    app = app_factory()
    async with running(app) as client:
        return await client.get(WHOAMI, headers={"X-API-Key": key})


@pytest.fixture
def app_like_cli(make_settings: Any, probe: Any, tmp_path: Path) -> Any:
    """Apps with the CLI's database, Redis prefix and data dir (hence the same pepper)."""
    from kernel.app import create_app

    def build() -> Any:
        settings = make_settings(
            os.environ["ENCLAVA_DATABASE_URL"],
            redis_prefix=os.environ.get("ENCLAVA_REDIS_PREFIX"),
            data_dir=tmp_path / "data",
            ENCLAVA_API_KEYS_CACHE_TTL_SECONDS="3600",
        )
        return create_app(settings, plugins=PluginManager(extra=[probe], load_entry_points=False))

    return build


async def test_create_prints_only_the_key(
    capsys: pytest.CaptureFixture[str], cli_db: str, app_like_cli: Any, running: Any
) -> None:
    code, out, err = await asyncio.to_thread(
        run, capsys, "keys", "create", "--email", EMAIL.upper(), "--name", "deploy"
    )
    assert code == 0, err
    assert re.fullmatch(r"en_[A-Za-z0-9_-]{40}\n", out)
    response = await _whoami(app_like_cli, running, out.strip())
    assert response.status_code == 200, response.text
    assert response.json()["scopes"] == sorted(PUBLIC_SCOPES)


async def test_create_with_scopes_and_models(
    capsys: pytest.CaptureFixture[str], cli_db: str, app_like_cli: Any, running: Any
) -> None:
    argv = ["keys", "create", "--email", EMAIL, "--name", "n", "--scope", "models.list"]
    argv += ["--scope", "embeddings", "--model", "m1", "--model", "m2"]
    code, out, _ = await asyncio.to_thread(run, capsys, *argv)
    assert code == 0
    body = (await _whoami(app_like_cli, running, out.strip())).json()
    assert body["scopes"] == ["embeddings", "models.list"]
    assert body["allowed_models"] == ["m1", "m2"]


async def test_create_with_a_region(
    capsys: pytest.CaptureFixture[str], cli_db: str, app_like_cli: Any, running: Any
) -> None:
    argv = ["keys", "create", "--email", EMAIL, "--name", "n", "--region", "eu"]
    code, out, _ = await asyncio.to_thread(run, capsys, *argv)
    assert code == 0
    body = (await _whoami(app_like_cli, running, out.strip())).json()
    assert body["required_region"] == "eu"


def test_create_refuses_a_malformed_region(capsys: pytest.CaptureFixture[str], cli_db: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["keys", "create", "--email", EMAIL, "--name", "n", "--region", "EU west"])
    assert caught.value.code == 2
    assert "lowercase letters" in capsys.readouterr().err


def test_create_refuses_an_unknown_region(capsys: pytest.CaptureFixture[str], cli_db: str) -> None:
    code, out, err = run(
        capsys, "keys", "create", "--email", EMAIL, "--name", "n", "--region", "mars"
    )
    assert (code, out) == (1, "")
    assert err.strip() == "enclava: Unknown region 'mars'; known regions: eu, us."


def test_create_refuses_a_name_the_api_would_refuse(
    capsys: pytest.CaptureFixture[str], cli_db: str
) -> None:
    code, out, err = run(capsys, "keys", "create", "--email", EMAIL, "--name", "n" * 101)
    assert (code, out) == (1, "")
    assert err.strip() == "enclava: name must be at most 100 characters."


def test_create_for_an_unknown_email_fails(capsys: pytest.CaptureFixture[str], cli_db: str) -> None:
    code, out, err = run(capsys, "keys", "create", "--email", "nobody@example.com", "--name", "n")
    assert (code, out) == (1, "")
    assert "no user with email nobody@example.com" in err


def test_create_refuses_an_unknown_scope(capsys: pytest.CaptureFixture[str], cli_db: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["keys", "create", "--email", EMAIL, "--name", "n", "--scope", "admin"])
    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("form", ["display", "bare"])
async def test_revoke_accepts_both_prefix_forms(
    capsys: pytest.CaptureFixture[str], cli_db: str, app_like_cli: Any, running: Any, form: str
) -> None:
    _, out, _ = await asyncio.to_thread(
        run, capsys, "keys", "create", "--email", EMAIL, "--name", "n"
    )
    key = out.strip()
    prefix = key[:15] if form == "display" else key[3:15]
    code, out, err = await asyncio.to_thread(run, capsys, "keys", "revoke", "--", prefix)
    assert code == 0, err
    assert out == f"revoked {key[:15]}…\n"
    assert key[15:] not in out + err
    assert (await _whoami(app_like_cli, running, key)).status_code == 401


@pytest.mark.parametrize("prefix", ["en_AAAAAAAAAAAA", "AAAAAAAAAAAA", "short", "en_"])
def test_revoke_of_an_unknown_or_malformed_prefix_fails(
    capsys: pytest.CaptureFixture[str], cli_db: str, prefix: str
) -> None:
    code, out, err = run(capsys, "keys", "revoke", prefix)
    assert (code, out) == (1, "")
    assert "enclava:" in err


async def test_revoke_reaches_a_running_replica_at_once(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
    redis_url: str,
    redis_prefix: str,
    app_like_cli: Any,
    running: Any,
) -> None:
    for name, value in (
        ("ENCLAVA_DATABASE_URL", postgres_url),
        ("ENCLAVA_REDIS_URL", redis_url),
        ("ENCLAVA_REDIS_PREFIX", redis_prefix),
        ("ENCLAVA_API_KEYS_CACHE_TTL_SECONDS", "3600"),
    ):
        monkeypatch.setenv(name, value)
    assert (await asyncio.to_thread(run, capsys, "migrate"))[0] == 0
    await _add_user(EMAIL)
    _, out, _ = await asyncio.to_thread(
        run, capsys, "keys", "create", "--email", EMAIL, "--name", "n"
    )
    key = out.strip()
    app = app_like_cli()
    async with running(app) as client:
        assert (await client.get(WHOAMI, headers={"X-API-Key": key})).status_code == 200
        assert (await asyncio.to_thread(run, capsys, "keys", "revoke", key[:15]))[0] == 0
        for _ in range(200):
            if (await client.get(WHOAMI, headers={"X-API-Key": key})).status_code == 401:
                break
            await asyncio.sleep(0.005)
        else:
            pytest.fail("the running replica still accepts the revoked key")
