"""Apps with every builtin plugin (the dashboard among them) and a browser-like client: it keeps
cookies and signs in through the dashboard's form, CSRF token included."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from builtin_plugins.auth.passwords import Passwords
from builtin_plugins.auth.users import create_user
from kernel.app import create_app
from kernel.plugins import PluginManager
from kernel.roles import Role

PASSWORD = "a long enough password 42"
_CSRF = re.compile(r'name="_csrf" value="([0-9a-f]{64})"')


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token a dashboard page embeds in its forms."""
    match = _CSRF.search(page.text)
    assert match, page.text[:500]
    return match.group(1)


def browser(app: Litestar, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    """Another browser (its own cookies, at ``ip``) on an app whose lifespan already runs."""
    transport = httpx.ASGITransport(app=app, client=(ip, 50001))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def new_user(
    app: Litestar, name: str, role: Role = "user", *, force_password_change: bool = False
) -> str:
    """A user ``name@example.com`` with :data:`PASSWORD`; returns the email."""
    email = f"{name}@example.com"
    password_hash = await asyncio.to_thread(Passwords().hash, PASSWORD)
    await create_user(
        app.state.kernel.stores.db,
        email=email,
        password_hash=password_hash,
        role=role,
        force_password_change=force_password_change,
    )
    return email


async def signed_in(
    client: httpx.AsyncClient, app: Litestar, name: str, role: Role = "user"
) -> str:
    """A new user, signed in on ``client``; returns the CSRF token of the session."""
    response = await sign_in(client, await new_user(app, name, role))
    assert response.status_code == 303, response.text
    return csrf_of(await client.get("/dashboard/keys"))


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    """Fill in and send the sign-in form; the answer (a 303 on success)."""
    form = await client.get("/dashboard/login")
    assert form.status_code == 200, form.text
    return await client.post(
        "/dashboard/login",
        data={"_csrf": csrf_of(form), "email": email, "password": password},
    )


@pytest.fixture
def app(make_settings: Any, sqlite_url: str) -> Litestar:
    return create_app(make_settings(sqlite_url), plugins=PluginManager(load_entry_points=False))


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where a browser test's screenshots go: ``$TEST_ARTIFACTS_DIR/screenshots``
    (``./scripts/test.sh`` sets it to ``test-artifacts/``), else the test's temporary folder."""
    artifacts = os.environ.get("TEST_ARTIFACTS_DIR")
    return Path(artifacts) / "screenshots" if artifacts else tmp_path / "screenshots"
