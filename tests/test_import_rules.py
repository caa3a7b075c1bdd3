"""Plugins meet through kernel contracts: no module of ``builtin_plugins/X`` imports
``builtin_plugins/Y`` (at any depth, in functions too), and the kernel imports no plugin."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "builtin_plugins"


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "builtin_plugins":  # from builtin_plugins import llm
                yield from ((node.lineno, f"builtin_plugins.{a.name}") for a in node.names)
            else:
                yield node.lineno, node.module


def _plugin_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "builtin_plugins" else None


def test_no_plugin_imports_another_plugin() -> None:
    problems = []
    for path in sorted(PLUGINS.rglob("*.py")):
        own = path.relative_to(PLUGINS).parts[0]
        if own.endswith(".py"):
            continue
        for line, module in _imports(path):
            other = _plugin_of(module)
            if other is not None and other != own:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not problems, "use a kernel service instead:\n  " + "\n  ".join(problems)


def test_the_kernel_imports_no_plugin() -> None:
    problems = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "kernel").rglob("*.py"))
        for line, module in _imports(path)
        if module.split(".")[0] == "builtin_plugins"
    ]
    assert not problems, "\n".join(problems)


def test_the_rule_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from builtin_plugins.llm import gateway\n")
    assert (2, "builtin_plugins.llm") in list(_imports(sample))
