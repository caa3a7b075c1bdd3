"""The dashboard is a plugin like any other: disabled, its pages and assets answer 404 and the
API is unaffected; its assets are vendored with their licences and nothing comes from outside."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from support.identity import admin_headers

from builtin_plugins.dashboard.routes import STATIC

PLUGINS = "/api-internal/v1/plugins/dashboard"
_TAG_URL = re.compile(r"<(?:script|link|img)\b[^>]*?\b(?:src|href)=[\"']([^\"']+)", re.IGNORECASE)
VENDORED = {
    "htmx/htmx.min.js": "htmx/LICENSE",
    "htmx-ext-sse/sse.min.js": "htmx-ext-sse/LICENSE",
    "pico/pico.min.css": "pico/LICENSE.md",
    "uplot/uPlot.iife.min.js": "uplot/LICENSE",
    "uplot/uPlot.min.css": "uplot/LICENSE",
}


async def test_disabled_dashboard_answers_404(app: Any, running: Any) -> None:
    async with running(app) as client:
        headers = await admin_headers(app, client)
        assert (await client.get("/dashboard/login")).status_code == 200
        disabled = await client.post(f"{PLUGINS}/disable", headers=headers)
        assert disabled.status_code == 200, disabled.text
        for path in ("/dashboard/login", "/dashboard/", "/dashboard/static/dashboard.js"):
            assert (await client.get(path)).status_code == 404, path
        assert (await client.get("/api-internal/v1/auth/me", headers=headers)).status_code == 200
        await client.post(f"{PLUGINS}/enable", headers=headers)
        assert (await client.get("/dashboard/login")).status_code == 200


async def test_pages_load_only_vendored_same_origin_assets(app: Any, running: Any) -> None:
    async with running(app) as client:
        page = await client.get("/dashboard/login")
        urls = [u for u in _TAG_URL.findall(page.text) if not u.startswith("data:")]
        assert urls, page.text
        for url in urls:
            assert url.startswith("/dashboard/static/"), url
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.content == (STATIC / url.removeprefix("/dashboard/static/")).read_bytes()


def test_vendored_assets_carry_their_licences() -> None:
    vendor: Path = STATIC / "vendor"
    readme = (vendor / "README.md").read_text()
    for asset, licence in VENDORED.items():
        assert (vendor / asset).stat().st_size > 1000, asset
        assert (vendor / licence).read_text().strip(), licence
        assert asset.split("/")[0] in readme
    for css in vendor.rglob("*.css"):
        assert "fonts.googleapis" not in css.read_text()
        assert "@import" not in css.read_text()
