"""``execute`` and ``[[schedules]]`` in ``plugin.toml``: bad cron expressions, names and routes
are refused with a clear message before any guest code runs; they are part of the approval."""

from __future__ import annotations

import pytest

from kernel.errors import ConfigError
from kernel.sandbox.manifest import cron_problem, parse_manifest, permissions_digest

BASE = """
name = "demo"
version = "1.0.0"
abi = "0.1.0"
execute = true

[[schedules]]
name = "tick"
cron = "*/5 * * * *"
"""


def test_execute_and_schedules_are_read() -> None:
    manifest = parse_manifest(BASE, "x")
    assert manifest.execute
    assert [(s.name, s.cron) for s in manifest.schedules] == [("tick", "*/5 * * * *")]
    assert not parse_manifest(BASE.replace("execute = true", ""), "x").execute


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("61 * * * *", "Bad minute"),
        ("* * * *", "a cron expression has 5 fields"),
        ("0 * * * * *", "a cron expression has 5 fields"),
        ("@hourly", "a cron expression has 5 fields"),
        ("0 0 30 2 *", "Bad day-of-month"),
        ("*/0 * * * *", "Bad minute"),
        ("0 0 * * MON-XYZ", "Bad day-of-week"),
    ],
)
def test_a_bad_cron_expression_is_refused_at_install(cron: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_manifest(BASE.replace("*/5 * * * *", cron), "upload/plugin.toml")
    text = str(info.value)
    assert text.startswith("invalid plugin manifest upload/plugin.toml: ")
    assert f"schedule 'tick': bad cron '{cron}'" in text
    assert message in text


def test_good_cron_expressions_pass() -> None:
    for cron in ("0 3 * * *", "15,45 9-17 * * MON-FRI", "0 0 1 JAN *", "0 12 L * *"):
        assert cron_problem(cron) is None, cron


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('\n[[schedules]]\nname = "tick"\ncron = "0 * * * *"\n', "schedules are declared twice"),
        ('\n[[schedules]]\nname = "no-dash"\ncron = "0 * * * *"\n', "bad schedule name"),
        ('\n[[endpoints]]\nmethod = "POST"\npath = "/"\n', "execute is served as POST /"),
        ('\n[[schedules]]\nname = "x"\ncron = "0 * * * *"\nat = 1\n', "unknown field `at`"),
    ],
)
def test_schedule_and_execute_problems_are_named(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match="invalid plugin manifest x") as info:
        parse_manifest(BASE + extra, "x")
    assert message in str(info.value)


def test_approval_covers_execute_and_schedules() -> None:
    manifest = parse_manifest(BASE, "x")
    digest = permissions_digest(manifest, "a" * 64)
    hourly = parse_manifest(BASE.replace("*/5 * * * *", "0 * * * *"), "x")
    assert permissions_digest(hourly, "a" * 64) != digest
    no_execute = parse_manifest(BASE.replace("execute = true", ""), "x")
    assert permissions_digest(no_execute, "a" * 64) != digest
