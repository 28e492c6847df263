"""Hybrid retrieval: BM25 and dense rankings, fused, filtered, as Hits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.index.embed import Embedder
from assistant.index.snapshot import Snapshot
from assistant.index.store import Index
from assistant.models import Hit
from assistant.retrieve import fuse
from assistant.settings import Settings
from assistant.text.analyzer import Analyzer
from assistant.text.structure import sentences


@dataclass
class Query:
    """A question ready for retrieval: its text, the official terms it maps to, and BM25 tokens."""

    text: str
    expansions: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    vector: np.ndarray | None = None  # set by the dense search, when there is an embedder
    # The candidates' stored sentence vectors, read once for fusion and reused for the hits.
    rows: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def expanded(self) -> str:
        return " ".join([self.text, *self.expansions])


@dataclass
class Filters:
    """Optional restrictions of a search: to some documents, or to headings containing a phrase."""

    document_ids: list[str] = field(default_factory=list)
    heading: str = ""


class Retriever:
    """Finds the passages for a query; the embedder is optional (lexical only without one)."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder | None,
        settings: Settings,
        analyzer: Analyzer,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.analyzer = analyzer  # the index's own: one jieba per process

    def rarity(self) -> tuple[Callable[[str], float], int]:
        """The index's idf of a term, and its number of passages: one snapshot for a whole reading."""
        snap = self.index.snapshot
        return snap.bm25.idf, len(snap.chunks)

    def prepare(self, text: str) -> Query:
        expansions = self.analyzer.synonyms.expand(text)
        return Query(text, expansions, self.analyzer.tokenize(" ".join([text, *expansions])))

    def search(
        self, text: str, top_k: int | None = None, filters: Filters | None = None
    ) -> list[Hit]:
        """The top_k passages for `text`, best first."""
        query = self.prepare(text)
        return self.search_query(query, top_k or self.settings.top_k, filters or Filters())

    def search_query(self, query: Query, top_k: int, filters: Filters) -> list[Hit]:
        snap = self.index.snapshot
        lexical, dense = self.sides(query, max(self.settings.candidates, top_k), filters, snap)
        sentence = self.sentence_side(query, [*lexical, *dense])
        # A document just uploaded is searchable by its words before its vectors exist: its
        # passages are not to lose to their neighbours for want of a vector.
        # (Only the candidates' own records are looked at: a search costs nothing per document.)
        pending = {
            c
            for c in lexical
            if snap.documents[snap.chunks[snap.by_id[c]].document_id].dense_pending
        }
        fused = self._fuse(lexical, dense, sentence, pending)[:top_k]
        return [
            Hit(snap.chunks[snap.by_id[cid]], score, lexical.get(cid), dense.get(cid))
            for cid, score in fused
        ]

    def sides(
        self, query: Query, n: int, filters: Filters | None = None, snap: Snapshot | None = None
    ) -> tuple[dict[str, float], dict[str, float]]:
        """BM25's and the dense search's candidates for `query` (n from each, within `filters`),
        chunk id → score: what fusion combines."""
        snap = snap or self.index.snapshot
        filters = filters or Filters()
        allowed = self._allowed(filters)
        lexical: dict[str, float] = {}
        pool = n if allowed is None else n * 4
        for i, score in snap.bm25.top(query.tokens, pool):
            cid = snap.chunks[i].id
            if allowed is None or cid in allowed:
                lexical[cid] = score
        dense: dict[str, float] = {}
        if self.embedder is not None:
            query.vector = vector = self.embedder.embed([query.expanded], query=True)[0]
            for cid, sim in self.index.dense(vector, pool, filters.document_ids or None):
                if cid in snap.by_id and (allowed is None or cid in allowed):
                    dense[cid] = sim
        return lexical, dense

    def sentence_side(self, query: Query, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Each candidate's best sentence similarity to the query: a passage whose one sentence
        says what is asked, among others on other things, is found by that sentence (nothing
        without an embedder, or with sentence_weight 0)."""
        if query.vector is None or not self.settings.sentence_weight or not chunk_ids:
            return {}
        query.rows = self.index.sentence_vectors(list(dict.fromkeys(chunk_ids)))
        return fuse.best_sentence(query.rows, query.vector)

    def score_sentences(self, query: Query, hits: Sequence[Hit]) -> None:
        """Set each hit's sentences' similarity to `query` (embedded unless searched with), from
        their stored vectors (one Chroma read; nothing without an embedder)."""
        if self.embedder is None or not hits:
            return
        vector = query.vector
        if vector is None:
            query.vector = vector = self.embedder.embed([query.expanded], query=True)[0]
        ids = [h.chunk.id for h in hits]
        stored = (
            query.rows if all(i in query.rows for i in ids) else self.index.sentence_vectors(ids)
        )
        for h in hits:
            rows = stored.get(h.chunk.id)
            spans = sentences(h.chunk.text, 0, len(h.chunk.text))
            # Vectors of another split (an older version of the splitter) are not used.
            if rows is not None and len(rows) == len(spans) and rows.shape[1] == len(vector):
                h.sentences = {a: float(s) for (a, _), s in zip(spans, rows @ vector, strict=True)}

    def _fuse(
        self,
        lexical: dict[str, float],
        dense: dict[str, float],
        sentence: dict[str, float] | None = None,
        pending: set[str] | None = None,
    ) -> list[tuple[str, float]]:
        s = self.settings
        sides = [(lexical, s.lexical_weight)]
        sides += [
            (side, w)
            for side, w in ((dense, s.dense_weight), (sentence, s.sentence_weight))
            if side
        ]
        if s.fusion == "weighted":
            return fuse.weighted([m for m, _ in sides], [w for _, w in sides], pending or ())
        # Ranks have no "unknown": a pending passage is simply absent from the dense rankings.
        rankings = [sorted(m, key=m.__getitem__, reverse=True) for m, _ in sides]
        return fuse.rrf(rankings, k=s.rrf_k, weights=[w for _, w in sides])

    def _allowed(self, filters: Filters) -> set[str] | None:
        if not filters.document_ids and not filters.heading:
            return None
        docs = set(filters.document_ids)
        return {
            c.id
            for c in self.index.snapshot.chunks
            if (not docs or c.document_id in docs)
            and (not filters.heading or filters.heading in c.heading)
        }
