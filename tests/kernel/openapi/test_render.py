"""The docs page at ``/schema``: Redoc from the package itself, nothing from a CDN, and it renders
with no network in a real browser (headless Chromium against a real uvicorn)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from support.chromium import OFFLINE_FLAGS, chromium_binary
from support.plugins import kernel_plugins
from support.server import serving

from kernel.app import create_app
from kernel.openapi.render import REDOC_BUNDLE
from kernel.plugins import PluginManager

_TAG_URL = re.compile(r"<(?:script|link|img)\b[^>]*?\b(?:src|href)=[\"']([^\"']+)", re.IGNORECASE)
_CHAT_HEADING = re.compile(r"<h2[^>]*>(?:<a[^>]*></a>)?\s*ChatCompletions\s*</h2>")
CHROMIUM_FLAGS = (*OFFLINE_FLAGS, "--virtual-time-budget=20000", "--window-size=1280,900")


@pytest.fixture
def app(make_settings: Any, sqlite_url: str) -> Any:
    return create_app(make_settings(sqlite_url), plugins=kernel_plugins())


async def test_page_loads_only_same_origin_assets(app: Any, running: Any) -> None:
    async with running(app) as client:
        for path in ("/schema", "/schema/redoc"):
            page = await client.get(path)
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            head = page.text.split("Redoc.init(", 1)[0]
            urls = _TAG_URL.findall(head)
            assert urls == ["/schema/redoc.standalone.js"], urls
            assert "fonts.googleapis" not in page.text
        bundle = await client.get("/schema/redoc.standalone.js")
        document = (await client.get("/schema/openapi.json")).json()
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert bundle.content == REDOC_BUNDLE.read_bytes()
    assert not any(path.startswith("/schema") for path in document["paths"])


def test_redoc_ships_with_its_licenses() -> None:
    folder = REDOC_BUNDLE.parent
    assert "MIT License" in (folder / "LICENSE").read_text()
    assert (folder / "redoc.standalone.js.LICENSE.txt").is_file()
    assert REDOC_BUNDLE.read_bytes().startswith(b"/*! For license information please see")


async def _chromium(binary: str, profile: Path, *args: str) -> bytes:
    process = await asyncio.create_subprocess_exec(
        binary,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    return stdout


@pytest.mark.slow
async def test_docs_page_renders_offline_in_chromium(
    make_settings: Any, sqlite_url: str, tmp_path: Path
) -> None:
    binary = chromium_binary("the docs page test")
    plugins = PluginManager(load_entry_points=False)
    app = create_app(make_settings(sqlite_url), plugins=plugins)
    screenshot = tmp_path / "docs.png"
    async with serving(app) as base_url:
        dom = await _chromium(binary, tmp_path / "profile", "--dump-dom", f"{base_url}/schema")
        await _chromium(
            binary, tmp_path / "profile", f"--screenshot={screenshot}", f"{base_url}/schema"
        )
    text = dom.decode()
    assert "redoc-wrap" in text, "Redoc did not render"
    assert 'id="operation/ApiV1ChatCompletionsChatCompletions"' in text
    assert _CHAT_HEADING.search(text), "the chat completions operation has no rendered heading"
    assert '<span class="property-name">messages</span>' in text  # OpenAI's request schema
    assert 'id="operation/ApiInternalV1AuthLoginLoginRoute"' in text
    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 30_000, "the screenshot is (nearly) blank"
