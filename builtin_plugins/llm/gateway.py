"""The gateway object the llm plugin's handlers share: router, circuits, lifecycle."""

from __future__ import annotations

from typing import Literal

from builtin_plugins.llm.catalog import Route
from builtin_plugins.llm.circuit import CircuitBreaker
from builtin_plugins.llm.exchange import Admission, admit
from builtin_plugins.llm.filters import ChatFilterError, filter_request
from builtin_plugins.llm.pipeline import Answer, Pipeline, StreamStart
from builtin_plugins.llm.router import Router
from builtin_plugins.llm.settings import LlmSettings, check_timeouts
from builtin_plugins.llm.verification import ResponseVerification
from builtin_plugins.llm.wire import ChatView, decode_view
from kernel.errors import EnclavaError
from kernel.exchange import Exchange, completion_limits
from kernel.runtime import Kernel
from kernel.stash import StashKey

__all__ = ["Gateway", "gateway_for"]


class Gateway:
    """Created with the app's routes; started and stopped with the plugin."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._router: Router | None = None
        self._breaker: CircuitBreaker | None = None
        self._pipeline: Pipeline | None = None
        self._verification: ResponseVerification | None = None

    @property
    def router(self) -> Router:
        if self._router is None:
            raise RuntimeError("the llm plugin has not started")
        return self._router

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            raise RuntimeError("the llm plugin has not started")
        return self._pipeline

    def settings(self) -> LlmSettings:
        return self.kernel.settings.section("llm", LlmSettings)

    async def start(self) -> None:
        """Check that provider timeouts fit the deadline (ConfigError), then start routing."""
        check_timeouts(self.settings(), self.kernel.settings.sections)
        self._breaker = CircuitBreaker(self.kernel.stores.kv, self.settings)
        await self._breaker.start()
        self._router = Router(self.kernel, self._breaker)
        self._verification = ResponseVerification(self.kernel, self._breaker)
        self._pipeline = Pipeline(self._router, self._verification, self.kernel)

    async def admit(self, exchange: Exchange) -> Admission:
        """Admit ``exchange`` (guards), then let chat filters rewrite a chat request's body."""
        components = self.kernel.components
        with components.tracer.span("guards"):
            admission = await admit(components.exchange_guards, exchange)
        if exchange.endpoint != "/chat/completions" or not components.chat_filters:
            return admission
        try:
            with components.tracer.span("filters", phase="request"):
                body = await filter_request(components.chat_filters, exchange, exchange.body)
            if body is not exchange.body:
                view = decode_view(body, ChatView)
                if view.model != exchange.model or view.stream != exchange.stream:
                    raise ChatFilterError("A chat filter changed the model or stream mode.")
                if not completion_limits(exchange.body).covers(completion_limits(body)):
                    # The guards reserved for the admitted limits (and may have injected them).
                    raise ChatFilterError("A chat filter raised n or max_tokens after admission.")
                exchange.body = body
        except EnclavaError as exc:
            admission.failed(exc)
            await admission.finish()
            raise
        return admission

    async def complete(
        self, exchange: Exchange, *, key_region: str | None = None, settle_after: bool = False
    ) -> Answer:
        """Admit, route and answer a non-streamed exchange (handlers, chatbots, plugins);
        ``settle_after`` as in :meth:`Pipeline.complete`."""
        admission, routes = await self._admit_and_route(exchange, key_region)
        return await self.pipeline.complete(admission, routes, settle_after=settle_after)

    async def stream(
        self, exchange: Exchange, *, keep_usage: bool, key_region: str | None = None
    ) -> StreamStart:
        """Admit and route a streamed chat; the returned events finish the exchange."""
        admission, routes = await self._admit_and_route(exchange, key_region)
        return await self.pipeline.stream(admission, routes, keep_usage)

    async def _admit_and_route(
        self, exchange: Exchange, key_region: str | None
    ) -> tuple[Admission, list[Route]]:
        task = "generate" if exchange.endpoint == "/chat/completions" else "embed"
        admission = await self.admit(exchange)
        try:
            routes = await self.router.candidates(
                exchange.model,
                task,
                key_region=key_region,
                preferred=exchange.preferred_providers,
                allowed=exchange.allowed_providers,
            )
        except EnclavaError as exc:
            admission.failed(exc)
            await admission.finish()
            raise
        return admission, routes

    def circuit_state(self, provider: str) -> Literal["closed", "open", "half_open"]:
        """:class:`~kernel.services.ProviderCircuits`: this replica's view of a circuit."""
        if self._breaker is None:
            return "closed"
        state = self._breaker.state(provider)
        return "open" if state == "open" else "half_open" if state == "half_open" else "closed"

    async def sync_circuits(self) -> None:
        """Background task: pick up circuits opened elsewhere."""
        if self._breaker is not None:
            await self._breaker.sync([p.name for p in self.kernel.components.providers])

    async def stop(self) -> None:
        if self._pipeline is not None:
            await self._pipeline.settled()
        if self._verification is not None:
            await self._verification.drain()
        if self._breaker is not None:
            await self._breaker.stop()
        self._router = self._breaker = None
        self._pipeline = self._verification = None


_GATEWAY: StashKey[Gateway] = StashKey()


def gateway_for(kernel: Kernel) -> Gateway:
    """The kernel's one gateway, created on first use (it starts with the plugin)."""
    gateway = kernel.stash.get(_GATEWAY)
    if gateway is None:
        gateway = kernel.stash[_GATEWAY] = Gateway(kernel)
    return gateway
