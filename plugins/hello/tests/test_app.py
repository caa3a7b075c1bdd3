"""Run natively by ``pytest`` and against the built component by ``enclava plugin test``."""

from app import Hello
from enclava_sdk.testing import FakeHost, call_endpoint


def test_hello_greets_by_name() -> None:
    answer = call_endpoint(Hello(FakeHost()), "GET", "/hello", query={"name": "Ada"})
    assert answer == {"status": 200, "headers": {}, "body": {"message": "Hello, Ada!"}}


def test_unknown_path_is_404() -> None:
    assert call_endpoint(Hello(FakeHost()), "GET", "/nope")["status"] == 404
