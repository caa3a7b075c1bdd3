"""The hook catalogue is documented — each hook and each argument, in its spec and in README's
table (datasette's test_docs) — and hooks are called through pluggy: keyword arguments only,
wrappers see the calls, ``ENCLAVA_TRACE_PLUGINS`` logs them."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from support.plugins import kernel_plugins

from kernel import hookspecs
from kernel.hookspecs import hookimpl
from kernel.plugins import TRACE_ENV, PluginManager
from kernel.runtime import Kernel
from kernel.types import BackgroundTask

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
HOOKS: list[tuple[str, Callable[..., Any]]] = [
    (name, spec) for name, spec in inspect.getmembers(hookspecs) if name.startswith("enclava_")
]


def _arguments(spec: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(spec).parameters)


@pytest.mark.parametrize(("name", "spec"), HOOKS, ids=[name for name, _ in HOOKS])
def test_each_hook_says_its_kind_and_describes_each_argument(
    name: str, spec: Callable[..., Any]
) -> None:
    doc = inspect.getdoc(spec) or ""
    first = doc.lower().split(":", 1)[0]
    assert "collect" in first or "firstresult" in first, f"{name}: say collect or firstresult"
    module_doc = inspect.getdoc(hookspecs) or ""
    for argument in _arguments(spec):
        described = f"``{argument}``" in doc or f"``{argument}``" in module_doc
        assert described, f"{name}: describe ``{argument}`` in its docstring"


@pytest.mark.parametrize(("name", "spec"), HOOKS, ids=[name for name, _ in HOOKS])
def test_each_hook_is_in_the_readme_table_with_its_arguments(
    name: str, spec: Callable[..., Any]
) -> None:
    signature = f"`{name}({', '.join(_arguments(spec))})`"
    row = re.search(rf"^\| {re.escape(signature)} \| (collect|firstresult) \|", README, re.M)
    assert row, f"README's hook table lacks {signature}"
    options = getattr(spec, f"{hookspecs.PROJECT}_spec")
    kind = "firstresult" if options["firstresult"] else "collect"
    assert row.group(1) == kind, name


def test_hooks_are_called_with_keyword_arguments_only() -> None:
    manager = PluginManager(load_entry_points=False)
    with pytest.raises(TypeError):
        manager._pm.hook.enclava_routes(object())


class Wrapped:
    """A plugin with a hook wrapper: it sees every background-task collection."""

    PLUGIN_NAME = "wrapped"

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(wrapper=True)
    def enclava_background_tasks(self, kernel: Kernel) -> Generator[None, Any, Any]:
        result = yield
        self.seen.append("background_tasks")
        return result

    @hookimpl
    def enclava_services(self, kernel: Kernel) -> None:
        return None


async def _noop() -> None:
    return None


class Ticker:
    PLUGIN_NAME = "ticker"

    @hookimpl
    def enclava_background_tasks(self, kernel: Kernel) -> list[BackgroundTask]:
        return [BackgroundTask(name="tick", interval=60, run=_noop)]


def test_collect_goes_through_pluggy_so_wrappers_see_the_calls() -> None:
    wrapped = Wrapped()
    manager = kernel_plugins(wrapped, Ticker())
    found = manager.collect("enclava_background_tasks", ["wrapped", "ticker"], kernel=None)
    assert [plugin for plugin, _ in found] == ["ticker"]
    assert wrapped.seen == ["background_tasks"]


def test_trace_logs_every_hook_call_with_timing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(TRACE_ENV, "1")
    manager = kernel_plugins(Ticker())
    with caplog.at_level(logging.INFO, logger="kernel.plugins"):
        manager.collect("enclava_background_tasks", ["ticker"], kernel=None)
    lines = [r.getMessage() for r in caplog.records if r.name == "kernel.plugins"]
    assert any(
        re.fullmatch(r"hook enclava_background_tasks \[ticker\] \d+\.\d{3} ms", line)
        for line in lines
    ), lines


def test_without_trace_nothing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    manager = kernel_plugins(Ticker())
    with caplog.at_level(logging.INFO, logger="kernel.plugins"):
        manager.collect("enclava_background_tasks", ["ticker"], kernel=None)
    assert not [r for r in caplog.records if r.name == "kernel.plugins"]


def test_pluggy_is_the_dispatcher() -> None:
    assert isinstance(PluginManager(load_entry_points=False)._pm, pluggy.PluginManager)
