"""The error tree: each class renders an OpenAI-shaped body with its status, directly and
through the real app; unexpected exceptions leak nothing."""

from __future__ import annotations

import inspect
from typing import Any

import msgspec
import pytest
from litestar import get
from litestar.params import FromPath
from support.plugins import kernel_plugins

import kernel.errors
from kernel.app import create_app
from kernel.errors import (
    AuthenticationError,
    ConflictError,
    EnclavaError,
    InsufficientQuotaError,
    InternalError,
    InvalidRequestError,
    MethodNotAllowedError,
    ModelNotFoundError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    StoreUnavailableError,
    UnsupportedMediaTypeError,
    UpstreamError,
)
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import Principal, RouteSet, Unscoped

EXPECTED: dict[type[EnclavaError], tuple[int, str]] = {
    EnclavaError: (500, "server_error"),
    InvalidRequestError: (400, "invalid_request_error"),
    AuthenticationError: (401, "authentication_error"),
    InsufficientQuotaError: (402, "insufficient_quota"),
    PermissionDeniedError: (403, "permission_error"),
    NotFoundError: (404, "not_found_error"),
    ModelNotFoundError: (404, "invalid_request_error"),
    MethodNotAllowedError: (405, "invalid_request_error"),
    ConflictError: (409, "conflict_error"),
    PayloadTooLargeError: (413, "invalid_request_error"),
    UnsupportedMediaTypeError: (415, "invalid_request_error"),
    RateLimitError: (429, "rate_limit_error"),
    InternalError: (500, "server_error"),
    UpstreamError: (502, "upstream_error"),
    ServiceUnavailableError: (503, "service_unavailable"),
    StoreUnavailableError: (503, "service_unavailable"),
}
"""Every EnclavaError class with its documented status and OpenAI ``type``."""


def _defined_exceptions() -> list[type[Exception]]:
    return [
        cls
        for _, cls in inspect.getmembers(kernel.errors, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__ == kernel.errors.__name__
    ]


def _make(cls: type[EnclavaError]) -> EnclavaError:
    if cls is StoreUnavailableError:
        return StoreUnavailableError("sql")
    if cls is ModelNotFoundError:
        return ModelNotFoundError("gpt-x")
    if cls is RateLimitError:
        return RateLimitError("Slow down.", retry_after=1.5)
    return cls(f"{cls.__name__} happened.")


def _body(error: EnclavaError) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(error.envelope()))
    return decoded


def test_table_covers_every_enclava_error_in_the_module() -> None:
    defined = {cls for cls in _defined_exceptions() if issubclass(cls, EnclavaError)}
    assert defined == set(EXPECTED)


def test_docstring_tree_lists_every_exception_class() -> None:
    doc = kernel.errors.__doc__ or ""
    missing = [cls.__name__ for cls in _defined_exceptions() if cls.__name__ not in doc]
    assert missing == []


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda cls: cls.__name__)
def test_error_renders_openai_shape_with_documented_status(cls: type[EnclavaError]) -> None:
    error = _make(cls)
    status, error_type = EXPECTED[cls]
    assert error.status_code == status
    body = _body(error)
    assert list(body) == ["error"]
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"] == error.message
    assert body["error"]["type"] == error_type
    assert body["error"]["param"] is None


def test_param_and_code_are_carried_and_code_defaults_per_class() -> None:
    body = _body(InvalidRequestError("Bad model.", param="model", code="model_not_found"))
    assert body["error"]["param"] == "model"
    assert body["error"]["code"] == "model_not_found"
    assert _body(InvalidRequestError("Bad."))["error"]["code"] is None
    assert _body(AuthenticationError("No key."))["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [(0, "1"), (0.1, "1"), (1, "1"), (1.2, "2"), (2.0005, "3"), (30, "30")],
)
def test_rate_limit_sets_retry_after_rounded_up_and_at_least_one(
    retry_after: float, header: str
) -> None:
    error = RateLimitError("Slow down.", retry_after=retry_after)
    assert error.headers["retry-after"] == header
    assert error.retry_after == retry_after


def test_store_unavailable_names_the_store() -> None:
    error = StoreUnavailableError("kv", reason="timed out")
    assert error.store == "kv"
    assert error.message == "Storage backend 'kv' is unavailable: timed out."
    assert _body(error)["error"]["code"] == "store_unavailable"


class Anyone:
    name = "anyone"
    surfaces = frozenset({"public", "internal"})

    async def authenticate(self, request: Any) -> Principal | None:
        return Principal(kind="api_key", id="key", owner_id="owner")


ERRORS_BY_NAME = {cls.__name__: cls for cls in EXPECTED}
OPEN = {"enclava_scope": Unscoped("test route")}


@get("/raise/{name:str}", sync_to_thread=False, opt=OPEN)
def raise_named(name: FromPath[str]) -> None:
    raise _make(ERRORS_BY_NAME[name])


@get("/crash", sync_to_thread=False, opt=OPEN)
def crash() -> None:
    raise RuntimeError("sk-live-SECRET")


class Raiser:
    """Public routes that raise on purpose."""

    PLUGIN_NAME = "raiser"

    @hookimpl
    def enclava_routes(self, kernel: Kernel) -> RouteSet:
        return RouteSet(public=[raise_named, crash])

    @hookimpl
    def enclava_authenticators(self, kernel: Kernel) -> list[Anyone]:
        return [Anyone()]


@pytest.fixture
def app(make_settings: Any, sqlite_url: str) -> Any:
    return create_app(make_settings(sqlite_url), plugins=kernel_plugins(Raiser()))


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda cls: cls.__name__)
async def test_error_raised_by_a_route_reaches_the_client(
    app: Any, running: Any, cls: type[EnclavaError]
) -> None:
    async with running(app) as client:
        response = await client.get(f"/api/v1/raise/{cls.__name__}")
    status, error_type = EXPECTED[cls]
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == _body(_make(cls))
    assert response.json()["error"]["type"] == error_type
    if cls is RateLimitError:
        assert response.headers["retry-after"] == "2"


async def test_unexpected_exception_is_a_bare_500(app: Any, running: Any) -> None:
    async with running(app) as client:
        response = await client.get("/api/v1/crash")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error"
    assert error["code"] == "internal_error"
    assert set(error) == {"message", "type", "param", "code"}
    for leak in ("sk-live-SECRET", "Traceback", "RuntimeError"):
        assert leak not in response.text
