"""Rules about how the code base is put together, checked on its source."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from kernel.app import create_app

ROOT = Path(__file__).resolve().parent.parent
APP_STATE_READER = Path("kernel/dependencies.py")


def _reads_app_state(node: ast.AST) -> bool:
    """``<x>.app.state``, ``app.state`` or ``<x>["app"].state``."""
    if not isinstance(node, ast.Attribute) or node.attr != "state":
        return False
    owner = node.value
    if isinstance(owner, ast.Name):
        return owner.id == "app"
    if isinstance(owner, ast.Attribute):
        return owner.attr == "app"
    if isinstance(owner, ast.Subscript):
        key = owner.slice
        return isinstance(key, ast.Constant) and key.value == "app"
    return False


def _app_state_reads(relative: Path) -> list[str]:
    tree = ast.parse((ROOT / relative).read_text(encoding="utf-8"), filename=str(relative))
    return [f"{relative}:{node.lineno}" for node in ast.walk(tree) if _reads_app_state(node)]


def test_app_state_is_read_only_by_kernel_dependencies() -> None:
    """Handlers get the kernel, stores, settings and services by dependency injection
    (:mod:`kernel.dependencies`); only ``kernel_of`` reads the Litestar app's state."""
    found = [
        read
        for package in ("builtin_plugins", "kernel")
        for path in sorted((ROOT / package).rglob("*.py"))
        if (relative := path.relative_to(ROOT)) != APP_STATE_READER
        for read in _app_state_reads(relative)
    ]
    assert found == []
    assert _app_state_reads(APP_STATE_READER), "kernel_of no longer reads app.state: update me"


def test_app_state_rule_sees_every_spelling() -> None:
    source = "request.app.state.kernel\napp.state\nscope['app'].state\nexchange.state\napp.stats"
    tree = ast.parse(source)
    assert sum(_reads_app_state(node) for node in ast.walk(tree)) == 3


async def test_injected_parameters_stay_out_of_the_openapi_document(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    """``kernel``, ``usage``, ``keys``, ... are filled in by the app, never sent by a client."""
    app = create_app(make_settings(sqlite_url))
    injected = {
        name
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        for name in handler.resolve_dependencies()
    }
    async with running(app) as client:
        document = (await client.get("/schema/openapi.json")).json()
    parameters = {
        parameter["name"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", [])
    }
    assert {"kernel", "stores", "settings", "usage", "keys", "host"} <= injected
    assert "limit" in parameters
    assert injected & parameters == set()
