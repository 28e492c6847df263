"""Split a cleaned document into sentence-aligned passages that follow its structure."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.models import Chunk, Document
from assistant.text.structure import Line, analyse, sentences

# A sentence ends at a stop mark plus any closing quotes or brackets after it, or at a line end.
HARD_LIMIT_FACTOR = 3


@dataclass
class Section:
    """Consecutive lines under one heading path, never crossing a heading or a law article."""

    heading_path: list[str]
    start: int
    end: int
    heading_end: int = -1  # end of the section's own heading line(s); -1 when it has none


def sections(doc: Document) -> list[Section]:
    """Group lines into sections; the heading line itself opens its section."""
    out: list[Section] = []
    stack: list[Line] = []
    current: Section | None = None
    for line in analyse(doc.text, doc.title):
        if line.heading is not None:
            while stack and stack[-1].rank >= line.rank:
                stack.pop()
            # Repeating the document title as a heading path adds nothing.
            if not (line.rank == 1 and line.heading.strip() == doc.title.strip() and not stack):
                stack.append(line)
            path = [h.heading or "" for h in stack]
            if current is not None and current.end == current.heading_end:
                # A heading with no body of its own (a chapter title, a document title) leads into the next section.
                current.heading_path = path
                current.end = line.end
                bare = "".join(line.text.split()) == "".join(line.heading.split())
                current.heading_end = line.end if bare else -1
                continue
            bare = "".join(line.text.split()) == "".join(line.heading.split())
            current = Section(path, line.start, line.end, line.end if bare else -1)
            out.append(current)
        elif current is None:
            current = Section([], line.start, line.end, -1)
            out.append(current)
        else:
            current.end = line.end
    return out


def chunk_document(doc: Document, target: int = 400, overlap: int = 1) -> list[Chunk]:
    """Sentence-aligned chunks of about `target` characters, each inside one section."""
    chunks: list[Chunk] = []
    for section in sections(doc):
        for a, b in _pack(sentences(doc.text, section.start, section.end), target, overlap):
            chunks.append(_make_chunk(doc, len(chunks), a, b, section.heading_path))
    return chunks


def _pack(spans: list[tuple[int, int]], target: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy packing of whole sentences; the next chunk repeats the last `overlap` sentences."""
    spans = [piece for s in spans for piece in _split_long(s, target * HARD_LIMIT_FACTOR)]
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        j = i + 1
        while j < len(spans) and spans[j][1] - spans[i][0] <= target:
            j += 1
        # A short tail is better merged than left as a fragment.
        if len(spans) - j == 1 and spans[-1][1] - spans[i][0] <= target * 1.3:
            j = len(spans)
        out.append((spans[i][0], spans[j - 1][1]))
        if j >= len(spans):
            break
        i = max(j - overlap, i + 1) if overlap and j - i > overlap else j
    return out


def _split_long(span: tuple[int, int], limit: int) -> list[tuple[int, int]]:
    """Only a sentence longer than `limit` (a table row, a run-on list) is cut, at even widths."""
    a, b = span
    if b - a <= limit:
        return [span]
    return [(x, min(x + limit, b)) for x in range(a, b, limit)]


def _make_chunk(doc: Document, i: int, a: int, b: int, path: list[str]) -> Chunk:
    spans = sorted((p for p in doc.pages if p.start < b and p.end > a), key=lambda p: p.start)
    pages = [p.number for p in spans]
    breaks = [p.start for p in spans[1:]]
    prefix = " > ".join([doc.title, *path]) if doc.title else " > ".join(path)
    text = doc.text[a:b]
    return Chunk(
        id=f"{doc.id}-{doc.content_hash[:8]}-{i:04d}",
        document_id=doc.id,
        document_title=doc.title,
        text=text,
        start=a,
        end=b,
        heading_path=list(path),
        pages=pages,
        embed_text=f"{prefix}\n{text}" if prefix else text,
        ocr=bool(set(pages) & set(doc.ocr_pages)),
        page_breaks=breaks,
    )
