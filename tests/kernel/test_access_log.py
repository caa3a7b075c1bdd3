"""The access log (``enclava.access``): one record per request through the real app, with the
route template, status, duration and principal ids; never a prompt, a query string or a secret."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.gateway import SHARED, Gateway, gateway_factory
from support.identity import admin_headers
from support.logs import json_entries, json_log_lines
from support.tracing import TracedGateway, traced_factory

from kernel.access_log import (
    ACCESS_LOGGER,
    access_logging,
    log_access,
    log_unrouted,
)
from kernel.logs import TEXT_FORMAT, JsonFormatter
from kernel.types import Principal, RequestContext

PROMPT = "access-prompt-7d41 keep the acquisition target quiet"
CHAT_ROUTE = "/api/v1/chat/completions"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    with json_log_lines() as stream:
        yield stream


@pytest.fixture
def gateway(make_settings: Any, sqlite_url: str) -> Gateway:
    return gateway_factory(make_settings, sqlite_url)


@pytest.fixture
def traced(make_settings: Any, sqlite_url: str) -> TracedGateway:
    return traced_factory(make_settings, sqlite_url)


def _access(stream: io.StringIO) -> list[dict[str, Any]]:
    return [e for e in json_entries(stream) if e["logger"] == ACCESS_LOGGER]


def _only(lines: list[dict[str, Any]], response: httpx.Response) -> dict[str, Any]:
    """The one access line of ``response`` (matched by its ``x-request-id``)."""
    found = [e for e in lines if e["request_id"] == response.headers["x-request-id"]]
    assert len(found) == 1, found
    return found[0]


def _chat(stream: bool = False) -> dict[str, Any]:
    return {"model": SHARED, "messages": [{"role": "user", "content": PROMPT}], "stream": stream}


def _context(principal: Principal | None = None) -> RequestContext:
    return RequestContext(
        request_id="req_1", surface="public", client_ip="10.0.0.1", principal=principal, status=200
    )


def _record(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    [record] = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    return record


def test_a_record_reads_as_text_and_as_json(caplog: pytest.LogCaptureFixture) -> None:
    key = Principal(kind="api_key", id="key_9", owner_id="user_3")
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        log_access(_context(key), "GET", "/api/v1/models/{model_id}", 0.01234)
    record = _record(caplog)
    assert logging.Formatter(TEXT_FORMAT).format(record) == (
        "INFO enclava.access: GET /api/v1/models/{model_id} 200 12.3ms"
        " principal=api_key:key_9 request_id=req_1"
    )
    entry = JsonFormatter().format(record)
    assert '"message": "GET /api/v1/models/{model_id} 200 12.3ms' in entry
    assert entry.endswith(
        '"method": "GET", "route": "/api/v1/models/{model_id}", "status": 200,'
        ' "duration_ms": 12.34, "principal_kind": "api_key", "principal_id": "key_9",'
        ' "request_id": "req_1", "error_code": null}'
    )


def test_an_anonymous_refusal_reads_with_its_error_code(caplog: pytest.LogCaptureFixture) -> None:
    ctx = _context()
    ctx.status, ctx.error_code = 401, "invalid_api_key"
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        log_access(ctx, "POST", CHAT_ROUTE, 0.002)
    assert _record(caplog).getMessage() == (
        f"POST {CHAT_ROUTE} 401 2.0ms principal=anonymous request_id=req_1 error=invalid_api_key"
    )


def test_a_request_the_gate_never_saw_reads_without_a_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        log_unrouted("GET", "unmatched", "req_2", 404)
    assert (
        _record(caplog).getMessage() == "GET unmatched 404 - principal=anonymous request_id=req_2"
    )


def test_nothing_is_built_when_the_logger_drops_info(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=ACCESS_LOGGER):
        assert not access_logging(True)
        log_access(_context(), "GET", "/health", 0.001)
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        assert access_logging(True)
        assert not access_logging(False)
    assert [r for r in caplog.records if r.name == ACCESS_LOGGER] == []


async def _admin_key(client: httpx.AsyncClient, app: Any) -> tuple[dict[str, str], httpx.Response]:
    headers = await admin_headers(app, client)
    created = await client.post("/api-internal/v1/api-keys", headers=headers, json={"name": "log"})
    assert created.status_code == 201, created.text
    return headers, created


async def test_each_request_logs_one_access_line(gateway: Gateway, json_lines: io.StringIO) -> None:
    async with gateway(ENCLAVA_SERVER_LOG_FORMAT="json") as env:
        root = env.base_url.removesuffix("/api/v1")
        async with httpx.AsyncClient(base_url=root, timeout=20) as client:
            headers, created = await _admin_key(client, env.app)
            key_id, key = created.json()["id"], created.json()["key"]
            auth = {"Authorization": f"Bearer {key}"}
            chat = await client.post(CHAT_ROUTE, json=_chat(), headers=auth)
            async with client.stream("POST", CHAT_ROUTE, json=_chat(True), headers=auth) as stream:
                body = b"".join([chunk async for chunk in stream.aiter_bytes()])
            model = await client.get(f"/api/v1/models/{SHARED}?probe=query-secret", headers=auth)
            refused = await client.post(CHAT_ROUTE, json=_chat())
            unrouted = await client.get("/api/v1/no-such-route/raw-id-5150?probe=query-secret")
    assert (chat.status_code, stream.status_code, model.status_code) == (200, 200, 200)
    assert b"[DONE]" in body
    lines = _access(json_lines)
    assert len({e["request_id"] for e in lines}) == len(lines)  # one line per request
    for response in (chat, stream):
        line = _only(lines, response)
        assert line["route"] == CHAT_ROUTE
        assert line["message"].startswith(f"POST {CHAT_ROUTE} 200 ")
        assert (line["method"], line["status"], line["level"]) == ("POST", 200, "info")
        assert (line["principal_kind"], line["principal_id"]) == ("api_key", key_id)
        assert isinstance(line["duration_ms"], float)
        assert line["duration_ms"] > 0
    model_line = _only(lines, model)
    assert model_line["route"] == "/api/v1/models/{model_id}"
    anonymous = _only(lines, refused)
    assert (anonymous["status"], anonymous["principal_kind"]) == (401, "anonymous")
    assert anonymous["principal_id"] is None
    assert anonymous["error_code"] == "invalid_api_key"
    unmatched = _only(lines, unrouted)
    assert (unmatched["route"], unmatched["status"], unmatched["duration_ms"]) == (
        "unmatched",
        404,
        None,
    )
    assert unmatched["principal_kind"] == "anonymous"
    admin = _only(lines, created)
    assert (admin["route"], admin["status"]) == ("/api-internal/v1/api-keys", 201)
    assert admin["principal_kind"] == "user"
    assert "@" not in admin["principal_id"]  # the user's id, never its email
    leaks = [
        PROMPT,
        "query-secret",
        "raw-id-5150",
        key,
        headers["Authorization"].split()[1],
        "@example.com",
    ]
    assert [leak for leak in leaks if any(leak in str(e) for e in lines)] == []
    assert chat.json()["choices"][0]["message"]["content"] not in str(lines)


@pytest.mark.parametrize(
    "setting", [{"ENCLAVA_SERVER_ACCESS_LOG": "false"}, {"ENCLAVA_SERVER_LOG_LEVEL": "warning"}]
)
async def test_the_access_log_can_be_turned_off(
    gateway: Gateway, json_lines: io.StringIO, setting: dict[str, str]
) -> None:
    async with gateway(ENCLAVA_SERVER_LOG_FORMAT="json", **setting) as env:
        answer = await env.client().chat.completions.create(
            model=SHARED, messages=[{"role": "user", "content": PROMPT}]
        )
    assert answer.choices
    assert _access(json_lines) == []


async def test_a_traced_request_logs_its_trace_id(
    traced: TracedGateway, json_lines: io.StringIO
) -> None:
    async with (
        traced(ENCLAVA_SERVER_LOG_FORMAT="json") as env,
        httpx.AsyncClient(timeout=20) as client,
    ):
        chat = await client.post(
            env.base_url + "/chat/completions",
            json=_chat(),
            headers={"Authorization": f"Bearer {env.key}", "traceparent": TRACEPARENT},
        )
    assert chat.status_code == 200
    assert _only(_access(json_lines), chat)["trace_id"] == TRACE_ID


async def test_a_stream_the_client_leaves_logs_once_as_client_closed(
    traced: TracedGateway, json_lines: io.StringIO
) -> None:
    async with traced(tracing=False) as env:
        # a slow stream: the client is gone long before its last chunk
        await env.privatemode.control.set_faults(frame_interval_ms=300, paths=["/v1/chat"])
        async with (
            httpx.AsyncClient(timeout=20) as client,
            client.stream(
                "POST",
                env.base_url + "/chat/completions",
                json=_chat(True),
                headers={"Authorization": f"Bearer {env.key}"},
            ) as response,
        ):
            async for _ in response.aiter_bytes():
                break  # the first chunk, then the connection closes
        for _ in range(100):
            if any(
                e["request_id"] == response.headers["x-request-id"] for e in _access(json_lines)
            ):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a second line, if there were one, would be there by now
    line = _only(_access(json_lines), response)
    assert (line["status"], line["error_code"]) == (200, "client_closed")
