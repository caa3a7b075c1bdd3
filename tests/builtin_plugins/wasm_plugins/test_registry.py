"""``check_description``: a component whose ``execute`` or schedules do not match its manifest
is refused, naming each difference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builtin_plugins.wasm_plugins.registry import check_description, discover
from kernel.errors import ConfigError
from kernel.sandbox.manifest import parse_manifest

MANIFEST = parse_manifest(
    """
name = "demo"
version = "1.0.0"
abi = "0.1.0"
execute = true

[[schedules]]
name = "tick"
cron = "*/5  * * * *"

[[schedules]]
name = "hourly"
cron = "0 * * * *"
""",
    "x",
)
TICK = {"name": "tick", "cron": "*/5 * * * *", "method": "tick"}
HOURLY = {"name": "hourly", "cron": "0 * * * *", "method": None}


def _described(**changes: Any) -> str:
    described = {
        "name": "demo",
        "version": "1.0.0",
        "endpoints": [],
        "filters": [],
        "execute": True,
        "schedules": [TICK, HOURLY],
    }
    return json.dumps({**described, **changes})


def test_a_matching_component_passes() -> None:
    check_description(MANIFEST, _described())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"execute": False}, "execute is declared but not implemented"),
        ({"schedules": [HOURLY]}, "schedule 'tick' is not implemented"),
        (
            {"schedules": [TICK, HOURLY, {**TICK, "name": "extra"}]},
            "schedule 'extra' is not declared in plugin.toml",
        ),
        (
            {"schedules": [{**TICK, "cron": "* * * * *"}, HOURLY]},
            "schedule 'tick' runs at '* * * * *' in the code, '*/5 * * * *' in plugin.toml",
        ),
        ({"schedules": [{"name": "tick"}]}, "describe() returned malformed JSON"),
    ],
)
def test_differences_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_description(MANIFEST, _described(**changes))
    assert message in str(info.value)


def test_execute_must_be_declared_when_implemented() -> None:
    bare = parse_manifest('name = "demo"\nversion = "1"\nabi = "0.1.0"\n', "x")
    with pytest.raises(ConfigError, match=r"declare execute = true in plugin\.toml"):
        check_description(bare, _described(schedules=[]))


def test_a_schedule_calling_a_missing_execute_is_refused() -> None:
    manifest = parse_manifest(
        'name = "demo"\nversion = "1"\nabi = "0.1.0"\n'
        '[[schedules]]\nname = "hourly"\ncron = "0 * * * *"\n',
        "x",
    )
    with pytest.raises(ConfigError, match="a schedule calls execute, which is not implemented"):
        check_description(manifest, _described(execute=False, schedules=[HOURLY]))


def test_a_component_from_before_execute_and_schedules_still_loads() -> None:
    bare = parse_manifest('name = "demo"\nversion = "1"\nabi = "0.1.0"\n', "x")
    check_description(bare, json.dumps({"name": "demo", "endpoints": [], "filters": []}))


def test_a_folder_named_like_a_registered_plugin_says_which_one_clashes(tmp_path: Path) -> None:
    """An author whose entry-point plugin is named ``hello`` learns that the shipped sandboxed
    ``plugins/hello`` is what clashes, not a builtin."""
    folder = tmp_path / "hello"
    folder.mkdir()
    shipped = Path(__file__).parents[3] / "plugins" / "hello" / "plugin.toml"
    (folder / "plugin.toml").write_text(shipped.read_text())
    with pytest.raises(ConfigError, match=r"sandboxed plugin 'hello' \(.*hello\) clashes.*native"):
        discover(tmp_path, frozenset({"hello"}))
