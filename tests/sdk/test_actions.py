"""The SDK natively: ``execute`` (the default action) and ``@schedule``, through the same
dispatch as the component."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from enclava_sdk import BasePlugin, Context, PluginError, Response, schedule
from enclava_sdk.testing import FakeHost, call_execute, run_schedule

FIRED = datetime(2030, 5, 1, 12, 5, tzinfo=UTC)


class Greeter(BasePlugin):
    name = "greeter"
    version = "1.0.0"
    hourly = schedule("0  *  * * *")  # calls execute; spacing is normalised

    async def execute(self, context: Context) -> Any:
        if context.trigger == "schedule":
            self.kv.set("last", [context.schedule, str(context.fire_time), context.caller.kind])
            return None
        if context.body == "refuse":
            raise PluginError("not today", status=409)
        return {"hello": context.body, "caller": context.caller.id, "id": context.request_id}

    @schedule("*/5 * * * *")
    def count(self, context: Context) -> Response:
        return Response({"n": self.kv.incr("n")}, status=202)


class Silent(BasePlugin):
    name = "silent"

    @schedule("0 0 * * *")
    def nightly(self, context: Context) -> None:
        self.log.info(f"nightly {context.fire_time:%Y-%m-%d}")


def test_execute_gets_the_body_caller_and_request_id() -> None:
    answer = call_execute(Greeter(FakeHost()), {"name": "Ada"}, caller_id="key_1")
    assert answer == {
        "status": 200,
        "headers": {},
        "body": {"hello": {"name": "Ada"}, "caller": "key_1", "id": "req_test"},
    }
    assert call_execute(Greeter(FakeHost()), "refuse")["status"] == 409


def test_without_execute_the_default_action_is_a_404_answer() -> None:
    answer = call_execute(Silent(FakeHost()))
    assert answer == {
        "status": 404,
        "body": {"error": "plugin 'silent' has no default action (execute)"},
    }
    assert not Silent(FakeHost()).has_execute
    assert Greeter(FakeHost()).has_execute


def test_a_schedule_runs_its_method_with_the_fire_time() -> None:
    host = FakeHost()
    plugin = Greeter(host)
    assert run_schedule(plugin, "count", fire_time=FIRED) == {
        "status": 202,
        "headers": {},
        "body": {"n": 1},
    }
    quiet = FakeHost()
    assert run_schedule(Silent(quiet), "nightly", fire_time=FIRED)["status"] == 200
    assert quiet.lines == [("info", "nightly 2030-05-01")]


def test_a_schedule_without_a_method_calls_execute() -> None:
    host = FakeHost()
    assert run_schedule(Greeter(host), "hourly", fire_time=FIRED)["status"] == 200
    assert json.loads(host.store["last"]) == ["hourly", "2030-05-01 12:05:00+00:00", "plugin"]


def test_an_unknown_schedule_is_a_404_answer() -> None:
    assert run_schedule(Greeter(FakeHost()), "weekly")["status"] == 404


def test_a_failing_scheduled_run_is_an_error_result() -> None:
    plugin = Greeter(FakeHost(kv=False))
    payload = {"schedule": "count", "fire_time": FIRED.isoformat()}
    ok, message = plugin.handle("schedule", json.dumps(payload))
    assert (ok, message) == (False, "host call failed: kv is not granted to this plugin")


def test_describe_lists_execute_and_schedules() -> None:
    described = Greeter(FakeHost()).describe()
    assert described["execute"] is True
    assert described["schedules"] == [
        {"name": "count", "cron": "*/5 * * * *", "method": "count"},
        {"name": "hourly", "cron": "0 * * * *", "method": None},
    ]


def test_an_override_without_the_decorator_is_not_scheduled() -> None:
    class Quieter(Silent):
        def nightly(self, context: Context) -> None:
            return None

    assert Quieter(FakeHost()).describe()["schedules"] == []
    assert Silent(FakeHost()).describe()["execute"] is False
