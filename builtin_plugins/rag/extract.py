"""Text out of documents, in sections that keep their page or heading.

Each extractor runs in a worker thread (the parsers are synchronous) and raises
:class:`ExtractionError` with a reason the user can act on when a file cannot be read.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, time
from itertools import zip_longest
from typing import Any

import msgspec

from builtin_plugins.rag.sniff import Kind, decode_text
from kernel.errors import InvalidRequestError

__all__ = ["ExtractionError", "Section", "extract"]

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = {"p", "li", "pre", "td", "th", "dt", "dd", "blockquote", "caption", "figcaption"}
_SKIPPED = ("script", "style", "noscript", "template", "nav", "header", "footer")
# Site chrome marked up as landmarks (sidebars, search boxes), not the document's own text.
_LANDMARKS = '[role="navigation"], [role="search"], [role="banner"], [role="contentinfo"]'
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


class ExtractionError(InvalidRequestError):
    """A document that cannot be read (damaged, encrypted, no text)."""

    default_code = "unreadable_document"


class Section(msgspec.Struct, frozen=True):
    """Consecutive text of one page (PDF) or under one heading (everything else)."""

    text: str
    page: int | None = None
    heading: str | None = None


def extract(kind: Kind, data: bytes) -> list[Section]:
    """The sections of a document of ``kind``; ExtractionError when it has no readable text."""
    readers = {
        "pdf": _pdf,
        "docx": _docx,
        "xlsx": _xlsx,
        "html": _html,
        "markdown": _markdown,
        "text": _text,
        "csv": _csv,
        "json": _json,
        "jsonl": _json,
    }
    try:
        sections = readers[kind](data)
    except ExtractionError:
        raise
    except Exception as exc:
        raise ExtractionError(f"cannot read the {kind.upper()} file: {exc}"[:500]) from None
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise ExtractionError(f"the {kind.upper()} file contains no text")
    return sections


def _pdf(data: bytes) -> list[Section]:
    import pypdfium2  # type: ignore[import-untyped]

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise ExtractionError(f"cannot open the PDF: {exc}") from None
    try:
        sections = []
        for number in range(len(document)):
            page = document[number]
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            page.close()
            sections.append(Section(text=text.replace("\r\n", "\n"), page=number + 1))
        return sections
    finally:
        document.close()


def _docx(data: bytes) -> list[Section]:
    import docx

    document = docx.Document(io.BytesIO(data))
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        if style.startswith("Heading") or style == "Title":
            sections.append(Section(text="\n".join(lines), heading=heading))
            heading, lines = paragraph.text.strip() or heading, []
        lines.append(paragraph.text)
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    sections.append(Section(text="\n".join(lines), heading=heading))
    return sections


def _xlsx(data: bytes) -> list[Section]:
    """One section per worksheet, headed by its name (formulas give their cached values)."""
    import openpyxl  # type: ignore[import-untyped]

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        return [
            Section(text=_sheet_text(sheet), heading=sheet.title) for sheet in workbook.worksheets
        ]
    finally:
        workbook.close()


def _sheet_text(sheet: Any) -> str:
    """The first non-empty row names the columns; every later row becomes ``name: value, …``
    (the names give each value its meaning, for the embedding and the keyword ranks alike)."""
    header: list[str] | None = None
    lines: list[str] = []
    for row in sheet.iter_rows(values_only=True):
        cells = [_cell(value) for value in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        pairs = zip_longest(header, cells, fillvalue="")
        lines.append(", ".join(f"{n}: {v}" if n else v for n, v in pairs if v))
    if header is None:
        return ""
    return "\n".join([sheet.title, *(lines or [", ".join(c for c in header if c)])])


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return " ".join(str(value).split())


def _html(data: bytes) -> list[Section]:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(data)
    tree.strip_tags(list(_SKIPPED))
    for node in tree.css(_LANDMARKS):
        node.decompose()
    root = tree.body or tree.root
    if root is None:
        return []
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    for node in root.traverse():
        tag = node.tag
        if tag in _HEADINGS:
            sections.append(Section(text="\n".join(lines), heading=heading))
            heading = " ".join(node.text(deep=True).split()).rstrip("¶ ") or heading
            lines = [heading or ""]
        elif tag in _BLOCKS and not _inside_block(node):
            lines.append(node.text(deep=True, separator=" " if tag != "pre" else "").strip())
    sections.append(Section(text="\n".join(lines), heading=heading))
    return sections


def _inside_block(node: object) -> bool:
    parent = getattr(node, "parent", None)
    while parent is not None:
        if parent.tag in _BLOCKS or parent.tag in _HEADINGS:
            return True
        parent = parent.parent
    return False


def _markdown(data: bytes) -> list[Section]:
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    fenced = False
    for line in decode_text(data).splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else _MD_HEADING.match(line)
        if match:
            sections.append(Section(text="\n".join(lines), heading=heading))
            heading, lines = match.group(2), []
        lines.append(line)
    sections.append(Section(text="\n".join(lines), heading=heading))
    return sections


def _text(data: bytes) -> list[Section]:
    return [Section(text=decode_text(data))]


def _csv(data: bytes) -> list[Section]:
    text = decode_text(data)
    dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    lines = [", ".join(f"{h}: {v}" for h, v in zip(header, row, strict=False)) for row in body]
    return [Section(text="\n".join(lines) if lines else ", ".join(header))]


def _json(data: bytes) -> list[Section]:
    value = msgspec.json.decode(data)
    lines: list[str] = []
    _flatten(value, "", lines)
    return [Section(text="\n".join(lines))]


def _flatten(value: object, path: str, lines: list[str]) -> None:
    """``a.b[0]: value`` lines, so keys give the model context next to their values."""
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else str(key), lines)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", lines)
    elif value is not None:
        lines.append(f"{path}: {value}" if path else str(value))
