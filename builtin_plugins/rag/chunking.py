"""Token-aware chunks with overlap, counted with the MiniLM tokenizer the local model uses.

Each section (a PDF page, the text under a heading) is split on its own, so every chunk keeps
the page or heading it came from; positions number the chunks of a document from 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from builtin_plugins.rag.extract import Section

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["TOKENIZER_PATH", "Chunk", "Chunker", "load_tokenizer"]

TOKENIZER_PATH = Path(__file__).parent / "data" / "minilm-tokenizer.json"


class Chunk(msgspec.Struct, frozen=True):
    """One piece of a document, as it is embedded and stored."""

    position: int
    text: str
    page: int | None = None
    section: str | None = None


def load_tokenizer() -> Tokenizer:
    """The shipped MiniLM WordPiece tokenizer, without truncation or padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class Chunker:
    """Splits sections into chunks of at most ``size`` tokens overlapping by ``overlap``."""

    def __init__(self, tokenizer: Tokenizer, *, size: int, overlap: int) -> None:
        from semantic_text_splitter import TextSplitter

        self._splitter = TextSplitter.from_huggingface_tokenizer(
            tokenizer, capacity=size, overlap=overlap
        )

    def chunks(self, sections: list[Section]) -> list[Chunk]:
        """The chunks of a document's sections, in order."""
        out: list[Chunk] = []
        for section in sections:
            for text in self._splitter.chunks(section.text):
                if text.strip():
                    out.append(
                        Chunk(
                            position=len(out), text=text, page=section.page, section=section.heading
                        )
                    )
        return out
