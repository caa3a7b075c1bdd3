"""Types come from the bytes, never the name."""

from __future__ import annotations

import io
import zipfile

import pytest

from builtin_plugins.rag.sniff import sniff
from kernel.errors import UnsupportedMediaTypeError


def _zip(name: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, b"<x/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.7\n...", "pdf"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "html"),
        (b"  <html><p>x</p></html>", "html"),
        (b'{"a": 1}', "json"),
        (b"[1, 2, 3]", "json"),
        (b'{"a": 1}\n{"a": 2}\n', "jsonl"),
        (b"name,age\nann,3\nbob,4\n", "csv"),
        (b"a;b;c\n1;2;3\n4;5;6\n", "csv"),
        (b"# Title\n\nSome text.", "markdown"),
        (b"See [the docs](https://example.com) for more.", "markdown"),
        (b"\xef\xbb\xbfJust words, plain and simple.", "text"),
        (b"Hello, world.\nBye, now.", "text"),
    ],
)
def test_kinds(data: bytes, kind: str) -> None:
    assert sniff(data) == kind


def test_docx_by_its_members() -> None:
    assert sniff(_zip("word/document.xml")) == "docx"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x00\x01binary", "binary"),
        (b"\xff\xfe\xfa not utf-8", "UTF-8"),
        (b"PK\x03\x04 broken", "damaged"),
    ],
)
def test_refused(data: bytes, message: str) -> None:
    with pytest.raises(UnsupportedMediaTypeError, match=message):
        sniff(data)


def test_xlsx_by_its_members() -> None:
    assert sniff(_zip("xl/workbook.xml")) == "xlsx"


def test_encrypted_office_files_and_other_archives_are_refused() -> None:
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    with pytest.raises(UnsupportedMediaTypeError, match="password-protected"):
        sniff(ole2)
    with pytest.raises(UnsupportedMediaTypeError, match="ZIP"):
        sniff(_zip("anything.txt"))
