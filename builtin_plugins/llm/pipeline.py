"""One admitted exchange from routing to the last byte: call, verify, filter, account.

``complete`` answers non-streamed calls (chat and embeddings, also for plugins and chatbots that
call the gateway in-process); ``stream`` returns the SSE events of a streamed chat. Both record
the route, usage, timings and outcome on the exchange and finish its admission exactly once.
Under response policy ``strict`` nothing unverified is released: a stream is read to its end and
verified before its first frame goes out (a failure is an ordinary HTTP error, zero frames);
``strict_trailer`` lets the content flow and withholds only ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import aclosing

import msgspec

from builtin_plugins.llm.catalog import Route
from builtin_plugins.llm.exchange import Admission, error_code_of, usage_of
from builtin_plugins.llm.filters import filter_response
from builtin_plugins.llm.relay import relay_sse
from builtin_plugins.llm.router import Router
from builtin_plugins.llm.verification import ResponseVerification
from kernel.errors import EnclavaError, UpstreamError
from kernel.exchange import Exchange
from kernel.runtime import Kernel
from kernel.upstream import ResponsePolicy, UpstreamCall, UpstreamResult

__all__ = ["Answer", "Pipeline", "StreamStart"]


class Answer(msgspec.Struct, kw_only=True):
    """A complete answer for the client; ``settling`` is the finish of its admission (usage
    settlement and record) when the caller asked to send the answer first, else None."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]
    settling: asyncio.Task[None] | None = None


class StreamStart(msgspec.Struct, kw_only=True):
    """A stream whose first bytes arrived: the events to relay and the headers to send."""

    events: AsyncIterator[bytes]
    headers: dict[str, str]


