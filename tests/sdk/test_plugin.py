"""The SDK natively: dispatch onto decorated handlers, error results, host wrappers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from enclava_sdk import (
    BasePlugin,
    FilterContext,
    PluginError,
    Request,
    Response,
    chat_filter,
    endpoint,
)
from enclava_sdk.testing import FakeHost, call_endpoint, run_filter


class Sample(BasePlugin):
    name = "sample"
    version = "2.0.0"

    @endpoint("GET", "/kv")
    def kv_endpoint(self, request: Request) -> Response:  # named like a wrapper on purpose
        return Response({"count": self.kv.incr("n"), "caller": request.caller.id})

    @endpoint("POST", "/echo")
    async def echo(self, request: Request) -> Any:
        return {"got": request.json(), "mode": self.config.get("mode", "default")}

    @endpoint("GET", "/text")
    def text(self, request: Request) -> Response:
        return Response(text="plain", status=202, headers={"x-sample": "1"})

    @endpoint("GET", "/refuse")
    def refuse(self, request: Request) -> Response:
        raise PluginError("not today", status=409)

    @endpoint("GET", "/crash")
    def crash(self, request: Request) -> Response:
        raise KeyError("missing")

    @endpoint("GET", "/fetch")
    def fetch(self, request: Request) -> Response:
        return Response(self.http.fetch("https://api.example.com/x").json())

    @chat_filter
    def upper(self, body: dict[str, Any], context: FilterContext) -> dict[str, Any] | None:
        self.log.info(f"filtering {context.request_id}")
        return {**body, "model": body["model"].upper()}

    @chat_filter(stage="response")
    def untouched(self, body: dict[str, Any], context: FilterContext) -> None:
        return None


def test_endpoints_dispatch_by_method_and_path() -> None:
    plugin = Sample(FakeHost(config={"mode": "strict"}))
    assert call_endpoint(plugin, "GET", "/kv")["body"] == {"count": 1, "caller": "test"}
    assert call_endpoint(plugin, "GET", "/kv")["body"]["count"] == 2
    echoed = call_endpoint(plugin, "POST", "/echo", body={"a": 1})
    assert echoed["body"] == {"got": {"a": 1}, "mode": "strict"}
    assert call_endpoint(plugin, "GET", "/text") == {
        "status": 202,
        "headers": {"x-sample": "1"},
        "text": "plain",
    }
    assert call_endpoint(plugin, "GET", "/missing")["status"] == 404
    assert call_endpoint(plugin, "POST", "/kv")["status"] == 404


def test_plugin_error_is_an_http_answer() -> None:
    answer = call_endpoint(Sample(FakeHost()), "GET", "/refuse")
    assert answer == {"status": 409, "body": {"error": "not today"}}


def test_every_other_exception_is_an_error_result() -> None:
    plugin = Sample(FakeHost())
    ok, message = plugin.handle("endpoint", json.dumps({"method": "GET", "path": "/crash"}))
    assert not ok
    assert message.startswith("KeyError at crash:")
    assert plugin.handle("endpoint", "not json")[0] is False
    assert plugin.handle("bogus", "{}") == (
        True,
        json.dumps({"status": 400, "body": {"error": "unknown call kind 'bogus'"}}),
    )


def test_host_errors_are_error_results() -> None:
    plugin = Sample(FakeHost(kv=False))
    ok, message = plugin.handle("endpoint", json.dumps({"method": "GET", "path": "/kv"}))
    assert (ok, message) == (False, "host call failed: kv is not granted to this plugin")
    with pytest.raises(AssertionError, match="http is not granted"):
        call_endpoint(plugin, "GET", "/fetch")


def test_http_goes_through_the_host() -> None:
    def fetch(request: dict[str, Any]) -> dict[str, Any]:
        assert request == {
            "url": "https://api.example.com/x",
            "method": "GET",
            "headers": {},
            "body": None,
        }
        return {"status": 200, "headers": {}, "body": '{"ok": true}'}

    assert call_endpoint(Sample(FakeHost(fetch=fetch)), "GET", "/fetch")["body"] == {"ok": True}


def test_filters_by_stage() -> None:
    host = FakeHost()
    plugin = Sample(host)
    assert run_filter(plugin, {"model": "abc"}) == {"model": "ABC"}
    assert run_filter(plugin, {"model": "abc"}, stage="response") is None
    assert host.lines == [("info", "filtering req_test")]


def test_describe_lists_what_the_plugin_contributes() -> None:
    assert Sample(FakeHost()).describe() == {
        "name": "sample",
        "version": "2.0.0",
        "endpoints": [
            {"method": "GET", "path": "/crash"},
            {"method": "GET", "path": "/fetch"},
            {"method": "GET", "path": "/kv"},
            {"method": "GET", "path": "/refuse"},
            {"method": "GET", "path": "/text"},
            {"method": "POST", "path": "/echo"},
        ],
        "filters": ["request", "response"],
        "execute": False,
        "schedules": [],
    }


class Counter(BasePlugin):
    name = "counter"
    version = "1.0.0"

    @endpoint("POST", "/count")
    def count(self, request: Request) -> Response:
        self.kv.add("hits", 2)
        self.kv.add("hits")
        if request.json():
            raise KeyError("after counting")
        return Response({"seen": self.kv.get("hits", 0)})


def test_kv_add_is_made_once_the_call_returned_ok_and_dropped_if_it_failed() -> None:
    plugin = Counter(FakeHost())
    assert call_endpoint(plugin, "POST", "/count", body=False)["body"] == {"seen": 0}
    assert plugin.kv.get("hits") == 3
    with pytest.raises(AssertionError, match="plugin failed"):
        call_endpoint(plugin, "POST", "/count", body=True)
    assert plugin.kv.get("hits") == 3


def test_config_values_are_decoded_once_and_containers_each_time() -> None:
    host = FakeHost(config={"mode": "strict", "words": ["a"]})
    plugin = Sample(host)
    assert plugin.config.get("mode") == "strict"
    host.config["mode"] = "lax"  # another text: decoded again
    assert plugin.config.get("mode") == "lax"
    plugin.config.get("words").append("b")  # a container is the caller's own copy
    assert plugin.config.get("words") == ["a"]
    assert plugin.config.get("missing", 3) == 3
