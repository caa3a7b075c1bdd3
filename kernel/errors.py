"""One error hierarchy for Enclava, rendered as OpenAI-shaped JSON.

Every error a client can see is an :class:`EnclavaError`; each class carries its HTTP status
and the OpenAI ``type``/``code`` it renders as ``{"error": {"message", "type", "param", "code"}}``.
Messages are written for the client: they never carry stack traces or secrets.

    EnclavaError
    ├── InvalidRequestError        400 invalid_request_error
    │   ├── UnsupportedMediaTypeError  415
    │   └── PayloadTooLargeError       413
    ├── AuthenticationError        401 authentication_error
    ├── PermissionDeniedError      403 permission_error
    ├── NotFoundError              404 not_found_error
    │   └── ModelNotFoundError         404 invalid_request_error / model_not_found
    ├── MethodNotAllowedError      405 invalid_request_error
    ├── ConflictError              409 conflict_error
    ├── InsufficientQuotaError     402 insufficient_quota
    ├── RateLimitError             429 rate_limit_error (carries Retry-After)
    ├── UpstreamError              502 upstream_error
    ├── ServiceUnavailableError    503 service_unavailable
    │   └── StoreUnavailableError      503 store_unavailable (names the store)
    └── InternalError              500 server_error

    ConfigError  (not an HTTP error: bad settings or plugins, fails boot with a clear message)
"""

from __future__ import annotations

import math
import os
from typing import Any, ClassVar

import msgspec

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "ConflictError",
    "EnclavaError",
    "ErrorBody",
    "ErrorEnvelope",
    "InsufficientQuotaError",
    "InternalError",
    "InvalidRequestError",
    "MethodNotAllowedError",
    "ModelNotFoundError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServiceUnavailableError",
    "StoreUnavailableError",
    "UnsupportedMediaTypeError",
    "UpstreamError",
    "error_of_answer",
    "os_reason",
]


class ErrorBody(msgspec.Struct, omit_defaults=False):
    """The inner object of an OpenAI error response."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorEnvelope(msgspec.Struct):
    """``{"error": {...}}`` exactly as the OpenAI API sends it."""

    error: ErrorBody


class _AnswerDetail(msgspec.Struct):
    message: str | None = None
    code: str | None = None
    type: str | None = None


class _AnswerError(msgspec.Struct):
    error: _AnswerDetail | None = None


_ANSWER_ERROR = msgspec.json.Decoder(_AnswerError)


def error_of_answer(status: int, body: bytes) -> tuple[str, str]:
    """``(code, message)`` of an OpenAI-shaped error answer: ``error.code`` (else ``type``,
    else ``http_<status>``) and ``error.message`` (else empty)."""
    try:
        detail = _ANSWER_ERROR.decode(body).error
    except msgspec.DecodeError:
        detail = None
    if detail is None:
        return f"http_{status}", ""
    return str(detail.code or detail.type or f"http_{status}"), detail.message or ""


class EnclavaError(Exception):
    """Base of every client-visible error."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers: dict[str, str] = dict(headers or {})

    def envelope(self) -> ErrorEnvelope:
        """The OpenAI-shaped body for this error."""
        return ErrorEnvelope(
            error=ErrorBody(
                message=self.message, type=self.error_type, param=self.param, code=self.code
            )
        )


class InvalidRequestError(EnclavaError):
    status_code = 400
    error_type = "invalid_request_error"


class UnsupportedMediaTypeError(InvalidRequestError):
    status_code = 415
    default_code = "unsupported_media_type"


class PayloadTooLargeError(InvalidRequestError):
    status_code = 413
    default_code = "request_too_large"


class AuthenticationError(EnclavaError):
    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDeniedError(EnclavaError):
    status_code = 403
    error_type = "permission_error"
    default_code = "permission_denied"


class NotFoundError(EnclavaError):
    status_code = 404
    error_type = "not_found_error"
    default_code = "not_found"


class ModelNotFoundError(NotFoundError):
    """The model does not exist or the caller may not use it (OpenAI's exact shape)."""

    error_type = "invalid_request_error"
    default_code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(f"The model `{model}` does not exist or you do not have access to it.")


class MethodNotAllowedError(EnclavaError):
    status_code = 405
    error_type = "invalid_request_error"
    default_code = "method_not_allowed"


class ConflictError(EnclavaError):
    status_code = 409
    error_type = "conflict_error"
    default_code = "conflict"


class InsufficientQuotaError(EnclavaError):
    status_code = 402
    error_type = "insufficient_quota"
    default_code = "insufficient_quota"


class RateLimitError(EnclavaError):
    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.headers.setdefault("retry-after", str(max(1, math.ceil(retry_after))))


class UpstreamError(EnclavaError):
    """A provider failed. ``retryable`` errors (connect, timeout, 429, 5xx) may fail over."""

    status_code = 502
    error_type = "upstream_error"
    default_code = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        retryable: bool = False,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.provider = provider
        self.retryable = retryable
        self.upstream_status = upstream_status
        self.retry_after = retry_after


class ServiceUnavailableError(EnclavaError):
    """Temporary by definition: every 503 tells clients when to retry (``Retry-After``, 1 s
    unless the raiser knows better), so well-behaved clients back off instead of hammering."""

    status_code = 503
    error_type = "service_unavailable"
    default_code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: float = 1.0, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.headers.setdefault("retry-after", str(max(1, math.ceil(retry_after))))


class StoreUnavailableError(ServiceUnavailableError):
    """A storage backend did not answer; security decisions that need it fail closed."""

    default_code = "store_unavailable"

    def __init__(self, store: str, *, reason: str = "not reachable") -> None:
        super().__init__(f"Storage backend '{store}' is unavailable: {reason}.")
        self.store = store
        self.reason = reason


class InternalError(EnclavaError):
    status_code = 500
    error_type = "server_error"
    default_code = "internal_error"


class ConfigError(Exception):
    """Bad settings, manifests or plugins: raised at boot, printed, non-zero exit."""


def os_reason(exc: BaseException) -> str:
    """A short cause for a failed connection ("connection refused", "timed out"): the operating
    system's words found on ``exc`` or what it wraps, else the exception's type; never a URL."""
    seen: list[BaseException | None] = [exc]
    while seen:
        cause = seen.pop(0)
        if cause is None:
            continue
        if isinstance(cause, TimeoutError):
            return "timed out"
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()
        seen += [getattr(cause, "os_error", None), getattr(cause, "orig", None), cause.__cause__]
    return type(exc).__name__
