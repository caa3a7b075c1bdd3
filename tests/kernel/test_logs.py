"""JSON log lines (``server.log_format = "json"``): shape, request ids, exceptions, and never a
prompt — checked on the logs of a full chat through the real app."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.gateway import SHARED, gateway_factory
from support.logs import Boom, json_entries, json_log_lines

from kernel.access_log import ACCESS_LOGGER, AccessEntry
from kernel.cli import _server_logging
from kernel.errors import ConfigError
from kernel.logs import REQUEST_ID, TEXT_FORMAT, JsonFormatter, logging_config

PROMPT = "confidential-prompt-93f1 please summarise the merger terms"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    with json_log_lines() as stream:
        yield stream


def test_a_record_is_one_json_object_with_the_request_id() -> None:
    token = REQUEST_ID.set("req_abc")
    try:
        try:
            raise ValueError("bad")
        except ValueError:
            record = logging.LogRecord("x.y", logging.ERROR, __file__, 1, "n=%d", (3,), None)
            record.exc_info = sys.exc_info()
        line = JsonFormatter().format(record)
    finally:
        REQUEST_ID.reset(token)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "error"
    assert entry["logger"] == "x.y"
    assert entry["message"] == "n=3"
    assert entry["request_id"] == "req_abc"
    assert entry["time"].endswith("+00:00")
    assert entry["exception"]["type"] == "ValueError"
    assert "Traceback" in entry["exception"]["traceback"]
    assert "request_id" not in json.loads(JsonFormatter().format(record))


def test_structured_fields_are_top_level_json_keys() -> None:
    record = logging.LogRecord("enclava.access", logging.INFO, __file__, 1, "GET / 200", (), None)
    record.enclava_fields = AccessEntry("GET", "/", 200, 1.5, "user", "u_1", "req_9", None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "GET / 200"
    assert (entry["route"], entry["status"], entry["duration_ms"]) == ("/", 200, 1.5)
    assert (entry["principal_kind"], entry["principal_id"]) == ("user", "u_1")
    assert entry["request_id"] == "req_9"


def test_log_format_is_text_or_json(make_settings: Any, sqlite_url: str) -> None:
    assert make_settings(sqlite_url).kernel.server.log_format == "text"
    json_settings = make_settings(sqlite_url, ENCLAVA_SERVER_LOG_FORMAT="json")
    assert json_settings.kernel.server.log_format == "json"
    with pytest.raises(ConfigError, match="log_format"):
        make_settings(sqlite_url, ENCLAVA_SERVER_LOG_FORMAT="xml")
    assert _server_logging("text", verbose=False) == {}


def test_workers_get_the_text_config_with_enclavas_info_lines() -> None:
    """Each worker process starts from uvicorn's defaults unless given ``log_config``."""
    config = _server_logging("text", verbose=False, workers=2)["log_config"]
    assert config["formatters"]["enclava"]["format"] == TEXT_FORMAT
    for name in ("kernel", "builtin_plugins", "enclava"):
        assert config["loggers"][name]["level"] == "INFO"
    assert config["root"]["level"] == "WARNING"


def test_the_server_config_writes_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logging.config.dictConfig(logging_config("json"))
        logging.getLogger("kernel.test").info("hello %s", "world")
        logging.getLogger("uvicorn.error").warning("from uvicorn")
        logging.getLogger(ACCESS_LOGGER).info("GET / 200")
        logging.getLogger("some.library").info("too chatty")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["logger"], e["message"]) for e in lines] == [
        ("kernel.test", "hello world"),
        ("uvicorn.error", "from uvicorn"),
        (ACCESS_LOGGER, "GET / 200"),
    ]


async def test_a_full_chat_never_logs_the_prompt(
    make_settings: Any, sqlite_url: str, json_lines: io.StringIO
) -> None:
    gateway = gateway_factory(make_settings, sqlite_url)
    async with gateway(extra=[Boom()], ENCLAVA_SERVER_LOG_FORMAT="json") as env:
        client = env.client()
        messages: Any = [{"role": "user", "content": PROMPT}]
        answer = await client.chat.completions.create(model=SHARED, messages=messages)
        stream = await client.chat.completions.create(model=SHARED, messages=messages, stream=True)
        async for _ in stream:
            pass
        async with httpx.AsyncClient() as http:
            failed = await http.get(env.base_url.removesuffix("/api/v1") + "/boom")
    assert failed.status_code == 500
    entries = json_entries(json_lines)
    # the client library (openai, in this process) logs its own requests: not the gateway's
    gateway_lines = [e for e in entries if not e["logger"].startswith(("openai", "httpx"))]
    assert gateway_lines
    assert all(PROMPT not in json.dumps(e) for e in gateway_lines)
    content = answer.choices[0].message.content or ""
    assert all(not content or content not in json.dumps(e) for e in gateway_lines)
    crash = next(e for e in gateway_lines if e["message"].startswith("unhandled RuntimeError"))
    assert crash["request_id"] == failed.headers["x-request-id"]
    assert crash["exception"]["type"] == "RuntimeError"
    assert "kaputt" in crash["exception"]["traceback"]


@pytest.mark.usefixtures("clean_cwd_and_env")
def test_serve_logs_migrations_as_json_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve`` switches to JSON before it migrates: the traced migration hooks (and anything
    else logged before uvicorn starts) are JSON lines too, not text lines among them."""
    import uvicorn

    from kernel.cli import main

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setenv("ENCLAVA_SERVER_LOG_FORMAT", "json")
    monkeypatch.setenv("ENCLAVA_TRACE_PLUGINS", "1")
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        assert main(["serve"]) == 0
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    err = capsys.readouterr().err
    migrations = [line for line in err.splitlines() if "hook enclava_migrations" in line]
    assert migrations
    assert all(json.loads(line)["logger"] == "kernel.plugins" for line in migrations)
