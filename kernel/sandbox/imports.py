"""Host functions of the ``enclava:plugin/host`` interface, granted per plugin.

A plugin's linker gives capabilities only to what its manifest was granted (``log`` and
``config-get`` always; ``kv-*`` with ``permissions.kv``; ``http-fetch`` with a non-empty
allowlist; ``llm-chat`` with ``permissions.llm`` models, when the gateway is running); the other
host imports are linked to refusals that reach nothing and answer ``err``, and an import outside
WASI and this interface fails instantiation. Host functions run on the thread running the guest
(a call thread, or the event loop's for a chat filter tried there: then nothing may wait, see
:mod:`plugin`) and never raise into the guest: async work is bridged to the event loop with a
timeout and every failure becomes an ``err``. The one exception is the call's deadline: a host
function waits at most the call's remaining time (its own timeout if shorter) and traps the
guest once none is left, so a KV, HTTP or LLM call cannot carry a guest past
``limits.timeout_ms``. ``kv-add`` does not cross to the loop at all: it records the addition on
the call, and :meth:`HostContext.apply_adds` makes them once the call has returned ok.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

import msgspec
import wasmtime
from wasmtime.component import Linker, LinkerInstance, Variant

from kernel.sandbox.abi import add_host_func
from kernel.sandbox.clocks import add_clocks
from kernel.sandbox.deadline import CallScope, DeadlineExceeded
from kernel.sandbox.host_types import LlmChat, LlmRefused
from kernel.sandbox.logs import MAX_LINE_CHARS, LogBuffer
from kernel.sandbox.manifest import Manifest
from kernel.sandbox.outbound import HttpFetcher, OutboundRefused
from kernel.storage.kv import KV, Reservation

__all__ = ["HOST_INTERFACE", "HostContext", "LlmChat", "LlmRefused", "build_linker"]

HOST_INTERFACE = "enclava:plugin/host@0.1.0"
MAX_KEY_CHARS = 256
MAX_VALUE_BYTES = 65_536
MAX_ADD_KEYS = 64
"""Distinct keys one call may ``kv-add`` to."""
KV_TIMEOUT_SECONDS = 2.0
_S64 = range(-(2**63), 2**63)
T = TypeVar("T")
HostFunc = Callable[..., Any]


class HostContext:
    """What one plugin's host functions may reach: its KV namespace, allowlist, config, logs."""

    def __init__(
        self,
        manifest: Manifest,
        *,
        loop: asyncio.AbstractEventLoop,
        kv: KV,
        fetcher: HttpFetcher,
        config: Callable[[], Mapping[str, Any]],
        logs: LogBuffer,
        llm: LlmChat | None = None,
    ) -> None:
        self.manifest = manifest
        self.loop = loop
        self.kv = kv
        self.fetcher = fetcher
        self.config = config
        self.logs = logs
        self.llm = llm
        self.calls = CallScope()
        self._prefix = f"wasm:{manifest.name}:"

    def key(self, key: str) -> str:
        """The full KV key of the plugin's ``key``; ValueError for an empty or too long one."""
        if not key or len(key) > MAX_KEY_CHARS:
            raise ValueError("bad key")
        return self._prefix + key

    def add(self, adds: dict[str, int], key: str, delta: int) -> None:
        """Record ``delta`` for ``key`` among a call's additions (``kv-add``); ValueError when
        the key is bad, the sum leaves s64, or the call already added to MAX_ADD_KEYS keys."""
        full = self.key(key)
        if full not in adds and len(adds) >= MAX_ADD_KEYS:
            raise ValueError(f"kv-add reached {MAX_ADD_KEYS} keys in this call")
        total = adds.get(full, 0) + delta
        if total not in _S64:
            raise ValueError("the sum leaves the s64 range")
        adds[full] = total

    async def incr(self, key: str, delta: int) -> int:
        """Add ``delta`` to the integer under the full KV ``key`` in one atomic store operation
        (across replicas; an absent key counts as 0); the new value."""
        result = await self.kv.reserve([Reservation(key=key, amount=delta)])
        return result.totals[0]

    async def apply_adds(self, adds: Mapping[str, int]) -> None:
        """The ``kv-add`` additions of a call that returned ok, all in one store operation
        (bounded by the store's own timeout)."""
        if adds:
            await self.kv.reserve_many([[Reservation(key=k, amount=d)] for k, d in adds.items()])

    async def llm_call(self, chat: LlmChat, payload: bytes) -> bytes:
        return await chat(self.manifest.name, payload)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float, what: str) -> T:
        """Run ``coro`` on the event loop from a call thread; TimeoutError after ``timeout``,
        DeadlineExceeded (a trap) if the call's deadline comes first."""
        try:
            budget = self.calls.current().budget(timeout, what)
        except DeadlineExceeded:
            coro.close()
            raise
        future: Future[T] = Future()
        started: list[asyncio.Task[None]] = []
        try:
            self.loop.call_soon_threadsafe(_start, self.loop, coro, future, started)
        except RuntimeError:  # the loop is closed
            coro.close()
            raise
        try:
            return future.result(budget)
        except TimeoutError:
            future.cancel()
            self.loop.call_soon_threadsafe(_stop, started)
            if budget < timeout:
                raise DeadlineExceeded(what) from None
            raise


