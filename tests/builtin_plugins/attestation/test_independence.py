"""Production verification imports nothing from the simulators: a verifier that shared the
simulator's parser could not catch the simulator's bugs."""

from __future__ import annotations

import ast
from pathlib import Path

import builtin_plugins.attestation as attestation

ROOT = Path(attestation.__file__).parent
FORBIDDEN = "builtin_plugins.simulators"


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_attestation_module_imports_the_simulators() -> None:
    modules = sorted(ROOT.rglob("*.py"))
    assert len(modules) > 20
    offenders = {
        str(path.relative_to(ROOT)): name
        for path in modules
        for name in _imports(path)
        if name == FORBIDDEN or name.startswith(FORBIDDEN + ".")
    }
    assert offenders == {}


def test_the_rule_sees_every_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import builtin_plugins.simulators.keys\n"
        "from builtin_plugins.simulators import simquote\n"
        "from builtin_plugins import simulators\n"
        "def f():\n    from builtin_plugins.simulators.keys import SIM_ROOT_SEED\n"
    )
    found = [n for n in _imports(sample) if n.startswith(FORBIDDEN)]
    assert "builtin_plugins.simulators.keys" in found
    assert "builtin_plugins.simulators.simquote" in found
    assert "builtin_plugins.simulators.keys.SIM_ROOT_SEED" in found
    assert "builtin_plugins.simulators" in found
