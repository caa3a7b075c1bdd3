"""The adapter both providers share: exact bytes over pooled aiohttp, timeouts, discovery.

The hot path per call is one ``session.post`` with prebuilt URL, headers and timeouts, one
``read()`` (or the chunk relay of :mod:`.sse`) and a JSON well-formedness check of a 200 answer;
bodies are never re-serialised and nothing is logged. Subclasses say how to discover models and
may add evidence to accepted answers; see :mod:`.upstream_errors` for the error mapping.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TypeVar

import aiohttp
import msgspec
from multidict import CIMultiDictProxy
from yarl import URL

from builtin_plugins.providers.catalog import Published, UpstreamModel, publish
from builtin_plugins.providers.settings import ProviderSettings
from builtin_plugins.providers.sse import FrameScanner, IdleWatchdog
from builtin_plugins.providers.upstream_errors import (
    error_fields,
    openai_error_body,
    status_error,
    transport_error,
)
from kernel.errors import UpstreamError, os_reason
from kernel.http import HttpClients, SpkiPinMismatch
from kernel.tracing import TracerSource, no_tracer
from kernel.upstream import ModelInfo, UpstreamCall, UpstreamResult

__all__ = ["DiscoveryError", "HttpProvider"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_TRANSPORT = (aiohttp.ClientError, TimeoutError)


class DiscoveryError(Exception):
    """The provider's model list could not be read (``status`` when it answered)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _JsonObject(msgspec.Struct):
    """Matches any JSON object: decoding into it checks well-formedness, fields are skipped."""


