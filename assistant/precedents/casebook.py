"""The cards of every document of an index, kept until a document or its facts change."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from assistant.precedents.cards import Precedent, Section
from assistant.precedents.extract import Extractor


def sections_of(title: str, text: str) -> list[Section]:
    """The document's sections, as chunking finds them (headlines of a newsletter, 第X条 …)."""
    from assistant.ingest.chunk import sections
    from assistant.models import Document

    doc = Document(id="", title=title, source="", doc_type="txt", text=text, content_hash="")
    return [Section(list(s.heading_path), s.start, s.end, s.heading_end) for s in sections(doc)]


class Casebook:
    """The cards of every document of an index; a document is read again only when its content
    or its facts (date, jurisdiction) change."""

    def __init__(self, extractor: Extractor) -> None:
        self.extractor = extractor
        self._lock = threading.Lock()
        self._cards: dict[str, tuple[tuple[str, ...], list[Precedent]]] = {}

    def cards(
        self,
        documents: Iterable[tuple[str, str, str]],
        facts: dict[str, dict[str, str]],
        text_of: Callable[[str], str],
    ) -> list[Precedent]:
        """Cards of `documents` ((id, title, content hash) each), document by document in order.

        `text_of(id)` reads a document's cleaned text, called only for a document not yet read.
        """
        out: list[Precedent] = []
        seen = set()
        for doc_id, title, content_hash in documents:
            seen.add(doc_id)
            f = facts.get(doc_id, {})
            key = (content_hash, title, f.get("date", ""), f.get("jurisdiction", ""))
            with self._lock:
                cached = self._cards.get(doc_id)
            if cached is None or cached[0] != key:
                text = text_of(doc_id)
                cards = self.extractor.extract(doc_id, title, text, sections_of(title, text), f)
                cached = (key, cards)
                with self._lock:
                    self._cards[doc_id] = cached
            out.extend(cached[1])
        with self._lock:
            for gone in set(self._cards) - seen:
                del self._cards[gone]
        return out
