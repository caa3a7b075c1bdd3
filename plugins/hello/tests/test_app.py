"""Run natively by ``pytest`` and against the built component by ``enclava plugin test``."""

from app import Hello
from enclava_sdk.testing import FakeHost, call_endpoint, call_execute, run_schedule


def test_hello_greets_by_name() -> None:
    answer = call_endpoint(Hello(FakeHost()), "GET", "/hello", query={"name": "Ada"})
    assert answer == {"status": 200, "headers": {}, "body": {"message": "Hello, Ada!"}}


def test_unknown_path_is_404() -> None:
    assert call_endpoint(Hello(FakeHost()), "GET", "/nope")["status"] == 404


def test_execute_greets_the_name_in_the_body_or_the_caller() -> None:
    plugin = Hello(FakeHost())
    assert call_execute(plugin, {"name": "Ada"})["body"] == {"message": "Hello, Ada!"}
    assert call_execute(plugin, caller_id="key_1")["body"] == {"message": "Hello, key_1!"}


def test_each_scheduled_run_bumps_the_counter() -> None:
    plugin = Hello(FakeHost())
    assert run_schedule(plugin, "tick")["status"] == 200
    run_schedule(plugin, "tick")
    assert call_endpoint(plugin, "GET", "/ticks")["body"] == {"ticks": 2}
    assert run_schedule(plugin, "nope")["status"] == 404
