"""The command line as a person meets it: version, help on every argument, errors that show the
subcommand's own usage, and quiet output unless ``--verbose``."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from kernel.cli import Context, build_parser, main

pytestmark = pytest.mark.usefixtures("clean_cwd_and_env")


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as caught:
        main(list(argv))
    assert caught.value.code == 2
    return capsys.readouterr().err


def _parsers(
    parser: argparse.ArgumentParser, path: str = "enclava"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == "enclava 0.1.0"


def test_every_argument_of_every_command_has_help() -> None:
    parser = build_parser(Context(None, {}))
    missing = [
        f"{path}: {action.dest}"
        for path, command in _parsers(parser)
        for action in command._actions
        if not isinstance(action, argparse._SubParsersAction | argparse._HelpAction)
        and not action.help
    ]
    assert missing == []
    assert {"enclava plugin build", "enclava keys create", "enclava admin create"} <= {
        path for path, _ in _parsers(parser)
    }


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["serve", "--prot", "9000"], "usage: enclava serve "),
        (["plugins", "disable"], "usage: enclava plugins disable "),
        (
            ["keys", "create", "--email", "a@example.com", "--nme", "x"],
            "usage: enclava keys create ",
        ),
        (["plugin", "build"], "usage: enclava plugin build "),
    ],
    ids=["serve-typo", "plugins-missing-name", "keys-typo", "plugin-missing-folder"],
)
def test_a_subcommand_mistake_shows_that_subcommands_usage(
    capsys: pytest.CaptureFixture[str], argv: list[str], usage: str
) -> None:
    err = _usage_error(capsys, *argv)
    assert err.startswith(usage), err
    assert "usage: enclava [-h]" not in err


def test_migrate_is_quiet_unless_verbose(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["migrate"]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("database is up to date\n", "")
    assert not [r for r in caplog.records if r.name.startswith("alembic")]
    assert main(["migrate", "--verbose"]) == 0
    assert [r for r in caplog.records if r.name.startswith("alembic")]
