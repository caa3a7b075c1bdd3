"""Sign in, forced password change, sign out and session expiry through the real app: the cookie
is HttpOnly and SameSite=Strict, every POST needs the session's CSRF token, and a session the
internal API no longer accepts sends the browser back to the sign-in form."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from builtin_plugins.auth.settings import auth_settings
from builtin_plugins.dashboard.render import SECURITY_HEADERS
from builtin_plugins.dashboard.session import LOGIN_COOKIE, bound_to_loopback
from kernel.app import create_app
from kernel.plugins import PluginManager

from .conftest import PASSWORD, csrf_of, new_user, sign_in

LOGIN = "/dashboard/login"


def cookie_header(response: httpx.Response, name: str) -> str:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert len(found) == 1, response.headers
    return found[0]


async def test_sign_in_sets_a_strict_http_only_session(app: Any, running: Any) -> None:
    async with running(app) as client:
        email = await new_user(app, "ada")
        response = await sign_in(client, email)
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard"
        cookie = cookie_header(response, "enclava_session")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/dashboard" in cookie
        assert "Secure" not in cookie  # plain http here
        page = await client.get("/dashboard/")
    assert page.status_code == 200
    assert email in page.text
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_session_cookie_is_secure_over_https(app: Any, running: Any) -> None:
    async with running(app) as client:
        email = await new_user(app, "bea")
        client.base_url = httpx.URL("https://testserver")
        response = await sign_in(client, email)
    assert response.status_code == 303
    assert "Secure" in cookie_header(response, "enclava_session")


async def test_session_cookie_is_secure_unless_bound_to_loopback(
    make_settings: Any, sqlite_url: str, running: Any
) -> None:
    settings = make_settings(sqlite_url, ENCLAVA_SERVER_HOST="0.0.0.0")
    app = create_app(settings, plugins=PluginManager(load_entry_points=False))
    async with running(app) as client:
        form = await client.get("/dashboard/login")
        # A browser would not send this cookie back over plain http: sign-in needs https here.
        refused = await sign_in(client, await new_user(app, "bound"))
    assert "Secure" in cookie_header(form, LOGIN_COOKIE)
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("::", False)],
)
def test_loopback_binds(host: str, loopback: bool) -> None:
    assert bound_to_loopback(host) is loopback


async def test_wrong_password_is_refused_without_a_session(app: Any, running: Any) -> None:
    async with running(app) as client:
        email = await new_user(app, "cy")
        response = await sign_in(client, email, "not the password")
        assert response.status_code == 401
        assert "Incorrect email or password." in response.text
        assert "enclava_session" not in client.cookies
        assert (await client.get("/dashboard/")).headers["location"] == LOGIN


async def test_sign_in_without_csrf_token_is_refused(app: Any, running: Any) -> None:
    async with running(app) as client:
        email = await new_user(app, "dee")
        await client.get(LOGIN)
        bare = await client.post(LOGIN, data={"email": email, "password": PASSWORD})
        forged = await client.post(
            LOGIN, data={"email": email, "password": PASSWORD, "_csrf": "0" * 64}
        )
    assert bare.status_code == forged.status_code == 403
    assert "enclava_session" not in client.cookies


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/keys", "/dashboard/password"])
async def test_pages_send_a_stranger_to_sign_in(app: Any, running: Any, path: str) -> None:
    async with running(app) as client:
        plain = await client.get(path)
        htmx = await client.get(path, headers={"HX-Request": "true"})
    assert plain.status_code == 303
    assert plain.headers["location"] == LOGIN
    assert htmx.headers["hx-redirect"] == LOGIN


async def test_an_expired_session_goes_back_to_sign_in(app: Any, running: Any) -> None:
    async with running(app) as client:
        email = await new_user(app, "eve")
        assert (await sign_in(client, email)).status_code == 303
        user = await client.get(
            "/api-internal/v1/auth/me",
            headers={"Authorization": f"Bearer {client.cookies['enclava_session']}"},
        )
        now = int(time.time())
        claims = {
            "sub": user.json()["id"],
            "role": "user",
            "typ": "access",
            "jti": uuid.uuid4().hex,
            "iat": now - 1000,
            "exp": now - 100,
            "iss": "enclava",
            "epoch": 0,
        }
        secret = auth_settings(app.state.kernel.settings).jwt_secret
        expired = jwt.encode(claims, secret, algorithm="HS256")
        client.cookies.set("enclava_session", expired, path="/dashboard")
        response = await client.get("/dashboard/keys")
    assert response.status_code == 303
    assert response.headers["location"] == LOGIN
    assert "Max-Age=0" in cookie_header(response, "enclava_session")


async def test_sign_out_ends_the_session_in_the_api_too(app: Any, running: Any) -> None:
    async with running(app) as client:
        assert (await sign_in(client, await new_user(app, "fay"))).status_code == 303
        token = client.cookies["enclava_session"]
        page = await client.get("/dashboard/")
        refused = await client.post("/dashboard/logout")
        assert refused.status_code == 403
        response = await client.post("/dashboard/logout", data={"_csrf": csrf_of(page)})
        assert response.status_code == 303
        assert response.headers["location"] == LOGIN
        me = await client.get(
            "/api-internal/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.status_code == 401
        client.cookies.set("enclava_session", token, path="/dashboard")
        assert (await client.get("/dashboard/")).headers["location"] == LOGIN


async def test_forced_password_change_comes_first(app: Any, running: Any) -> None:
    async with running(app) as client:
        email = await new_user(app, "gus", force_password_change=True)
        response = await sign_in(client, email)
        assert response.headers["location"] == "/dashboard/password"
        assert (await client.get("/dashboard/keys")).headers["location"] == "/dashboard/password"
        form = await client.get("/dashboard/password")
        csrf = csrf_of(form)
        fields = {
            "_csrf": csrf,
            "current_password": PASSWORD,
            "new_password": "another long password 7",
        }
        mismatch = await client.post(
            "/dashboard/password", data={**fields, "confirm_password": "x"}
        )
        assert mismatch.status_code == 400
        assert "do not match" in mismatch.text
        wrong = await client.post(
            "/dashboard/password",
            data={
                **fields,
                "current_password": "wrong",
                "confirm_password": fields["new_password"],
            },
        )
        assert wrong.status_code == 400
        assert "current password is incorrect" in wrong.text
        done = await client.post(
            "/dashboard/password", data={**fields, "confirm_password": fields["new_password"]}
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/dashboard"
        assert (await client.get("/dashboard/keys")).status_code == 200
        client.cookies.clear()
        assert (await sign_in(client, email, "another long password 7")).status_code == 303
