"""Inference provider adapters, one plugin each: :mod:`.privatemode` (EU, through its attesting
proxy) and :mod:`.redpill` (US, models in RedPill's confidential TEE upstreams only).

Both implement :class:`kernel.upstream.Provider` on :class:`.base.HttpProvider`: exact request
bytes out, exact response bytes back, pooled aiohttp sessions from ``kernel.http``, explicit
connect / read / first-byte / idle-chunk timeouts, and the error mapping of
:mod:`.upstream_errors`. Settings: :mod:`.settings`; model lists: :mod:`.catalog`; stream relay:
:mod:`.sse`; per-kernel instances and discovery tasks: :mod:`.runtime`.
"""

__all__: list[str] = []
