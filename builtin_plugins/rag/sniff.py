"""What a file is, from its bytes (never its name): the kinds the extractors read.

Binary formats are recognised by their signature (``%PDF-``, a ZIP holding
``word/document.xml`` or ``xl/workbook.xml``); an OLE2 compound file (a password-protected
Office document, or a legacy ``.doc``/``.xls``) is refused with that reason. Anything else
must be UTF-8 text and is told apart by its content: HTML markup, a JSON document, JSON Lines
(every line a JSON value), CSV (a delimiter repeated evenly on every line), Markdown (headings,
fences, lists) or plain text.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from typing import Literal

import msgspec

from kernel.errors import UnsupportedMediaTypeError

__all__ = ["CONTENT_TYPES", "Kind", "decode_text", "sniff"]

Kind = Literal["pdf", "docx", "xlsx", "html", "markdown", "text", "csv", "json", "jsonl"]
CONTENT_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
    "markdown": "text/markdown",
    "text": "text/plain",
    "csv": "text/csv",
    "json": "application/json",
    "jsonl": "application/jsonl",
}
_HTML = re.compile(rb"^\s*(<!doctype html|<html|<head|<body|<\?xml[^>]*>\s*<html)", re.I)
_MARKDOWN = re.compile(r"^(#{1,6} \S|```|\s*[-*+] \S|\s*\d+\. \S|> \S)|\[[^\]]+\]\([^)]+\)", re.M)
_SAMPLE = 64 * 1024
# Encrypted OOXML files are not ZIPs but OLE2 compound files, like pre-2007 Office files.
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def decode_text(data: bytes) -> str:
    """``data`` as UTF-8 text (a BOM is dropped); UnsupportedMediaTypeError for binary data."""
    if b"\x00" in data[:_SAMPLE]:
        raise UnsupportedMediaTypeError("the file is binary and not a supported document type")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnsupportedMediaTypeError(
            "the file is neither a supported binary format (PDF, DOCX, XLSX) nor UTF-8 text"
        ) from None


def sniff(data: bytes) -> Kind:
    """The kind of ``data``; UnsupportedMediaTypeError for anything the extractors cannot read."""
    if not data.strip():
        raise UnsupportedMediaTypeError("the file is empty")
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if data.startswith(_OLE2):
        raise UnsupportedMediaTypeError(
            "the file is an encrypted (password-protected) Office document or a legacy "
            ".doc/.xls file; remove the password or save it as DOCX/XLSX"
        )
    if _HTML.match(data[:_SAMPLE]):
        return "html"
    text = decode_text(data)
    stripped = text.strip()
    if stripped[:1] in "{[":
        try:
            msgspec.json.decode(stripped)
            return "json"
        except msgspec.DecodeError:
            if _is_jsonl(stripped):
                return "jsonl"
    if _is_csv(stripped):
        return "csv"
    if _MARKDOWN.search(stripped[:_SAMPLE]):
        return "markdown"
    return "text"


def _zip_kind(data: bytes) -> Kind:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        raise UnsupportedMediaTypeError("the file is a damaged ZIP archive") from None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    raise UnsupportedMediaTypeError("ZIP archives other than DOCX and XLSX are not supported")


def _is_jsonl(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    try:
        for line in lines:
            msgspec.json.decode(line)
    except msgspec.DecodeError:
        return False
    return True


def _is_csv(text: str) -> bool:
    lines = [line for line in text[:_SAMPLE].splitlines() if line.strip()][:20]
    if len(lines) < 3:
        return False
    for delimiter in (",", ";", "\t", "|"):
        try:
            rows = list(csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            continue
        widths = {len(row) for row in rows}
        if len(widths) == 1 and widths.pop() >= 2:
            return True
    return False
