"""Server-sent events as the providers frame them, with the exact bytes kept for signing.

Framing follows OpenAI's streaming format, which both providers relay from vLLM: each chunk is
``data: <compact JSON>\\n\\n`` and the stream ends with ``data: [DONE]\\n\\n``. The writer
records every authentic byte it writes (:attr:`SseWriter.sent`), so RedPill can hash the raw
stream, and plays the in-stream faults of :mod:`.faults`: a truncated first frame
(``malformed``), a changed first frame (``tamper``: the signed bytes stay authentic), a
provider-specific break after K frames (``break_after``) or silence after K frames
(``stall_after``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from builtin_plugins.simulators.faults import FAULT_KEY, hang_until_client_leaves, tamper_bytes

__all__ = ["DONE_FRAME", "SseWriter", "data_frame", "json_bytes"]

DONE_FRAME = b"data: [DONE]\n\n"


def json_bytes(value: object) -> bytes:
    """Compact JSON, as vLLM and the providers put on the wire."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def data_frame(value: object) -> bytes:
    """One SSE ``data:`` frame carrying ``value`` as JSON."""
    return b"data: " + json_bytes(value) + b"\n\n"


class SseWriter:
    """Writes frames to one streaming response; ``broken`` once a fault cut the stream short."""

    def __init__(
        self,
        request: web.Request,
        *,
        on_break: Callable[[SseWriter], Awaitable[None]],
    ) -> None:
        self.request = request
        self.fault = request.get(FAULT_KEY)
        self.response: web.StreamResponse | None = None
        self.broken = False
        self._on_break = on_break
        self._frames = 0
        self._sent = bytearray()

    @property
    def sent(self) -> bytes:
        """Every authentic byte written so far (what the simulated TEE would sign)."""
        return bytes(self._sent)

    async def open(self, headers: Mapping[str, str]) -> None:
        """Send the 200 status line and headers."""
        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **headers},
        )
        await response.prepare(self.request)
        self.response = response

    async def send(self, chunk: Mapping[str, Any]) -> None:
        """One JSON chunk."""
        await self.write_frame(data_frame(chunk))

    async def done(self, before: Callable[[bytes], None] | None = None) -> None:
        """The ``[DONE]`` sentinel; just before it goes out, ``before`` gets the whole stream.

        Signing before the last frame leaves no window in which a client has ``[DONE]`` but the
        signature is not yet retrievable.
        """
        if before is not None and self._will_write():
            before(self.sent + DONE_FRAME)
        await self.write_frame(DONE_FRAME)

    def _will_write(self) -> bool:
        if self.broken or self.response is None:
            return False
        fault = self.fault
        if fault is None:
            return True
        stops = (fault.stall_after, fault.break_after)
        return not any(k is not None and self._frames >= k for k in stops)

    async def write_raw(self, data: bytes) -> None:
        """Bytes outside the fault accounting (a provider's own error tail)."""
        if self.response is not None:
            self._sent += data
            await self._write(data)

    def _wire(self, frame: bytes) -> bytes:
        if self.fault is None or self._frames:
            return frame
        if self.fault.malformed:
            return frame[: max(len(frame) // 2, 8)] + b"\n\n"
        return tamper_bytes(frame) if self.fault.tamper else frame

    async def write_frame(self, frame: bytes) -> None:
        """Write one frame unless a fault stops the stream here."""
        if self.broken or self.response is None:
            return
        fault = self.fault
        if (
            fault is not None
            and fault.stall_after is not None
            and self._frames >= fault.stall_after
        ):
            self.broken = True
            await hang_until_client_leaves(self.request)
            return
        if (
            fault is not None
            and fault.break_after is not None
            and self._frames >= fault.break_after
        ):
            self.broken = True
            await self._on_break(self)
            return
        if fault is not None and fault.frame_interval_ms and self._frames:
            await asyncio.sleep(fault.frame_interval_ms / 1000)
        wire = self._wire(frame)
        self._sent += frame
        self._frames += 1
        await self._write(wire)

    async def _write(self, data: bytes) -> None:
        assert self.response is not None
        try:
            await self.response.write(data)
        except ConnectionResetError:
            self.broken = True

    async def finish(self) -> web.StreamResponse:
        """End the response (a no-op write when the connection is gone)."""
        assert self.response is not None
        if not self.broken:
            try:
                await self.response.write_eof()
            except ConnectionResetError:
                self.broken = True
        return self.response
