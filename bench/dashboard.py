"""Dashboard benchmark: each page's HTML weight and time to first byte on the embedded setup.

Usage: ``.venv/bin/python bench/dashboard.py [--calls 50]``

Method: ``enclava serve`` (one worker, SQLite and the in-memory KV in a fresh data dir, the mock
upstream as Privatemode) started by ``servers.py``; its admin (made by the CLI) signs in through
the dashboard's own form, a few chat requests give the usage page something to show, then every
page is fetched ``--calls`` times over loopback, one at a time, after one warm-up. "first byte"
is the time from sending the request to the first body byte (headers included), "weight" the
HTML's size (vendored assets are separate, cached files). Targets: HTML at most 100 KB, first
byte p50 at most 50 ms. Never part of the test pass/fail.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from mock_upstream import MODEL
from servers import ADMIN_EMAIL, ADMIN_PASSWORD, enclava_env, start_enclava, start_mock

PAGES = (
    "/dashboard/",
    "/dashboard/keys",
    "/dashboard/keys/{key_id}",
    "/dashboard/usage",
    "/dashboard/budgets",
    "/dashboard/attestation",
    "/dashboard/plugins",
    "/dashboard/plugins/rate_limit",
    "/dashboard/users",
    "/dashboard/audit",
    "/dashboard/settings",
    "/dashboard/chatbots",
    "/dashboard/chatbots/new",
    "/dashboard/chatbots/{chatbot_id}",
    "/dashboard/chatbots/{chatbot_id}/playground",
    "/dashboard/conversations",
    "/dashboard/documents",
    "/dashboard/documents/{collection_id}",
)
MAX_KB = 100
MAX_P50_MS = 50
_CSRF = re.compile(r'name="_csrf" value="([0-9a-f]{64})"')
_KEY_ID = re.compile(r'data-key-id="([0-9a-f]+)"')


def sign_in(client: httpx.Client) -> None:
    """The admin signs in through the form (and sets a new password if told to)."""
    form = client.get("/dashboard/login")
    csrf = _CSRF.search(form.text)
    assert csrf, form.text[:300]
    fields = {"_csrf": csrf.group(1), "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    answer = client.post("/dashboard/login", data=fields)
    if answer.headers.get("location") == "/dashboard/password":
        page = client.get("/dashboard/password")
        new = ADMIN_PASSWORD + "-new"
        client.post(
            "/dashboard/password",
            data={
                "_csrf": _CSRF.search(page.text).group(1),  # type: ignore[union-attr]
                "current_password": ADMIN_PASSWORD,
                "new_password": new,
                "confirm_password": new,
            },
        )


def workspace(client: httpx.Client) -> dict[str, str]:
    """A chatbot and a collection made through the internal API with the session's token, so
    their pages have something to show: ``{"chatbot_id", "collection_id"}``."""
    auth = {"Authorization": f"Bearer {client.cookies['enclava_session']}"}
    bot = client.post(
        "/api-internal/v1/chatbots", json={"name": "bench", "model": MODEL}, headers=auth
    )
    collection = client.post(
        "/api-internal/v1/rag/collections", json={"name": "bench"}, headers=auth
    )
    for made in (bot, collection):
        if made.status_code != 201:
            raise SystemExit(f"{made.request.url} answered {made.status_code}: {made.text}")
    return {"chatbot_id": bot.json()["id"], "collection_id": collection.json()["id"]}


def first_byte(client: httpx.Client, path: str) -> tuple[float, int]:
    """(seconds to the first body byte, the whole body's bytes) of one GET."""
    began = time.perf_counter()
    with client.stream("GET", path) as response:
        chunks = response.iter_raw()
        first = next(chunks, b"")
        elapsed = time.perf_counter() - began
        size = len(first) + sum(len(chunk) for chunk in chunks)
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}")
    return elapsed, size


def measure(base: str, key: str, calls: int) -> list[tuple[str, float, float, float]]:
    """(page, KB, p50 ms, p95 ms) per page."""
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(5):
            client.post(
                "/api/v1/chat/completions",
                json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {key}"},
            )
        sign_in(client)
        key_id = _KEY_ID.search(client.get("/dashboard/keys").text)
        ids = {"key_id": key_id.group(1) if key_id else "none", **workspace(client)}
        rows = []
        for template in PAGES:
            path = template.format(**ids)
            first_byte(client, path)
            samples = [first_byte(client, path) for _ in range(calls)]
            times = sorted(t for t, _ in samples)
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            rows.append(
                (template, samples[-1][1] / 1024, statistics.median(times) * 1e3, p95 * 1e3)
            )
    return rows


def report(rows: list[tuple[str, float, float, float]]) -> str:
    lines = [
        f"| page | HTML KB (≤ {MAX_KB}) | first byte p50 ms (≤ {MAX_P50_MS}) | p95 ms | within |",
        "|---|---:|---:|---:|---|",
    ]
    for page, kb, p50, p95 in rows:
        ok = "yes" if kb <= MAX_KB and p50 <= MAX_P50_MS else "NO"
        lines.append(f"| `{page}` | {kb:.1f} | {p50:.1f} | {p95:.1f} | {ok} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        mock = start_mock(stack, tmp)
        # Each page makes several internal API calls (the session check among them): the
        # per-user internal rate limit would otherwise cut the run short.
        env = enclava_env(
            tmp / "data", mock.base, ENCLAVA_RATE_LIMIT_INTERNAL_PER_MINUTE="100000000"
        )
        server = start_enclava(stack, env, tmp / "enclava.log")
        base = server.base.removesuffix("/api/v1")
        print(report(measure(base, server.token, args.calls)))


if __name__ == "__main__":
    main()
