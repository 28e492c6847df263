"""A lean BM25 index: per-document postings in numpy arrays, merged into one column-major matrix.

Each document version has its own `Postings` (term counts per chunk, compressed rows). A refresh
that sees one changed document builds that document's postings only and merges the rest as they
are; postings persist as small `.npz` files, so a restarted worker neither re-reads every chunk's
tokens nor tokenises again (see `snapshot.SegmentCache`).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

SEPARATOR = "\x00"  # between the terms of a saved postings file; no token contains it


class TermIds:
    """Term ids for one process: they grow as documents arrive and never renumbers a term."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._terms: list[str] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, term: str) -> int | None:
        return self._ids.get(term)

    def term(self, i: int) -> str:
        return self._terms[i]

    def terms(self) -> list[str]:
        """Every term, by id."""
        return list(self._terms)

    def preload(self, terms: Sequence[str]) -> None:
        """Start an empty vocabulary with `terms` (ids in their order): one dict build, where
        adding them document by document would look each one up first."""
        with self._lock:
            if not self._terms:
                self._terms = list(dict.fromkeys(terms))
                self._ids = {t: i for i, t in enumerate(self._terms)}

    def ids(self, terms: Sequence[str]) -> np.ndarray:
        """The ids of `terms`, adding the new ones."""
        try:  # usually every term is known: one pass in C
            return np.fromiter(map(self._ids.__getitem__, terms), dtype=np.int32, count=len(terms))
        except KeyError:
            pass
        found = list(map(self._ids.get, terms))
        unknown = [k for k, i in enumerate(found) if i is None]
        if unknown:
            with self._lock:
                ids, names = self._ids, self._terms
                for k in unknown:
                    t = terms[k]
                    i = ids.get(t)
                    if i is None:
                        i = ids[t] = len(names)
                        names.append(t)
                    found[k] = i
        return np.array(found, dtype=np.int32).reshape(len(terms))


@dataclass(frozen=True)
class Postings:
    """One document version's term counts, a row per chunk (CSR: indptr, term ids, counts)."""

    indptr: np.ndarray  # int64, rows + 1
    terms: np.ndarray  # int32 vocabulary ids
    counts: np.ndarray  # float32 term frequencies

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def of(cls, token_lists: Sequence[Sequence[str]], vocab: TermIds) -> Postings:
        """Postings of pre-tokenised chunks."""
        per_row = [Counter(tokens) for tokens in token_lists]
        indptr = np.zeros(len(per_row) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(c) for c in per_row])
        terms = vocab.ids([t for c in per_row for t in c])
        counts = np.fromiter(
            (n for c in per_row for n in c.values()), dtype=np.float32, count=int(indptr[-1])
        )
        return cls(indptr, terms, counts)

    def arrays(self, vocab: TermIds) -> dict[str, np.ndarray]:
        """Arrays to save, with the terms spelled out (ids belong to one process's vocabulary)."""
        local, inverse = np.unique(self.terms, return_inverse=True)
        spelled = SEPARATOR.join(vocab.term(int(i)) for i in local).encode("utf-8")
        return {
            "indptr": self.indptr,
            "local": inverse.astype(np.int32),
            "counts": self.counts,
            "terms": np.frombuffer(spelled, dtype=np.uint8),
        }

    @classmethod
    def from_arrays(cls, data: Mapping[str, np.ndarray], vocab: TermIds) -> Postings:
        """What `arrays` gave, its terms mapped into this process's vocabulary."""
        spelled = data["terms"].tobytes().decode("utf-8")
        local = vocab.ids(spelled.split(SEPARATOR) if spelled else [])
        return cls(
            data["indptr"].astype(np.int64),
            local[data["local"]] if len(local) else np.zeros(0, dtype=np.int32),
            data["counts"].astype(np.float32),
        )


class BM25:
    """Okapi BM25 (k1, b) over chunks; scores only chunks sharing a term with the query."""

    def __init__(
        self, parts: Sequence[Postings], vocab: TermIds, k1: float = 1.2, b: float = 0.75
    ) -> None:
        self.k1, self.b = k1, b
        self.vocab = vocab
        self.size = sum(p.rows for p in parts)
        width = len(vocab)
        if parts:
            offsets = np.cumsum([0] + [int(p.indptr[-1]) for p in parts[:-1]])
            indptr = np.concatenate(
                [np.zeros(1, dtype=np.int64)]
                + [p.indptr[1:] + off for p, off in zip(parts, offsets, strict=True)]
            )
            terms = np.concatenate([p.terms for p in parts])
            counts = np.concatenate([p.counts for p in parts])
        else:
            indptr, terms, counts = (
                np.zeros(1, dtype=np.int64),
                np.zeros(0, dtype=np.int32),
                np.zeros(0, dtype=np.float32),
            )
        rows = np.repeat(np.arange(self.size), np.diff(indptr))
        lengths = np.bincount(rows, weights=counts, minlength=self.size).astype(np.float32)
        avg = float(lengths.mean()) if self.size else 1.0
        self._norm = k1 * (1 - b + b * lengths / max(avg, 1e-9))
        # Column-major (a column per term) so a query reads only its terms' postings.
        by_term = sparse.csr_matrix((counts, terms, indptr), shape=(self.size, width)).tocsc()
        self._colptr = by_term.indptr
        self._rows = by_term.indices
        self._tfs = by_term.data

    @classmethod
    def from_tokens(cls, corpus: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> BM25:
        """An index over token lists (one per document), with its own vocabulary."""
        vocab = TermIds()
        return cls([Postings.of(corpus, vocab)] if corpus else [], vocab, k1, b)

    def _posting(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        t = self.vocab.get(term)
        if t is None or t + 1 >= len(self._colptr):
            return None
        a, z = self._colptr[t], self._colptr[t + 1]
        return (self._rows[a:z], self._tfs[a:z]) if z > a else None

    def _df(self, term: str) -> int:
        posting = self._posting(term)
        return 0 if posting is None else len(posting[0])

    def scores(self, query: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score of every chunk, and which chunks contain at least one query term."""
        acc = np.zeros(self.size, dtype=np.float32)
        touched = np.zeros(self.size, dtype=bool)
        for term, qtf in Counter(query).items():
            posting = self._posting(term)
            if posting is None:
                continue
            ids, tfs = posting
            acc[ids] += qtf * self.idf(term) * tfs * (self.k1 + 1) / (tfs + self._norm[ids])
            touched[ids] = True
        return acc, touched

    def top(self, query: Sequence[str], n: int) -> list[tuple[int, float]]:
        """The n best (chunk index, score) pairs among chunks sharing a term, best first."""
        acc, touched = self.scores(query)
        candidates = np.flatnonzero(touched)
        if len(candidates) > n:
            part = np.argpartition(-acc[candidates], n - 1)[:n]
            candidates = candidates[part]
        ranked = sorted(
            ((int(i), float(acc[i])) for i in candidates), key=lambda kv: (-kv[1], kv[0])
        )
        return ranked[:n]

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term; unseen terms get the maximum."""
        df = self._df(term)
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))
