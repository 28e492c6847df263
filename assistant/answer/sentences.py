"""Sentences of retrieved passages, and answers built from them with verbatim citations.

A `Unit` is one sentence of a chunk ([start, end) inside chunk.text); `compose` turns chosen units
into answer text with a [n] marker after every sentence, consecutive sentences of one paragraph
sharing one citation whose quote is their whole span. Pure functions, no index.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.models import Citation, Hit
from assistant.text.structure import MAX_HEADING_CHARS, numbered, sentences
from assistant.text.zh import CLOSERS, SENTENCE_MARKS

STOPS = tuple(SENTENCE_MARKS)
WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Unit:
    """One sentence of a retrieved chunk: [start, end) inside chunk.text, and the hit's rank."""

    hit: Hit
    rank: int
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]

    @property
    def doc_start(self) -> int:
        return self.hit.chunk.start + self.start

    @property
    def doc_end(self) -> int:
        return self.hit.chunk.start + self.end

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.hit.chunk.document_id, self.doc_start, self.doc_end)

    @property
    def is_heading(self) -> bool:
        """A title or heading line: short and without a sentence-ending mark."""
        t = self.text.rstrip().rstrip(CLOSERS)
        return len(t) < MAX_HEADING_CHARS and not t.endswith(STOPS)


@dataclass
class Draft:
    """An answer in the making: its text with [n] markers and the citations behind them."""

    text: str
    citations: list[Citation]
    units: list[Unit]


def split_sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of `text`, split exactly as chunking splits them."""
    return sentences(text, 0, len(text))


def units(hits: Sequence[Hit]) -> list[Unit]:
    """Every sentence of the hits, each once (overlapping chunks share sentences), best hit first."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Unit] = []
    for rank, hit in enumerate(hits):
        for a, b in split_sentences(hit.chunk.text):
            u = Unit(hit, rank, a, b)
            if u.key not in seen:
                seen.add(u.key)
                out.append(u)
    return out


def previous_sentences(pool: Sequence[Unit]) -> dict[tuple[str, int, int], Unit]:
    """For each sentence, the one right before it in the same paragraph (when a retrieved chunk holds both)."""
    out: dict[tuple[str, int, int], Unit] = {}
    ordered = sorted(pool, key=lambda u: (u.hit.chunk.document_id, u.doc_start))
    for a, b in itertools.pairwise(ordered):
        found = _between(a, b)
        if found is not None and "\n" not in found[1] and len(found[1]) <= 2:
            out[b.key] = a
    return out


def _between(a: Unit, b: Unit) -> tuple[Hit, str] | None:
    """The hit whose chunk holds a and then b, and the text between them; None when none does."""
    if a.hit.chunk.document_id != b.hit.chunk.document_id or b.doc_start < a.doc_end:
        return None
    for hit in (a.hit, b.hit):
        c = hit.chunk
        if c.start <= a.doc_start and b.doc_end <= c.end:
            return hit, c.text[a.doc_end - c.start : b.doc_start - c.start]
    return None


def joined(a: Unit, b: Unit) -> Unit | None:
    """a and b as one span when only whitespace (a line break too) lies between them in a chunk
    that holds both: consecutive sentences of one passage are quoted as one run."""
    found = _between(a, b)
    if found is None or found[1].strip():
        return None
    c = found[0].chunk
    return Unit(found[0], min(a.rank, b.rank), a.doc_start - c.start, b.doc_end - c.start)


def cite(unit: Unit, number: int) -> Citation:
    """A citation whose quote is exactly the sentence's span of its chunk."""
    c = unit.hit.chunk
    return Citation(
        number=number,
        quote=unit.text,
        document_id=c.document_id,
        title=c.document_title,
        heading_path=list(c.heading_path),
        page=c.page_at(unit.doc_start),
        start=unit.doc_start,
        end=unit.doc_end,
        chunk_id=c.id,
    )


def compose(chosen: Sequence[Unit], shape: str) -> Draft:
    """Answer text with a [n] marker after every sentence; a list puts one case per line.

    Sentences that follow each other in one passage share one citation, whose quote is the whole
    contiguous span (what a viewer highlights); a paragraph break or a numbered item starts a line.
    """
    groups: list[tuple[Unit, list[Unit]]] = []
    for u in chosen:
        span = joined(groups[-1][0], u) if groups else None
        if span is not None:
            groups[-1] = (span, [*groups[-1][1], u])
        else:
            groups.append((u, [u]))
    citations: list[Citation] = []
    spans: list[Unit] = []
    lines: list[str] = []
    for span, group in groups:
        n = len(citations) + 1
        citations.append(cite(span, n))
        spans.append(span)
        # A law's numbered items each start a line, as in the document.
        lines.append(
            "".join(
                ("\n" if k and _new_line(group[k - 1], u) else "") + f"{_display(u.text)}[{n}]"
                for k, u in enumerate(group)
            )
        )
    if shape == "list" and len(lines) > 1:
        text = "\n".join(f"- {line}" for line in lines)
    else:
        text = "".join(lines)
    return Draft(text, citations, spans)


def _new_line(a: Unit, b: Unit) -> bool:
    """b starts a line of its own in the answer: a numbered item, or a new paragraph."""
    found = _between(a, b)
    return numbered(b.text.strip()) or (found is not None and "\n" in found[1])


def _display(text: str) -> str:
    """A sentence for the answer text: line breaks and stray spaces between Chinese characters removed."""
    return WS.sub("", text) if _cjk_only(text) else WS.sub(" ", text)


def _cjk_only(text: str) -> bool:
    return not re.search(r"[A-Za-z0-9]\s+[A-Za-z0-9]", text)