class Pipeline:
    """Calls providers for admitted exchanges (one per gateway)."""

    def __init__(self, router: Router, verification: ResponseVerification, kernel: Kernel) -> None:
        self._router = router
        self._verification = verification
        self._kernel = kernel
        self._settling: set[asyncio.Task[None]] = set()

    def _headers(self, route: Route, exchange: Exchange, response: str) -> dict[str, str]:
        label = self._router.attestation(route).label
        exchange.attestation = f"{label}; response={response}" if response else label
        headers = {
            "x-enclava-provider": route.provider.name,
            "x-enclava-attestation": exchange.attestation,
        }
        if exchange.injected_max_tokens is not None:
            headers["x-enclava-max-tokens"] = str(exchange.injected_max_tokens)
        return headers

    @staticmethod
    def _routed(exchange: Exchange, route: Route) -> None:
        exchange.provider = route.provider.name
        exchange.route = route.model
        exchange.first_token = time.monotonic()

    async def complete(
        self, admission: Admission, routes: list[Route], *, settle_after: bool = False
    ) -> Answer:
        """Call, verify (strict waits), filter and account a non-streamed exchange.

        ``settle_after``: a successful answer comes back before its admission is finished; the
        finish (settlement of the reservation, usage record) runs as ``answer.settling``, which
        the caller awaits once the answer is sent. Until then the reservation keeps holding its
        estimate (the safe side of the no-overspend guarantee); errors finish before raising.
        """
        exchange = admission.exchange
        try:
            answer = await self._complete(exchange, routes)
        except EnclavaError as exc:
            admission.failed(exc)
            await admission.finish()
            raise
        except BaseException:
            await admission.finish()
            raise
        if not settle_after:
            await admission.finish()
            return answer
        # Its own task, awaited only through a shield (the route's background task) and at
        # shutdown: nothing cancels it, so the finish needs no shield (and no task) of its own.
        answer.settling = asyncio.get_running_loop().create_task(
            admission.finish(shield=False), name=f"enclava:settle:{exchange.request_id}"
        )
        self._settling.add(answer.settling)  # a strong reference until it is done
        answer.settling.add_done_callback(self._settling.discard)
        return answer

    async def settled(self) -> None:
        """Wait for every admission finish still running (at shutdown)."""
        if self._settling:
            await asyncio.wait(set(self._settling))

    async def _complete(self, exchange: Exchange, routes: list[Route]) -> Answer:
        async def attempt(route: Route) -> tuple[UpstreamCall, UpstreamResult]:
            exchange.provider = route.provider.name  # the last one tried: who failed, if all do
            call = Router.call(
                route,
                exchange.endpoint,
                exchange.body,
                stream=False,
                rid=exchange.request_id,
                usage=False,
            )
            return call, await route.provider.send(call)

        route, (call, result) = await self._router.dispatch(routes, attempt)
        self._routed(exchange, route)
        exchange.status = result.status
        body = result.body
        if not 200 <= result.status < 300:
            exchange.error_code = error_code_of(result.status, body)
            return self._answer(result, body, self._headers(route, exchange, ""))
        exchange.usage = usage_of(body)
        response = await self._verify_complete(route, exchange, call, body)
        components = self._kernel.components
        if exchange.endpoint == "/chat/completions" and components.chat_filters:
            with components.tracer.span("filters", phase="response"):
                body = await filter_response(components.chat_filters, exchange, body)
        return self._answer(result, body, self._headers(route, exchange, response))

    async def _verify_complete(
        self, route: Route, exchange: Exchange, call: UpstreamCall, body: bytes
    ) -> str:
        policy: ResponsePolicy = self._verification.policy(route, exchange)
        if policy in ("strict", "strict_trailer"):
            verdict = await self._verification.verify(route, exchange, call, body)
            if not verdict.valid:
                raise self._verification.failure(route, verdict)
            return "verified"
        if policy == "async":
            self._verification.later(route, exchange, call, body)
        return self._label(route, policy)

    def _label(self, route: Route, policy: ResponsePolicy) -> str:
        return policy if self._verification.verifier(route) is not None else ""

    @staticmethod
    def _answer(result: UpstreamResult, body: bytes, headers: dict[str, str]) -> Answer:
        return Answer(
            status=result.status, body=body, content_type=result.content_type, headers=headers
        )

    async def stream(
        self, admission: Admission, routes: list[Route], keep_usage: bool
    ) -> StreamStart:
        """Open the stream (failover possible until the first bytes); the events finish it."""
        exchange = admission.exchange
        try:
            route, call, upstream, first = await self._open(exchange, routes, keep_usage)
        except EnclavaError as exc:
            admission.failed(exc)
            await admission.finish()
            raise
        except BaseException:
            await admission.finish()
            raise
        self._routed(exchange, route)
        exchange.status = 200
        policy = self._verification.policy(route, exchange)
        if policy == "strict":
            frames = await self._hold(admission, route, call, upstream, first, keep_usage)
            headers = self._headers(route, exchange, "verified")
            return StreamStart(events=self._release(admission, frames), headers=headers)
        events = self._events(admission, route, call, upstream, first, keep_usage, policy)
        return StreamStart(
            events=events, headers=self._headers(route, exchange, self._label(route, policy))
        )

    async def _hold(
        self,
        admission: Admission,
        route: Route,
        call: UpstreamCall,
        upstream: AsyncIterator[bytes],
        first: bytes,
        keep_usage: bool,
    ) -> list[bytes]:
        """Policy ``strict``: every frame of the stream, verified; raises before any is sent."""
        exchange = admission.exchange
        capture = bytearray()
        relay = relay_sse(first, upstream, exchange, keep_usage=keep_usage, capture=capture)
        try:
            async with aclosing(relay):
                frames = [event async for event in relay]
            if exchange.error_code is not None:
                message = "The provider failed while streaming; nothing of the answer was sent."
                raise UpstreamError(message, provider=route.provider.name)
            verdict = await self._verification.verify(route, exchange, call, bytes(capture))
            if not verdict.valid:
                raise self._verification.failure(route, verdict)
        except EnclavaError as exc:
            exchange.error_code = None
            admission.failed(exc)
            await admission.finish()
            raise
        except BaseException:
            exchange.error_code = exchange.error_code or "client_closed"
            await admission.finish()
            raise
        exchange.first_token = time.monotonic()
        return frames

    @staticmethod
    async def _release(admission: Admission, frames: list[bytes]) -> AsyncIterator[bytes]:
        try:
            yield b"".join(frames)  # verified as a whole: one send
        except BaseException:
            admission.exchange.error_code = admission.exchange.error_code or "client_closed"
            raise
        finally:
            await admission.finish()

    async def _open(
        self, exchange: Exchange, routes: list[Route], keep_usage: bool
    ) -> tuple[Route, UpstreamCall, AsyncIterator[bytes], bytes]:
        async def attempt(route: Route) -> tuple[UpstreamCall, AsyncIterator[bytes], bytes]:
            exchange.provider = route.provider.name  # the last one tried: who failed, if all do
            call = Router.call(
                route,
                "/chat/completions",
                exchange.body,
                stream=True,
                rid=exchange.request_id,
                usage=not keep_usage,
            )
            upstream = route.provider.stream(call)
            try:
                return call, upstream, await anext(upstream)
            except StopAsyncIteration:
                name = route.provider.name
                raise UpstreamError("empty stream", provider=name, retryable=True) from None
            except BaseException:
                await upstream.aclose()  # type: ignore[attr-defined]
                raise

        route, (call, upstream, first) = await self._router.dispatch(routes, attempt)
        return route, call, upstream, first

    async def _events(
        self,
        admission: Admission,
        route: Route,
        call: UpstreamCall,
        upstream: AsyncIterator[bytes],
        first: bytes,
        keep_usage: bool,
        policy: ResponsePolicy,
    ) -> AsyncIterator[bytes]:
        exchange = admission.exchange
        capture = bytearray() if policy != "off" else None

        async def before_done(raw: bytes) -> EnclavaError | None:
            verdict = await self._verification.verify(route, exchange, call, raw)
            return None if verdict.valid else self._verification.failure(route, verdict)

        strict = before_done if policy == "strict_trailer" else None
        completed = False
        try:
            async for event in relay_sse(
                first,
                upstream,
                exchange,
                keep_usage=keep_usage,
                capture=capture,
                before_done=strict,
            ):
                yield event
            completed = exchange.error_code is None
        except BaseException:
            exchange.error_code = exchange.error_code or "client_closed"
            raise
        finally:
            if completed and policy == "async" and capture is not None:
                self._verification.later(route, exchange, call, bytes(capture))
            await admission.finish()
