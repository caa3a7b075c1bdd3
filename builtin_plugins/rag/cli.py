"""``enclava rag ingest|search|cancel``: a client of a running server's public API.

The server is ``--url`` or ``ENCLAVA_URL``; the API key comes from ``ENCLAVA_API_KEY`` or
``OPENAI_API_KEY`` (never a flag, so it stays out of shell history). ``ingest`` uploads each
file (directories are walked), then follows every document's job, printing a line per change
and the overall count; it exits 1 naming the files that failed or whose job was cancelled.
``cancel`` cancels the ingest jobs of documents by id.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernel.types import CliCommand

if TYPE_CHECKING:  # httpx (with click and rich under it) loads only when the command runs
    import httpx

__all__ = ["rag_command"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
_API = "/api/v1/rag"
_TERMINAL = {"indexed", "failed", "cancelled"}
_POLL_SECONDS = 0.5


class CliError(Exception):
    """A failure the command reports in one line."""


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="rag_action", required=True, metavar="ACTION")
    ingest = actions.add_parser("ingest", help="Upload files into a collection and index them.")
    ingest.add_argument(
        "--collection", required=True, help="the collection's name (or id), owned by the key"
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or directories to upload")
    ingest.add_argument(
        "--no-wait", action="store_true", help="return once uploaded, without following the jobs"
    )
    search = actions.add_parser("search", help="Search a collection; prints the best passages.")
    search.add_argument("--collection", required=True, help="the collection's name (or id)")
    search.add_argument("query", help="what to look for")
    search.add_argument("--top-k", type=int, default=5, help="how many passages (1-50)")
    search.add_argument(
        "--mode", choices=("hybrid", "dense", "sparse"), default="hybrid", help="ranking used"
    )
    cancel = actions.add_parser("cancel", help="Cancel the ingest jobs of documents.")
    cancel.add_argument("documents", nargs="+", metavar="DOCUMENT_ID", help="document ids")
    for action in (ingest, search, cancel):
        action.add_argument("--url", help="server base URL (default: $ENCLAVA_URL)")
        action.add_argument(
            "--timeout", type=float, default=600.0, help="seconds to wait for the server"
        )


def _client(args: argparse.Namespace) -> httpx.Client:
    url = args.url or os.environ.get("ENCLAVA_URL", "")
    key = os.environ.get("ENCLAVA_API_KEY") or os.environ.get("OPENAI_API_KEY") or ""
    if not url:
        raise CliError("no server: pass --url or set ENCLAVA_URL")
    if not key:
        raise CliError("no API key: set ENCLAVA_API_KEY (or OPENAI_API_KEY)")
    import httpx

    return httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {key}"},
        timeout=args.timeout,
    )


def _checked(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            reason = f"{error.get('code') or error.get('type')}: {error.get('message')}"
        except (ValueError, KeyError, TypeError):
            reason = response.text[:200]
        raise CliError(f"HTTP {response.status_code} {reason}")
    return response.json()


def _collection_id(client: httpx.Client, name: str) -> str:
    """The id of the collection ``name`` (an id or a name); names are not unique, so a name
    several collections share is refused rather than guessed."""
    offset, named = 0, []
    while True:
        page = _checked(client.get(f"{_API}/collections", params={"limit": 200, "offset": offset}))
        for collection in page["data"]:
            if name == collection["id"]:
                return str(collection["id"])
            if name == collection["name"]:
                named.append(str(collection["id"]))
        offset += len(page["data"])
        if not page["data"] or offset >= page["total"]:
            break
    if len(named) > 1:
        raise CliError(f"{len(named)} collections are named '{name}'; pass the id instead")
    if not named:
        raise CliError(f"no collection named '{name}' that this key may use")
    return named[0]


def _files(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path
        else:
            raise CliError(f"{raw}: no such file or directory")


def _ingest(args: argparse.Namespace) -> int:
    files = list(_files(args.paths))
    failed: list[str] = []
    with _client(args) as client:
        cid = _collection_id(client, args.collection)
        jobs: dict[str, str] = {}
        for number, path in enumerate(files, start=1):
            upload = {"files": (path.name, path.read_bytes(), "application/octet-stream")}
            try:
                body = _checked(client.post(f"{_API}/collections/{cid}/documents", files=upload))
            except CliError as exc:
                print(f"[{number}/{len(files)}] {path}: failed: {exc}", flush=True)
                failed.append(str(path))
                continue
            for error in body["errors"]:
                print(f"[{number}/{len(files)}] {path}: failed: {error['message']}", flush=True)
                failed.append(str(path))
            for document in body["documents"]:
                jobs[document["id"]] = document["name"]
            if body["documents"]:
                print(f"[{number}/{len(files)}] {path}: uploaded", flush=True)
        if not args.no_wait:
            failed += _follow(client, jobs)
    if failed:
        print(
            f"enclava: {len(failed)} file(s) failed or were cancelled: {', '.join(failed)}",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    print(f"{len(jobs)} document(s) {'queued' if args.no_wait else 'indexed'}")
    return EXIT_OK


def _follow(client: httpx.Client, jobs: dict[str, str]) -> list[str]:
    """Print each job's state changes until all ended; the names of those that failed."""
    seen: dict[str, tuple[str, int]] = {}
    failed: list[str] = []
    pending = dict(jobs)
    while pending:
        for document_id, name in list(pending.items()):
            job = _checked(client.get(f"{_API}/documents/{document_id}"))["job"]
            state = (job["state"], job["progress"])
            if seen.get(document_id) != state:
                seen[document_id] = state
                done = len(jobs) - len(pending) + (job["state"] in _TERMINAL)
                line = f"{name}: {job['state']} {job['progress']}%  (overall {done}/{len(jobs)})"
                if job["error"]:
                    line += f": {job['error']}"
                print(line, flush=True)
            if job["state"] in _TERMINAL:
                del pending[document_id]
                if job["state"] != "indexed":
                    failed.append(name)
        if pending:
            time.sleep(_POLL_SECONDS)
    return failed


