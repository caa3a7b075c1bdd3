"""Error bodies in every provider shape become OpenAI's; statuses map to retryable or not."""

from __future__ import annotations

import json
import time
from email.utils import formatdate

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from builtin_plugins.providers.upstream_errors import (
    CREDENTIALS_MESSAGE,
    error_fields,
    openai_error_body,
    retry_after_seconds,
    status_error,
    transport_error,
)


def headers(**values: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in values.items()}))


def openai_shape(body: bytes) -> dict[str, object]:
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return dict(error)


def test_openai_shaped_bodies_pass_through_byte_for_byte() -> None:
    body = b'{"error":{"message":"bad","type":"invalid_request_error","param":"n","code":null}}'
    assert openai_error_body(400, body) is body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"error":{"message":"parsing request: body is not a JSON object","type":""}}',
            {
                "message": "parsing request: body is not a JSON object",
                "type": "invalid_request_error",
            },
        ),
        (
            b'event: error\n\ndata: {"error":{"message":"no model specified","type":""}}\n\n',
            {"message": "no model specified", "type": "invalid_request_error"},
        ),
        (
            b'{"error":{"message":"no route","type":"model_not_found","code":null,"param":null}}',
            {"message": "no route", "type": "invalid_request_error", "code": "model_not_found"},
        ),
        (
            b'{"object":"error","message":"too long","type":"BadRequest","param":null,"code":400}',
            {"message": "too long", "type": "invalid_request_error", "code": None},
        ),
        (b'{"detail": "Not Found"}', {"message": "Not Found"}),
        (b'{"error": "plain words"}', {"message": "plain words"}),
        (b"<html>nginx</html>", {"message": "The provider rejected the request (HTTP 413)."}),
    ],
)
def test_other_shapes_are_normalised(body: bytes, expected: dict[str, object]) -> None:
    error = openai_shape(openai_error_body(413, body))
    assert {k: error[k] for k in expected} == expected
    assert error["type"] == "invalid_request_error"
    assert error_fields(413, body).message == error["message"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("7", 7.0), ("0.5", 0.5), ("-3", 0.0), ("soon", None), ("nan", None), ("", None)],
)
def test_retry_after_seconds(raw: str, expected: float | None) -> None:
    assert retry_after_seconds(headers(Retry_After=raw)) == expected


def test_retry_after_http_date_and_absence() -> None:
    when = formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after_seconds(headers(Retry_After=when)) or 0) <= 31
    assert retry_after_seconds(headers()) is None


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, CREDENTIALS_MESSAGE),
        (402, "provider refused the gateway's account (HTTP 402)"),
        (403, "provider refused the gateway's account (HTTP 403)"),
        (408, "provider answered HTTP 408"),
        (429, "rate limited by the provider (HTTP 429)"),
        (500, "provider answered HTTP 500"),
        (503, "provider answered HTTP 503"),
        (302, "provider answered HTTP 302"),
    ],
)
def test_statuses_that_are_never_the_clients_fault_are_retryable(status: int, message: str) -> None:
    error = status_error("p", status, headers(Retry_After="2"), credentials=False)
    assert error is not None
    assert (error.message, error.retryable, error.upstream_status) == (message, True, status)
    assert (error.provider, error.retry_after) == ("p", 2.0)


@pytest.mark.parametrize("status", [400, 404, 409, 413, 422])
def test_other_client_errors_are_passed_back(status: int) -> None:
    assert status_error("p", status, headers(), credentials=False) is None


def test_a_credentials_problem_is_named_whatever_the_status() -> None:
    error = status_error("p", 500, headers(), credentials=True)
    assert error is not None
    assert error.message == CREDENTIALS_MESSAGE


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (aiohttp.ConnectionTimeoutError(), "timed out connecting"),
        (TimeoutError(), "phase timeout"),
        (aiohttp.ServerDisconnectedError(), "the connection failed"),
        (aiohttp.ClientPayloadError("cut"), "the answer was cut off"),
        (aiohttp.ClientOSError(104, "reset"), "the connection failed"),
    ],
)
def test_transport_errors_are_retryable(exc: BaseException, message: str) -> None:
    error = transport_error("p", exc, timeout="phase timeout")
    assert (error.message, error.retryable, error.provider) == (message, True, "p")
