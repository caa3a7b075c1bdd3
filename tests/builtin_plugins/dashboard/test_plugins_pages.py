"""The plugins pages through the real app: builtin plugins toggled (essential ones locked, the API
refuses them anyway), settings edited in a form generated from the schema with inline errors, a
sandboxed plugin uploaded, its permissions shown, approved and enabled; non-admins are refused."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar

from builtin_plugins.wasm_plugins.build import build_plugin
from kernel.app import create_app
from kernel.plugins import PluginManager
from kernel.sandbox import SandboxEngine

from .conftest import browser, signed_in

REPO = Path(__file__).resolve().parents[3]
CACHE = REPO / ".cache" / "enclava"
PLUGINS = "/dashboard/plugins"


@pytest.fixture(scope="module")
def hello_zip() -> bytes:
    """``plugins/hello`` built (cached by source digest), compiled into the native cache the
    gateways here share (a cold compile of a CPython component takes seconds: in a browser it
    would race the click's navigation timeout) and zipped as an upload."""
    folder = REPO / "plugins" / "hello"
    build_plugin(folder, CACHE / "wasm")
    wasm = (folder / "plugin.wasm").read_bytes()
    engine = SandboxEngine(CACHE / "native", threads=1)
    try:
        engine.compile(wasm, hashlib.sha256(wasm).hexdigest())
    finally:
        engine.close()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("plugin.toml", "plugin.wasm"):
            archive.writestr(name, (folder / name).read_bytes())
    return buffer.getvalue()


@pytest.fixture
def app(make_settings: Any, sqlite_url: str, tmp_path: Path) -> Litestar:
    settings = make_settings(
        sqlite_url,
        ENCLAVA_WASM_PLUGINS_DIRECTORY=str(tmp_path / "plugins"),
        ENCLAVA_WASM_PLUGINS_CACHE_DIR=str(CACHE / "native"),
    )
    return create_app(settings, plugins=PluginManager(load_entry_points=False))


async def test_builtin_plugins_toggle_and_essential_ones_are_locked(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "ada", role="admin")
        page = await client.get(PLUGINS)
        assert page.status_code == 200, page.text
        assert 'data-plugin="dashboard"' in page.text
        auth_row = page.text.split('data-plugin="auth"', 1)[1].split("</tr>", 1)[0]
        assert "essential" in auth_row
        assert "<button" not in auth_row
        off = await client.post(f"{PLUGINS}/chatbots/disable", data={"_csrf": csrf})
        assert off.status_code == 303
        row = (await client.get(PLUGINS)).text.split('data-plugin="chatbots"', 1)[1]
        assert '<td class="state">disabled</td>' in row.split("</tr>", 1)[0]
        forced = await client.post(f"{PLUGINS}/auth/disable", data={"_csrf": csrf})
        assert forced.status_code == 409
        bare = await client.post(f"{PLUGINS}/chatbots/enable")
        assert bare.status_code == 403
        on = await client.post(f"{PLUGINS}/chatbots/enable", data={"_csrf": csrf})
        assert on.status_code == 303


async def test_settings_form_from_the_schema(app: Any, running: Any) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "bo", role="admin")
        form = await client.get(f"{PLUGINS}/rate_limit")
        assert form.status_code == 200, form.text
        for name in ("public_per_minute", "internal_per_minute", "buckets"):
            assert f'id="f-{name}"' in form.text
        fields = {
            "_csrf": csrf,
            "public_per_minute": "1000",
            "internal_per_minute": "299",
            "anonymous_per_minute": "60",
            "buckets": "{}",
        }
        typo = await client.post(
            f"{PLUGINS}/rate_limit", data={**fields, "public_per_minute": "lots"}
        )
        assert typo.status_code == 400
        assert 'id="public_per_minute-error"' in typo.text
        assert 'value="lots"' in typo.text
        refused = await client.post(
            f"{PLUGINS}/dashboard",
            data={"_csrf": csrf, "live_refresh_seconds": "0.001", "live_stream_seconds": "300.0"},
        )
        assert refused.status_code == 400
        assert 'id="live_refresh_seconds-error"' in refused.text
        saved = await client.post(f"{PLUGINS}/rate_limit", data=fields)
        assert saved.status_code == 200
        assert 'id="saved"' in saved.text
        token = client.cookies["enclava_session"]
        config = await client.get(
            "/api-internal/v1/plugins/rate_limit/config",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert config.json()["values"]["internal_per_minute"] == 299


async def test_sandboxed_plugin_upload_approve_enable(
    app: Any, running: Any, hello_zip: bytes
) -> None:
    async with running(app) as client:
        csrf = await signed_in(client, app, "cy", role="admin")
        upload = await client.post(
            "/dashboard/sandbox",
            data={"_csrf": csrf},
            files={"archive": ("hello.zip", hello_zip, "application/zip")},
        )
        assert upload.status_code == 303, upload.text
        assert upload.headers["location"] == "/dashboard/sandbox/hello"
        page = await client.get("/dashboard/sandbox/hello")
        assert "its own key-value store" in page.text
        assert 'id="approve-plugin"' in page.text
        stale = await client.post(
            "/dashboard/sandbox/hello/approve", data={"_csrf": csrf, "permissions_digest": "x"}
        )
        assert stale.status_code == 409
        assert "review it again" in stale.text
        digest = page.text.split('name="permissions_digest" value="', 1)[1].split('"', 1)[0]
        approved = await client.post(
            "/dashboard/sandbox/hello/approve", data={"_csrf": csrf, "permissions_digest": digest}
        )
        assert approved.status_code == 303
        enabled = await client.post("/dashboard/sandbox/hello/enable", data={"_csrf": csrf})
        assert enabled.status_code == 303
        state = await client.get("/dashboard/sandbox/hello")
        listing = await client.get(PLUGINS)
        broken = await client.post(
            "/dashboard/sandbox",
            data={"_csrf": csrf},
            files={"archive": ("x.zip", b"not a zip", "application/zip")},
        )
    assert 'id="approve-plugin"' not in state.text
    assert "<dt>Enabled</dt><dd>yes</dd>" in state.text
    assert 'data-sandboxed="hello"' in listing.text
    assert broken.status_code == 400
    assert 'id="upload-error"' in broken.text


async def test_non_admins_are_refused(app: Any, running: Any) -> None:
    async with running(app) as client, browser(app) as reader:
        csrf = await signed_in(client, app, "dee")
        page = await client.get(PLUGINS)
        toggle = await client.post(f"{PLUGINS}/chatbots/disable", data={"_csrf": csrf})
        settings = await client.post(f"{PLUGINS}/rate_limit", data={"_csrf": csrf})
        upload = await client.post(
            "/dashboard/sandbox",
            data={"_csrf": csrf},
            files={"archive": ("x.zip", b"x", "application/zip")},
        )
        await signed_in(reader, app, "ro", role="read_only")
        nav = await reader.get("/dashboard/")
    assert page.status_code == toggle.status_code == settings.status_code == 403
    assert upload.status_code == 403
    assert 'href="/dashboard/plugins"' not in nav.text