# run_coroutine_threadsafe takes three turns of the event loop (schedule, step, chain back);
# this bridge takes two, and hands the answer straight to the waiting call thread.
async def _bridge(coro: Coroutine[Any, Any, T], future: Future[T]) -> None:
    try:
        result = await coro
    except BaseException as exc:  # the call thread re-raises it (CancelledError included)
        if not future.done():
            future.set_exception(exc)
        if not isinstance(exc, Exception):
            raise
        return
    if not future.done():
        future.set_result(result)


def _start(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, T],
    future: Future[T],
    started: list[asyncio.Task[None]],
) -> None:
    if future.cancelled():  # the call thread gave up before the loop got here
        coro.close()
        return
    started.append(loop.create_task(_bridge(coro, future)))


def _stop(started: list[asyncio.Task[None]]) -> None:
    for task in started:
        task.cancel()


# Every import returns result<string, string>, a tagged variant: wasmtime-py lowers untagged
# variants (option<T>, result<_, E>) through a module-level set, which races across call threads.
def _ok(value: Any) -> Variant:
    return Variant("ok", json.dumps(value))


def _err(message: str) -> Variant:
    return Variant("err", message)


def _guarded(name: str, func: Callable[..., Variant]) -> HostFunc:
    def call(_store: Any, *args: Any) -> Variant:
        try:
            return func(*args)
        except DeadlineExceeded:
            raise
        except Exception as exc:  # a host function must never raise into the guest
            return _err(f"{name} failed: {type(exc).__name__}")

    return call


def _kv_functions(ctx: HostContext) -> dict[str, HostFunc]:
    def run(coro: Awaitable[T]) -> T:
        return ctx.run(coro, KV_TIMEOUT_SECONDS, "a KV call")  # type: ignore[arg-type]

    def kv_get(key: str) -> Variant:
        raw = run(ctx.kv.get(ctx.key(key)))
        return Variant("ok", "null" if raw is None else raw.decode())

    def kv_set(key: str, value: str, ttl: int | None) -> Variant:
        encoded = value.encode()
        if len(encoded) > MAX_VALUE_BYTES:
            return _err(f"value exceeds {MAX_VALUE_BYTES} bytes")
        json.loads(value)
        run(ctx.kv.set(ctx.key(key), encoded, ttl=None if ttl is None else float(ttl)))
        return _ok(None)

    def kv_delete(key: str) -> Variant:
        run(ctx.kv.delete(ctx.key(key)))
        return _ok(None)

    def kv_incr(key: str, delta: int) -> Variant:
        return _ok(run(ctx.incr(ctx.key(key), delta)))

    def kv_add(key: str, delta: int) -> Variant:
        adds = ctx.calls.current().adds
        if len(adds) >= MAX_ADD_KEYS and ctx.key(key) not in adds:
            return _err(f"kv-add reached {MAX_ADD_KEYS} keys in this call")
        ctx.add(adds, key, delta)
        return _ok(None)

    return {
        "kv-get": _guarded("kv-get", kv_get),
        "kv-set": _guarded("kv-set", kv_set),
        "kv-delete": _guarded("kv-delete", kv_delete),
        "kv-incr": _guarded("kv-incr", kv_incr),
        "kv-add": _guarded("kv-add", kv_add),
    }


