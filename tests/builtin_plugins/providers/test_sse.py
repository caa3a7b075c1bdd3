"""The stream scanner: error frames at line starts (even split across chunks), and [DONE]."""

from __future__ import annotations

import pytest

from builtin_plugins.providers.sse import FrameScanner

CHUNK = b'data: {"id":"c1","choices":[{"delta":{"content":"an error: event: error"}}]}\n\n'


def scan(*chunks: bytes) -> list[int]:
    scanner = FrameScanner()
    return [scanner.error_at(chunk) for chunk in chunks]


def test_content_mentioning_errors_is_not_an_error_frame() -> None:
    assert scan(CHUNK, CHUNK) == [-1, -1]


@pytest.mark.parametrize(
    "frame",
    [
        b'event: error\ndata: {"error":{"message":"x","type":""}}\n\n',
        b'event:error\ndata: {"message":"x"}\n\n',
        b'data: {"error":{"message":"x","type":"upstream_error","code":502}}\n\n',
        b'data:{"error":{"message":"x"}}\n\n',
    ],
)
def test_error_frames_are_found_where_they_start(frame: bytes) -> None:
    assert scan(CHUNK + frame) == [len(CHUNK)]
    assert scan(frame) == [0]


def test_an_error_frame_split_across_chunks_is_found() -> None:
    frame = b'\n\ndata: {"error":{"message":"x"}}\n\n'
    for split in range(1, len(frame)):
        head, tail = CHUNK + frame[:split], frame[split:]
        found = scan(head, tail)
        assert found[0] >= 0 or found[1] >= 0, split


def test_done_is_seen_even_when_split() -> None:
    scanner = FrameScanner()
    for chunk in (CHUNK, b"data: [DO", b"NE]\n", b"\n"):
        scanner.error_at(chunk)
    assert scanner.done
    unfinished = FrameScanner()
    unfinished.error_at(CHUNK)
    assert not unfinished.done
