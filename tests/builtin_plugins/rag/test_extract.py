"""Extraction keeps pages and headings; chunking stays within the token budget with overlap."""

from __future__ import annotations

from typing import Any

import pytest

from builtin_plugins.rag.chunking import Chunker, load_tokenizer
from builtin_plugins.rag.extract import ExtractionError, Section, extract


def test_pdf_pages(documents: Any) -> None:
    sections = extract("pdf", documents.pdf(["first page", "second page"]))
    assert [(s.page, s.text.strip()) for s in sections] == [(1, "first page"), (2, "second page")]


def test_docx_headings(documents: Any) -> None:
    sections = extract("docx", documents.docx("Intro", ["Alpha.", "Beta."]))
    assert sections[-1].heading == "Intro"
    assert "Alpha." in sections[-1].text


def test_markdown_headings_ignore_fenced_code() -> None:
    text = b"# One\nalpha\n```\n# not a heading\n```\n## Two\nbeta\n"
    sections = extract("markdown", text)
    assert [s.heading for s in sections] == ["One", "Two"]


def test_html_drops_scripts_and_keeps_headings() -> None:
    html = (
        b"<html><body><h2>Title \xc2\xb6</h2><ul><li><p>item</p></li></ul><script>x()</script>"
        b'<div role="navigation"><ul><li>Next topic</li></ul></div></body>'
    )
    sections = extract("html", html)
    assert sections[-1].heading == "Title"
    assert "item" in sections[-1].text
    assert "x()" not in sections[-1].text
    assert "Next topic" not in sections[-1].text
    assert sections[-1].text.count("item") == 1


def test_json_and_csv_keep_keys_next_to_values() -> None:
    assert extract("json", b'{"a": {"b": [1, "two"]}}')[0].text == "a.b[0]: 1\na.b[1]: two"
    assert extract("csv", b"k,v\nx,1\ny,2\n")[0].text == "k: x, v: 1\nk: y, v: 2"


@pytest.mark.parametrize(
    ("kind", "data"),
    [("pdf", b"%PDF-1.4 broken"), ("docx", b"PK\x03\x04 nope"), ("json", b"{bad")],
)
def test_unreadable_files_say_why(kind: Any, data: bytes) -> None:
    with pytest.raises(ExtractionError, match=kind.upper()):
        extract(kind, data)


def test_chunks_fit_the_budget_and_overlap() -> None:
    tokenizer = load_tokenizer()
    words = " ".join(f"word{n}" for n in range(400))
    chunker = Chunker(tokenizer, size=64, overlap=16)
    chunks = chunker.chunks([Section(text=words, page=3, heading="H")])
    assert len(chunks) > 5
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert all(c.page == 3 and c.section == "H" for c in chunks)
    for chunk in chunks:
        assert len(tokenizer.encode(chunk.text, add_special_tokens=False).ids) <= 64
    first, second = chunks[0].text.split(), chunks[1].text.split()
    assert set(first) & set(second)  # the overlap
