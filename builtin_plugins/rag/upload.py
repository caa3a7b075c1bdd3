"""Multipart uploads read in memory with a per-file cap, never spooled to a temporary file.

Litestar's own form parser rolls files over 1 MB to disk in clear text; the originals must
only ever reach disk encrypted (the file store), so the upload route streams the body through
the same ``multipart`` push parser here, keeping each file's bytes in memory and failing with
413 as soon as one grows past ``max_upload_bytes``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
from multipart import (  # type: ignore[import-untyped]
    MultipartSegment,
    ParserError,
    ParserLimitReached,
    PushMultipartParser,
)

from kernel.errors import InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError

__all__ = ["UPLOAD_BODY_OPT", "UploadedFile", "read_files"]

# Upload routes are bounded by ``rag.max_upload_bytes`` per file and ``max_files_per_upload``
# files (enforced while streaming below), not by ``server.max_body_bytes``: the gate is told so.
UPLOAD_BODY_OPT = {"enclava_max_body_bytes": 2**63 - 1}


class UploadedFile(msgspec.Struct, frozen=True):
    """One file part of the request."""

    name: str
    data: bytes


async def read_files(
    content_type: str,
    stream: AsyncIterator[bytes],
    *,
    max_bytes: int,
    max_files: int,
) -> list[UploadedFile]:
    """The file parts of a ``multipart/form-data`` body (other fields are ignored)."""
    boundary = _boundary(content_type)
    files: list[UploadedFile] = []
    segment: MultipartSegment | None = None
    data = bytearray()
    try:
        with PushMultipartParser(boundary, max_segment_count=2 * max_files + 8) as parser:
            async for chunk in _with_end(stream):
                for part in parser.parse(chunk):
                    if isinstance(part, MultipartSegment):
                        segment, data = part, bytearray()
                    elif part:
                        if segment is None or not segment.filename:
                            continue  # a plain field: ignored, so never buffered
                        data.extend(part)
                        if len(data) > max_bytes:
                            raise PayloadTooLargeError(
                                f"file '{segment.filename}' is larger than the "
                                f"{max_bytes}-byte upload limit"
                            )
                    elif segment is not None:
                        if segment.filename:
                            if len(files) >= max_files:
                                raise PayloadTooLargeError(f"at most {max_files} files per upload")
                            files.append(UploadedFile(name=segment.filename, data=bytes(data)))
                        segment = None
    except (ParserError, ParserLimitReached):
        raise InvalidRequestError("invalid multipart/form-data body") from None
    if not files:
        raise InvalidRequestError("the upload holds no file (send multipart parts named 'files')")
    return files


async def _with_end(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The body's chunks, then ``b""``, which tells the parser the body ended."""
    async for chunk in stream:
        if chunk:
            yield chunk
    yield b""


def _boundary(content_type: str) -> bytes:
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        raise UnsupportedMediaTypeError("documents are uploaded as multipart/form-data")
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"').encode()
    raise InvalidRequestError("multipart boundary missing in Content-Type")
