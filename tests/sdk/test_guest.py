"""The guest bridge natively, over stand-ins for the bindings componentize-py generates:
which host calls it makes, and the effects it defers to the answer."""

from __future__ import annotations

import json
import sys
import types
from typing import Any

import pytest
from enclava_sdk import BasePlugin, FilterContext, Request, chat_filter, endpoint
from enclava_sdk.guest import DEFER_ENV, MAX_ADD_KEYS, MAX_LINE_CHARS, MAX_LINES, world_for

from kernel.sandbox.effects import DEFER_ENV as HOST_DEFER_ENV
from kernel.sandbox.effects import split_answer


class _Err(Exception):
    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value


class _Host:
    """``wit_world.imports.host``: records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def log(self, level: str, message: str) -> None:
        self.calls.append(("log", level, message))

    def kv_add(self, key: str, delta: int) -> str:
        self.calls.append(("kv_add", key, delta))
        return "null"

    def kv_get(self, key: str) -> str:
        self.calls.append(("kv_get", key))
        return "7"


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> _Host:
    recorder = _Host()
    bindings = types.ModuleType("wit_world.imports.host")
    for name in ("log", "kv_add", "kv_get"):
        setattr(bindings, name, getattr(recorder, name))
    monkeypatch.setitem(sys.modules, "wit_world.imports.host", bindings)
    monkeypatch.setitem(sys.modules, "componentize_py_types", types.SimpleNamespace(Err=_Err))
    monkeypatch.delenv(DEFER_ENV, raising=False)
    return recorder


class Counter(BasePlugin):
    name = "counter"

    @chat_filter
    def count(self, body: dict[str, Any], context: FilterContext) -> dict[str, Any] | None:
        for word in body.get("words", []):
            self.log.info(f"saw {word}")
            self.kv.add(word)
        if body.get("peek"):
            self.kv.get("seen")
        if body.get("fail"):
            raise ValueError("refused")
        return None

    @endpoint("GET", "/many")
    def many(self, request: Request) -> dict[str, Any]:
        for i in range(int(request.query["n"])):
            self.kv.add(str(i))
        return {}


def _world() -> Any:
    module = types.ModuleType("counter_app")
    module.Counter = Counter  # type: ignore[attr-defined]
    return world_for(module)()


def _filter(world: Any, **body: Any) -> str:
    return str(world.handle("filter-request", json.dumps({"body": body, "context": {}})))


def test_the_environment_variable_is_the_hosts() -> None:
    assert DEFER_ENV == HOST_DEFER_ENV


def test_without_the_host_taking_effects_each_is_a_host_call(host: _Host) -> None:
    world = _world()
    assert _filter(world, words=["a", "a"]) == '{"body": null}'
    assert host.calls == [("log", "info", "saw a"), ("kv_add", "a", 1)] * 2


def test_deferred_effects_come_with_the_answer_in_the_hosts_format(
    host: _Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEFER_ENV, "log,kv-add")
    world = _world()
    answer, effects = split_answer(_filter(world, words=["a", "b", "a"]))
    assert host.calls == []
    assert answer == '{"body": null}'
    assert effects is not None
    assert effects.kv_add == {"a": 2, "b": 1}
    assert effects.log == [("info", "saw a"), ("info", "saw b"), ("info", "saw a")]
    assert _filter(world) == '{"body": null}'  # nothing held over from the previous call


def test_only_the_effects_the_host_takes_are_deferred(
    host: _Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEFER_ENV, "log")  # a plugin without permissions.kv
    _answer, effects = split_answer(_filter(_world(), words=["a"]))
    assert host.calls == [("kv_add", "a", 1)]
    assert effects is not None
    assert effects.log == [("info", "saw a")]
    assert not effects.kv_add


def test_a_failed_call_logs_its_lines_and_drops_its_additions(
    host: _Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEFER_ENV, "log,kv-add")
    world = _world()
    with pytest.raises(_Err, match="refused"):
        _filter(world, words=["a"], fail=True)
    assert host.calls == [("log", "info", "saw a")]
    assert _filter(world) == '{"body": null}'


def test_held_lines_are_logged_before_a_call_that_may_wait(
    host: _Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEFER_ENV, "log,kv-add")
    _, effects = split_answer(_filter(_world(), words=["a"], peek=True))
    assert host.calls == [("log", "info", "saw a"), ("kv_get", "seen")]
    assert effects is not None
    assert effects.kv_add == {"a": 1}
    assert not effects.log


def test_held_lines_are_bounded(host: _Host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEFER_ENV, "log")
    words = [str(i) for i in range(MAX_LINES + 1)]
    _, effects = split_answer(_filter(_world(), words=words))
    logged = [call for call in host.calls if call[0] == "log"]
    assert len(logged) == MAX_LINES
    assert effects is not None
    assert effects.log == [("info", f"saw {MAX_LINES}")]


def test_additions_keep_the_hosts_key_limit(host: _Host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEFER_ENV, "log,kv-add")
    world = _world()
    request = '{"method": "GET", "path": "/many", "query": {"n": "%d"}}'
    _answer, effects = split_answer(world.handle("endpoint", request % MAX_ADD_KEYS))
    assert effects is not None
    assert len(effects.kv_add) == MAX_ADD_KEYS
    with pytest.raises(_Err, match=f"kv-add reached {MAX_ADD_KEYS} keys"):
        world.handle("endpoint", request % (MAX_ADD_KEYS + 1))


def test_held_lines_are_cut_and_bounded_in_characters(
    host: _Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEFER_ENV, "log")
    words = ["é" * 5000] * 12  # 12 lines cut to 2,000 characters: 24,000 held at most 20,000
    _, effects = split_answer(_filter(_world(), words=words))
    logged = [call for call in host.calls if call[0] == "log"]
    assert len(logged) == 10
    assert effects is not None
    assert len(effects.log) == 2
    assert {len(message) for _, message in effects.log} == {MAX_LINE_CHARS}