def _search(args: argparse.Namespace) -> int:
    with _client(args) as client:
        cid = _collection_id(client, args.collection)
        body = {"query": args.query, "top_k": args.top_k, "mode": args.mode}
        results = _checked(client.post(f"{_API}/collections/{cid}/search", json=body))["data"]
    for rank, passage in enumerate(results, start=1):
        where = passage["document_name"]
        if passage.get("page"):
            where += f" p.{passage['page']}"
        if passage.get("section"):
            where += f" § {passage['section']}"
        text = " ".join(passage["text"].split())
        print(f"{rank}. [{passage['score']:.3f}] {where}\n   {text[:300]}")
    if not results:
        print("no passages found")
    return EXIT_OK


def _cancel(args: argparse.Namespace) -> int:
    refused: list[str] = []
    with _client(args) as client:
        for document_id in args.documents:
            try:
                document = _checked(client.post(f"{_API}/documents/{document_id}/cancel"))
            except CliError as exc:
                print(f"{document_id}: not cancelled: {exc}", flush=True)
                refused.append(document_id)
                continue
            print(f"{document['name']}: {document['job']['state']}", flush=True)
    if refused:
        print(
            f"enclava: {len(refused)} job(s) not cancelled: {', '.join(refused)}", file=sys.stderr
        )
        return EXIT_FAILURE
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    import httpx

    actions = {"ingest": _ingest, "search": _search, "cancel": _cancel}
    try:
        return actions[args.rag_action](args)
    except CliError as exc:
        print(f"enclava: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except httpx.HTTPError as exc:
        print(f"enclava: cannot reach the server: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def rag_command() -> CliCommand:
    """The ``rag`` command group."""
    return CliCommand(
        name="rag",
        help="Upload documents to, search, and cancel ingest jobs in RAG collections of a "
        "running server.",
        configure=_configure,
        run=_run,
    )