class HttpProvider(abc.ABC):
    """An OpenAI-compatible provider behind ``settings.url``; implements ``Provider`` and
    ``HttpUpstream`` (where attestation fetches its evidence)."""

    kind = "openai-compatible"
    requires_attestation = False

    def __init__(
        self,
        name: str,
        settings: ProviderSettings,
        *,
        api_key: str,
        http: HttpClients,
        tracer: TracerSource = no_tracer,
    ):
        self.name = name
        self._tracer = tracer  # the kernel's current tracer: ``traceparent`` on calls
        self.region = settings.region
        self.priority = settings.priority
        self.confidential = True
        self.max_retries = settings.max_retries
        self.requests_per_minute = settings.requests_per_minute
        self.settings = settings
        self._http = http
        self._session: aiohttp.ClientSession | None = None
        self._base = settings.url.rstrip("/")
        self._api_key = api_key
        self._urls = {e: URL(self._base + e) for e in ("/chat/completions", "/embeddings")}
        self._auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        json_type = {"Content-Type": "application/json"}
        self._send_headers = {**json_type, "Accept": "application/json", **self._auth}
        self._stream_headers = {**json_type, "Accept": "text/event-stream", **self._auth}
        connect = settings.connect_timeout
        self._send_timeout = aiohttp.ClientTimeout(
            sock_connect=connect, sock_read=settings.read_timeout
        )
        self._stream_timeout = aiohttp.ClientTimeout(sock_connect=connect)
        self._discovery_timeout = aiohttp.ClientTimeout(
            total=connect + settings.first_byte_timeout, sock_connect=connect
        )
        self._json_object = msgspec.json.Decoder(_JsonObject)
        self._published = Published()
        self._healthy = False
        self._problem: str | None = "model discovery has not finished yet"
        self._told = False

    @property
    def base_url(self) -> str:
        """``settings.url`` as configured."""
        return self.settings.url

    @property
    def api_key(self) -> str:
        """The key read when the provider was built (``""``: none)."""
        return self._api_key

    @property
    def healthy(self) -> bool:
        """Whether the last model discovery succeeded."""
        return self._healthy

    @property
    def problem(self) -> str | None:
        """Why the provider is unhealthy (no URL: clients may read it), None while healthy."""
        return None if self._healthy else self._problem

    @property
    def aliases(self) -> Mapping[str, str]:
        """Public ids that are aliases (folded duplicates, configured aliases) → canonical id."""
        return self._published.aliases

    async def list_models(self) -> Sequence[ModelInfo]:
        """The models found by the last successful discovery (the same tuple until it changes)."""
        return self._published.models

    def _client(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            session = self._session = self._http.session(self._base)
        return session

    async def refresh(self) -> None:
        """Re-read the model list (the discovery task); on failure keep it and turn unhealthy."""
        try:
            found = await self._discover()
        except (*_TRANSPORT, DiscoveryError, msgspec.DecodeError) as exc:
            self._unreachable(exc)
            return
        except Exception:
            self._healthy = False
            raise
        if not self._healthy and self._told:
            log.warning("%s: reachable again at %s", self.name, self._base)
        published = publish(
            found,
            provider=self.name,
            region=self.region,
            allowlist=self.settings.model_allowlist,
            aliases=self.settings.aliases,
        )
        if published != self._published:
            self._published = published
        self._healthy = True

    def _unreachable(self, exc: BaseException) -> None:
        """Turn unhealthy; log the URL and cause, and the first time what to try."""
        self._healthy = False
        reason = str(exc) if isinstance(exc, DiscoveryError) else os_reason(exc)
        problem = f"cannot list its models ({reason})"
        if problem != self._problem or not self._told:
            hint = (
                ""
                if self._told
                else (
                    "; its models are unavailable until it answers. Point "
                    f"ENCLAVA_{self.name.upper()}_URL (or [{self.name}] url) at the provider, "
                    "or try `enclava serve --demo` for simulated providers"
                )
            )
            log.warning(
                "%s: cannot list models at %s/models (%s)%s", self.name, self._base, reason, hint
            )
        self._problem, self._told = problem, True

    @abc.abstractmethod
    async def _discover(self) -> list[UpstreamModel]:
        """The provider's servable models; raises on any failure."""

    async def _get_json(self, path: str, schema: type[T]) -> T:
        """GET ``path`` under the base URL and decode it as ``schema``."""
        async with self._client().get(
            self._base + path,
            headers=self._auth,
            timeout=self._discovery_timeout,
            allow_redirects=False,
        ) as response:
            body = await response.read()
        if response.status != 200:
            raise DiscoveryError(f"GET {path} answered HTTP {response.status}", response.status)
        return msgspec.json.decode(body, type=schema)

    async def send(self, call: UpstreamCall) -> UpstreamResult:
        """POST ``call.body`` as is and return the answer's bytes untouched."""
        try:
            async with self._client().post(
                self._urls[call.endpoint],
                data=call.body,
                headers=self._tracer().inject(self._send_headers),
                timeout=self._send_timeout,
                allow_redirects=False,
            ) as response:
                body = await response.read()
        except _TRANSPORT as exc:
            timeout = f"no answer within read_timeout ({self.settings.read_timeout:g}s)"
            raise self._transport_error(exc, timeout=timeout) from exc
        if 200 <= response.status < 300:
            self._note_headers(call, response.headers)
            return self._accepted(call, response.status, body, response.headers)
        error = self._status_error(response.status, body, response.headers)
        if error is not None:
            raise error
        return UpstreamResult(status=response.status, body=openai_error_body(response.status, body))

    def _accepted(
        self, call: UpstreamCall, status: int, body: bytes, headers: CIMultiDictProxy[str]
    ) -> UpstreamResult:
        """A 2xx answer; raises when its body is not a JSON object."""
        try:
            self._json_object.decode(body)
        except msgspec.DecodeError:
            raise self.malformed(status) from None
        return UpstreamResult(status=status, body=body)

    def _note_headers(self, call: UpstreamCall, headers: CIMultiDictProxy[str]) -> None:
        """Record in ``call.evidence`` the 2xx response headers a verifier needs (none here)."""
        return

    def _transport_error(self, exc: BaseException, *, timeout: str) -> UpstreamError:
        """A failed connection; a TLS key outside the attested keyset is named (fail closed)."""
        if isinstance(exc, SpkiPinMismatch):
            return UpstreamError(f"connection refused: {exc}", provider=self.name, retryable=True)
        return transport_error(self.name, exc, timeout=timeout)

    def malformed(self, status: int) -> UpstreamError:
        """The retryable error for a success answer whose JSON is broken."""
        message = f"malformed JSON in an HTTP {status} answer"
        return UpstreamError(message, provider=self.name, retryable=True, upstream_status=status)

    def _credentials_refused(self, status: int, body: bytes) -> bool:
        """Whether an error answer says the gateway's own credentials failed (beyond a 401)."""
        return False

    def _status_error(
        self, status: int, body: bytes, headers: CIMultiDictProxy[str]
    ) -> UpstreamError | None:
        credentials = self._credentials_refused(status, body)
        return status_error(self.name, status, headers, credentials=credentials)

    async def stream(self, call: UpstreamCall) -> AsyncIterator[bytes]:
        """POST ``call.body`` and yield the SSE bytes exactly as they arrive."""
        response, chunk = await self._open_stream(call)
        watchdog = IdleWatchdog(response.content, self.settings.idle_chunk_timeout)
        scanner = FrameScanner()
        finished = False
        try:
            while chunk:
                cut = scanner.error_at(chunk)
                if cut >= 0:
                    if cut:
                        yield chunk[:cut]
                    raise UpstreamError(
                        "the provider reported an error mid-stream",
                        provider=self.name,
                        retryable=True,
                    )
                yield chunk
                chunk = await watchdog.read()
            if not scanner.done:
                message = "the stream ended before [DONE]"
                raise UpstreamError(message, provider=self.name, retryable=True)
            finished = True
        except _TRANSPORT as exc:
            timeout = (
                f"no stream data for idle_chunk_timeout ({self.settings.idle_chunk_timeout:g}s)"
            )
            raise self._transport_error(exc, timeout=timeout) from exc
        finally:
            watchdog.stop()
            if finished:
                response.release()
            else:
                response.close()

    async def _open_stream(self, call: UpstreamCall) -> tuple[aiohttp.ClientResponse, bytes]:
        """The 2xx response and its first bytes, within ``first_byte_timeout``."""
        try:
            async with asyncio.timeout(self.settings.first_byte_timeout):
                response = await self._client().post(
                    self._urls[call.endpoint],
                    data=call.body,
                    headers=self._tracer().inject(self._stream_headers),
                    timeout=self._stream_timeout,
                    allow_redirects=False,
                )
                try:
                    if 200 <= response.status < 300:
                        self._note_headers(call, response.headers)
                        return response, await response.content.readany()
                    body = await response.read()
                except BaseException:
                    response.close()
                    raise
        except _TRANSPORT as exc:
            timeout = (
                f"no first byte within first_byte_timeout ({self.settings.first_byte_timeout:g}s)"
            )
            raise self._transport_error(exc, timeout=timeout) from exc
        error = self._status_error(response.status, body, response.headers)
        if error is None:
            found = error_fields(response.status, body)
            error = UpstreamError(
                found.message,
                provider=self.name,
                upstream_status=response.status,
                param=found.param,
                code=found.code,
            )
        raise error
