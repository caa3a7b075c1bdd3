"""``enclava plugin new NAME``: a plugin folder with a manifest, an endpoint, a chat filter and
tests that pass natively and against the built component."""

from __future__ import annotations

import re
from pathlib import Path

from kernel.errors import ConfigError
from kernel.sandbox import ABI_VERSION

__all__ = ["scaffold"]

_MANIFEST = """# {name}: see sdk/README.md for every key.
name = "{name}"
version = "0.1.0"
abi = "{abi}"
description = "A new Enclava plugin."

[[endpoints]]
method = "GET"
path = "/stats"
summary = "How many chat requests the filter saw"

[filter]
order = 500
request = true
response = false

[permissions]
kv = true
http = []

[config]
greeting = {{ type = "string", default = "hello", description = "Prefix for the system prompt" }}

[limits]
memory_mb = 64
timeout_ms = 2000
instances = 2
"""

_APP = '''"""{name}: counts chat requests and adds a system message to each of them."""

from typing import Any

from enclava_sdk import BasePlugin, FilterContext, Request, Response, chat_filter, endpoint


class {cls}(BasePlugin):
    name = "{name}"
    version = "0.1.0"

    @endpoint("GET", "/stats")
    def stats(self, request: Request) -> Response:
        return Response({{"requests": self.kv.get("requests", 0)}})

    @chat_filter
    def tag_requests(self, body: dict[str, Any], context: FilterContext) -> dict[str, Any]:
        self.kv.add("requests")
        greeting = self.config.get("greeting", "hello")
        system = {{"role": "system", "content": f"{{greeting}} from {name}"}}
        return {{**body, "messages": [system, *body.get("messages", [])]}}
'''

_TEST = '''"""Run with ``enclava plugin test .``: natively, then against the built component."""

from app import {cls}
from enclava_sdk.testing import FakeHost, call_endpoint, run_filter


def test_filter_adds_a_system_message_and_counts() -> None:
    plugin = {cls}(FakeHost(config={{"greeting": "hi"}}))
    body = run_filter(plugin, {{"model": "m", "messages": [{{"role": "user", "content": "x"}}]}})
    assert body is not None
    assert body["messages"][0] == {{"role": "system", "content": "hi from {name}"}}
    assert call_endpoint(plugin, "GET", "/stats")["body"] == {{"requests": 1}}
'''


def scaffold(name: str, parent: Path) -> Path:
    """Create ``parent/name``; ConfigError for a bad name or an existing folder."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,39}", name):
        raise ConfigError("plugin names are 2-40 of a-z 0-9 _ and start with a letter")
    folder = parent / name
    if folder.exists():
        raise ConfigError(f"{folder} already exists")
    cls = "".join(part.capitalize() for part in name.split("_"))
    (folder / "tests").mkdir(parents=True)
    (folder / "plugin.toml").write_text(_MANIFEST.format(name=name, abi=ABI_VERSION))
    (folder / "app.py").write_text(_APP.format(name=name, cls=cls))
    (folder / "tests" / "test_app.py").write_text(_TEST.format(name=name, cls=cls))
    return folder
