"""Users and JWT sessions for tests: create users directly, log in through the real app."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import httpx
from litestar import Litestar

from builtin_plugins.auth.passwords import Passwords
from builtin_plugins.auth.users import create_user as insert_user
from kernel.roles import Role

__all__ = ["LOGIN_PATH", "admin_headers", "create_user", "login"]

LOGIN_PATH = "/api-internal/v1/auth/login"


async def create_user(app: Litestar, email: str, password: str, role: Role = "user") -> str:
    """Insert an active user straight into the app's database; returns its id."""
    password_hash = await asyncio.to_thread(Passwords().hash, password)
    user = await insert_user(
        app.state.kernel.stores.db, email=email, password_hash=password_hash, role=role
    )
    return user.id


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    """Log in through ``POST /api-internal/v1/auth/login``; the ``Authorization`` header dict."""
    response = await client.post(LOGIN_PATH, json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def admin_headers(app: Litestar, client: httpx.AsyncClient) -> dict[str, str]:
    """Create an admin with a random email, log in, and return its ``Authorization`` header."""
    email = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    password = secrets.token_urlsafe(18)
    await create_user(app, email, password, role="admin")
    return await login(client, email, password)