def _http_function(ctx: HostContext) -> HostFunc:
    limits = ctx.manifest.limits

    def http_fetch(request: str) -> Variant:
        try:
            answer = ctx.run(
                ctx.fetcher.fetch(request), limits.http_timeout_ms / 1000 + 1, "http-fetch"
            )
        except OutboundRefused as exc:
            return _err(str(exc))
        except TimeoutError:
            return _err("http-fetch timed out")
        return Variant("ok", msgspec.json.encode(answer).decode())

    return _guarded("http-fetch", http_fetch)


def _llm_function(ctx: HostContext, chat: LlmChat) -> HostFunc:
    allowed = ctx.manifest.permissions.llm
    timeout = ctx.manifest.limits.llm_timeout_ms / 1000

    def llm_chat(request: str) -> Variant:
        body = json.loads(request)
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return _err("llm-chat needs a JSON object with a model")
        if "*" not in allowed and body["model"] not in allowed:
            return _err(f"model {body['model']!r} is not in this plugin's permissions.llm")
        body["stream"] = False
        payload = json.dumps(body).encode()
        try:
            answer = ctx.run(ctx.llm_call(chat, payload), timeout, "llm-chat")
        except LlmRefused as exc:
            return _err(str(exc))
        except TimeoutError:
            return _err("llm-chat timed out")
        return Variant("ok", answer.decode())

    return _guarded("llm-chat", llm_chat)


def _base_functions(ctx: HostContext) -> dict[str, HostFunc]:
    def log(_store: Any, level: str, message: str) -> None:
        call = ctx.calls.peek()
        if call is not None and call.on_loop:  # written if the call finishes there
            call.lines.append((level, message[:MAX_LINE_CHARS]))
        else:
            ctx.logs.log(level, message)

    def config_get(key: str) -> Variant:
        values = ctx.calls.current().config  # the instance's own: the guest may cache it
        if key in values:
            return _ok(values[key])
        option = ctx.manifest.config.get(key)
        return _ok(None if option is None else option.default)

    return {"log": log, "config-get": _guarded("config-get", config_get)}


def _refusal(name: str, permission: str) -> HostFunc:
    def refuse(_store: Any, *_args: Any) -> Variant:
        return _err(f"{name} is not granted: add {permission} to plugin.toml")

    return refuse


KV_FUNCTIONS = ("kv-get", "kv-set", "kv-delete", "kv-incr", "kv-add")


def build_linker(engine: wasmtime.Engine, ctx: HostContext, imports: Iterable[str]) -> Linker:
    """A linker with WASI (no files or sockets: the store's config grants none, and its only
    environment variable is :data:`~kernel.sandbox.effects.DEFER_ENV`; the
    monotonic clock bounded by the call's deadline) and the host interface, capable only where
    ``ctx.manifest`` was granted. ``imports`` are the component's import names."""
    functions = _base_functions(ctx)
    if ctx.manifest.permissions.kv:
        functions.update(_kv_functions(ctx))
    else:
        functions.update({name: _refusal(name, "permissions.kv") for name in KV_FUNCTIONS})
    if ctx.manifest.permissions.http:
        functions["http-fetch"] = _http_function(ctx)
    else:
        functions["http-fetch"] = _refusal("http-fetch", "permissions.http")
    if ctx.manifest.permissions.llm and ctx.llm is not None:
        functions["llm-chat"] = _llm_function(ctx, ctx.llm)
    else:
        functions["llm-chat"] = _refusal("llm-chat", "permissions.llm")
    linker = Linker(engine)
    linker.add_wasip2()
    add_clocks(linker, imports, ctx.calls)
    root: LinkerInstance
    with linker.root() as root, root.add_instance(HOST_INTERFACE) as host:
        for name, func in functions.items():
            add_host_func(host, name, func)
    return linker
