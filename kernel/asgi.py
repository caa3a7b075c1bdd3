"""ASGI scopes the gateway builds itself: a request it sends through its own app."""

from __future__ import annotations

from typing import Any

__all__ = ["http_scope"]


def http_scope(
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    *,
    client: tuple[str, int] = ("127.0.0.1", 0),
    server: tuple[str, int] = ("enclava.internal", 80),
) -> dict[str, Any]:
    """The ``http`` scope of ``method path`` (no query string) over HTTP/1.1, as a server
    would pass it to the app; ``headers`` lower-cased, as ASGI requires."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": client,
        "server": server,
    }
