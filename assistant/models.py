"""Plain dataclasses that flow between the stages: Document → Chunk → Hit → Answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PageSpan:
    """Characters [start, end) of the cleaned text came from page `number` (1-based)."""

    number: int
    start: int
    end: int


@dataclass
class ParsedFile:
    """What a parser extracts from one file, before cleaning: raw text per page."""

    pages: list[str]
    doc_type: str
    title: str = ""
    paged: bool = False
    ocr_pages: list[int] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class Document:
    """One cleaned source document; `text` is what every offset points into."""

    id: str
    title: str
    source: str
    doc_type: str
    text: str
    content_hash: str
    pages: list[PageSpan] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    def page_at(self, offset: int) -> int | None:
        """Page number holding character `offset`, or None for unpaged documents."""
        for span in self.pages:
            if span.start <= offset < span.end:
                return span.number
        return self.pages[-1].number if self.pages and offset >= self.pages[-1].end else None


@dataclass
class Chunk:
    """A passage of a document, with where it sits and the text we embed for it."""

    id: str
    document_id: str
    document_title: str
    text: str
    start: int
    end: int
    heading_path: list[str] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)
    embed_text: str = ""
    ocr: bool = False
    # Document offsets inside the chunk where pages[1], pages[2], … begin.
    page_breaks: list[int] = field(default_factory=list)

    def page_at(self, offset: int) -> int | None:
        """The page holding document offset `offset` of this chunk (None when unpaged)."""
        if not self.pages:
            return None
        i = sum(1 for b in self.page_breaks if b <= offset)
        return self.pages[min(i, len(self.pages) - 1)]

    @property
    def heading(self) -> str:
        return " > ".join(self.heading_path)


@dataclass
class Hit:
    """A retrieved chunk and why it was retrieved."""

    chunk: Chunk
    score: float
    lexical: float | None = None
    dense: float | None = None
    # Similarity of each sentence of the chunk to the question, by the sentence's start in
    # chunk.text (empty without an embedder, or before the document's vectors are stored).
    sentences: dict[int, float] = field(default_factory=dict)
    # Whose rule and when (as Citation.document), filled in by Assistant.search and ask.
    document: dict[str, str] = field(default_factory=dict)


@dataclass
class Citation:
    """A numbered reference: a verbatim quote of a chunk and where it sits in its document."""

    number: int
    quote: str
    document_id: str
    title: str
    heading_path: list[str]
    page: int | None
    start: int
    end: int
    chunk_id: str
    # Whose rule and when: date, issuer, jurisdiction, kind, status (a key is absent when unknown).
    document: dict[str, str] = field(default_factory=dict)


@dataclass
class Answer:
    """What `ask` returns: text with [n] markers, the citations behind them, and how it went."""

    text: str
    citations: list[Citation]
    abstained: bool
    confidence: float
    timings: dict[str, float] = field(default_factory=dict)
    related: list[Hit] = field(default_factory=list)
    query: str = ""
    mode: str = "extractive"
    # A hedged answer quotes the most related passage without claiming it answers the question.
    hedged: bool = False
    # Why: outcome, probability, gaps and feature values (see assistant/answer/decide.py).
    reasons: dict[str, Any] = field(default_factory=dict)
