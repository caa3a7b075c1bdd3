"""Fixtures: the real app (every builtin plugin) on SQLite+memory, or PostgreSQL+Redis for the
``stack`` tests; users that log in through the app; API keys stored like the API does; document
fixtures generated with the same libraries the extractors read (pypdfium2, python-docx,
openpyxl)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from support.identity import create_user, login
from support.server import serving

from builtin_plugins.api_keys import lifecycle
from builtin_plugins.api_keys.payloads import validated_settings
from builtin_plugins.api_keys.runtime import ApiKeysRuntime
from kernel.app import create_app
from kernel.plugins import PluginManager

INTERNAL = "/api-internal/v1/rag"
PUBLIC = "/api/v1/rag"


class RagEnv:
    """A running app with a client and helpers to act as users and keys."""

    def __init__(self, app: Litestar, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self.url = ""

    @property
    def kernel(self) -> Any:
        return self.app.state.kernel

    async def user(self, role: str = "user") -> tuple[str, dict[str, str]]:
        """(user id, Authorization header) of a new user logged in through the app."""
        email = f"u-{uuid.uuid4().hex[:10]}@example.com"
        password = secrets.token_urlsafe(18)
        user_id = await create_user(self.app, email, password, role=role)  # type: ignore[arg-type]
        return user_id, await login(self.client, email, password)

    async def key(self, owner_id: str, **fields: Any) -> dict[str, str]:
        """The Authorization header of a new key of ``owner_id``."""
        kernel = self.kernel
        values = validated_settings(
            {"name": "rag test key", "scopes": ["rag.search", "rag.write"], **fields},
            regions=kernel.provider_regions(),
        )
        _, key = await lifecycle.create_key(
            kernel.stores.db, ApiKeysRuntime.of(kernel).pepper(), owner_id=owner_id, fields=values
        )
        return {"Authorization": f"Bearer {key}"}

    async def collection(self, headers: dict[str, str], name: str = "docs", **extra: Any) -> str:
        response = await self.client.post(
            f"{INTERNAL}/collections", json={"name": name, **extra}, headers=headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def upload(
        self,
        headers: dict[str, str],
        collection_id: str,
        files: list[tuple[str, bytes]],
        *,
        base: str = INTERNAL,
    ) -> httpx.Response:
        parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
        return await self.client.post(
            f"{base}/collections/{collection_id}/documents", files=parts, headers=headers
        )

    async def wait_indexed(
        self, headers: dict[str, str], document_id: str, seconds: float = 60
    ) -> dict[str, Any]:
        """The document once its job ended (indexed or failed)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            response = await self.client.get(f"{INTERNAL}/documents/{document_id}", headers=headers)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["job"]["state"] in {"indexed", "failed"}:
                return body
            assert asyncio.get_running_loop().time() < deadline, body
            await asyncio.sleep(0.05)

    async def search(
        self, headers: dict[str, str], collection_id: str, query: str, **extra: Any
    ) -> httpx.Response:
        return await self.client.post(
            f"{INTERNAL}/collections/{collection_id}/search",
            json={"query": query, **extra},
            headers=headers,
        )


AppFactory = Callable[..., Litestar]
EnvFactory = Callable[..., contextlib.AbstractAsyncContextManager[RagEnv]]


@pytest.fixture
def make_rag_app(make_settings: Any, sqlite_url: str, tmp_path: Path) -> AppFactory:
    """``make_rag_app(database_url=None, redis_prefix=None, data_dir=None, **env)``."""

    def build(
        database_url: str | None = None,
        redis_prefix: str | None = None,
        data_dir: Path | None = None,
        **env: str,
    ) -> Litestar:
        settings = make_settings(
            database_url or sqlite_url,
            redis_prefix=redis_prefix,
            data_dir=data_dir or tmp_path / "data",
            **env,
        )
        return create_app(settings, plugins=PluginManager(load_entry_points=False))

    return build


@pytest.fixture
def rag_env(make_rag_app: AppFactory, running: Any) -> EnvFactory:
    """``async with rag_env(**kw) as env``: a started app on SQLite, memory KV, embedded vectors."""

    @contextlib.asynccontextmanager
    async def start(
        app: Litestar | None = None, *, serve: bool = False, **kw: Any
    ) -> AsyncIterator[RagEnv]:
        """With ``serve``, the app listens on a loopback port (``env.url``) for the CLI."""
        app = app or make_rag_app(**kw)
        if not serve:
            async with running(app) as client:
                yield RagEnv(app, client)
            return
        async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
            env = RagEnv(app, client)
            env.url = url
            yield env

    return start


def make_pdf(pages: list[str]) -> bytes:
    """A PDF with one text line per page, drawn with pdfium's standard Helvetica."""
    import pypdfium2
    import pypdfium2.raw as raw

    document = pypdfium2.PdfDocument.new()
    for text in pages:
        page = document.new_page(612, 792)
        font = raw.FPDFText_LoadStandardFont(document.raw, b"Helvetica")
        obj = raw.FPDFPageObj_NewTextObj(document.raw, b"Helvetica", 12.0)
        encoded = (text + "\x00").encode("utf-16-le")
        buffer = (raw.FPDF_WCHAR * (len(encoded) // 2)).from_buffer_copy(encoded)
        raw.FPDFText_SetText(obj, buffer)
        raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 50, 700)
        raw.FPDFPage_InsertObject(page.raw, obj)
        raw.FPDFPage_GenerateContent(page.raw)
        raw.FPDFFont_Close(font)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_docx(heading: str, paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_xlsx(sheets: dict[str, list[list[Any]]]) -> bytes:
    """A workbook with one worksheet per entry, its rows as given (the first row names columns)."""
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


NewUser = Callable[..., Awaitable[tuple[str, dict[str, str]]]]


class Documents:
    """Document builders for tests (``documents.pdf([...])``, ``documents.docx(...)``)."""

    pdf = staticmethod(make_pdf)
    docx = staticmethod(make_docx)
    xlsx = staticmethod(make_xlsx)


@pytest.fixture
def documents() -> Documents:
    return Documents()
