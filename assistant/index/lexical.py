"""A lean BM25 index: per-document postings in numpy arrays, merged into one column-major matrix.

Each document version has its own `Postings` (term counts per chunk, compressed rows). A refresh
that sees one changed document builds that document's postings only and merges the rest as they
are; postings persist in segment files, so a restarted worker neither re-reads every chunk's
tokens nor tokenises again (see `snapshot.SegmentCache`).

Terms are named by a stable 64-bit hash, not by ids handed out by one process: a segment file
needs no vocabulary to be read, a merge numbers only the live segments' terms (nothing grows
with every document version a long-lived worker has seen), and a query hashes its few tokens.
Two of a million distinct terms share a hash with a probability of about 3 in 10^8.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse


def term_hash(term: str) -> int:
    """A term's name in postings: the same in every process and release (signed, as numpy int64)."""
    return int.from_bytes(
        hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little", signed=True
    )


@dataclass(frozen=True)
class Postings:
    """One document version's term counts, a row per chunk (CSR over the segment's own terms)."""

    indptr: np.ndarray  # int64, rows + 1
    local: np.ndarray  # int32 column in `hashes`
    counts: np.ndarray  # float32 term frequencies
    hashes: np.ndarray  # int64 term_hash of each distinct term, sorted

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def of(cls, token_lists: Sequence[Sequence[str]]) -> Postings:
        """Postings of pre-tokenised chunks."""
        per_row = [Counter(tokens) for tokens in token_lists]
        indptr = np.zeros(len(per_row) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(c) for c in per_row])
        names = {t: term_hash(t) for c in per_row for t in c}
        hashes, local = np.unique(
            np.fromiter(
                (names[t] for c in per_row for t in c), dtype=np.int64, count=int(indptr[-1])
            ),
            return_inverse=True,
        )
        counts = np.fromiter(
            (n for c in per_row for n in c.values()), dtype=np.float32, count=int(indptr[-1])
        )
        return cls(indptr, local.astype(np.int32).reshape(-1), counts, hashes)

    def arrays(self) -> dict[str, np.ndarray]:
        """Arrays to save: nothing in them depends on the process that built them."""
        return {
            "indptr": self.indptr,
            "local": self.local,
            "counts": self.counts,
            "hashes": self.hashes,
        }

    @classmethod
    def from_arrays(cls, data: Mapping[str, np.ndarray]) -> Postings:
        """What `arrays` gave."""
        return cls(
            data["indptr"].astype(np.int64),
            data["local"].astype(np.int32),
            data["counts"].astype(np.float32),
            data["hashes"].astype(np.int64),
        )


class BM25:
    """Okapi BM25 (k1, b) over chunks; scores only chunks sharing a term with the query."""

    def __init__(self, parts: Sequence[Postings], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.size = sum(p.rows for p in parts)
        # The live terms, numbered in hash order: column i of the matrix is the term hashes[i].
        self.hashes = np.unique(
            np.concatenate([p.hashes for p in parts] or [np.zeros(0, dtype=np.int64)])
        )
        columns = [np.searchsorted(self.hashes, p.hashes).astype(np.int32) for p in parts]
        lengths = np.concatenate([_row_sums(p) for p in parts] or [np.zeros(0, dtype=np.float32)])
        avg = float(lengths.mean()) if self.size else 1.0
        self._norm = k1 * (1 - b + b * lengths / max(avg, 1e-9))
        # Column-major (a column per term) so a query reads only its terms' postings. Filled a
        # group of parts at a time: the merge holds the result and one group's sort, never a
        # second copy of the whole (peak 121 MB against 278 MB at 100k chunks).
        width = len(self.hashes)
        per_term = np.zeros(width, dtype=np.int64)
        for p, col in zip(parts, columns, strict=True):
            per_term[col] += np.bincount(p.local, minlength=len(col))
        self._colptr = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(per_term, out=self._colptr[1:])
        self._rows = np.empty(int(self._colptr[-1]), dtype=np.int32)
        self._tfs = np.empty(int(self._colptr[-1]), dtype=np.float32)
        fill = self._colptr[:-1].copy()
        for first_row, terms, indptr, counts in _groups(parts, columns):
            # scipy's CSR→CSC is a counting sort in C: rows stay ascending within each term.
            group = sparse.csr_matrix((counts, terms, indptr), shape=(len(indptr) - 1, width))
            by_term = group.tocsc()
            sizes = np.diff(by_term.indptr)
            term = np.repeat(np.arange(width), sizes)
            at = fill[term] + (np.arange(len(term)) - by_term.indptr[:-1][term])
            self._rows[at] = by_term.indices + first_row
            self._tfs[at] = by_term.data
            fill += sizes

    @classmethod
    def from_tokens(cls, corpus: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> BM25:
        """An index over token lists (one per document)."""
        return cls([Postings.of(corpus)] if corpus else [], k1, b)

    def _posting(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        h = term_hash(term)
        t = int(np.searchsorted(self.hashes, h))
        if t >= len(self.hashes) or self.hashes[t] != h:
            return None
        a, z = self._colptr[t], self._colptr[t + 1]
        return (self._rows[a:z], self._tfs[a:z]) if z > a else None

    def scores(self, query: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score of every chunk, and which chunks contain at least one query term."""
        acc = np.zeros(self.size, dtype=np.float32)
        touched = np.zeros(self.size, dtype=bool)
        for term, qtf in Counter(query).items():
            posting = self._posting(term)
            if posting is None:
                continue
            ids, tfs = posting
            acc[ids] += qtf * self._idf(len(ids)) * tfs * (self.k1 + 1) / (tfs + self._norm[ids])
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
        posting = self._posting(term)
        return self._idf(0 if posting is None else len(posting[0]))

    def _idf(self, df: int) -> float:
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))


GROUP_ENTRIES = 1 << 18


def _groups(
    parts: Sequence[Postings], columns: Sequence[np.ndarray]
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Consecutive parts joined into groups of about GROUP_ENTRIES postings, as CSR: (first row,
    term columns, row pointers within the group, counts)."""
    first = 0
    batch: list[tuple[Postings, np.ndarray]] = []
    entries = 0
    for i, (p, col) in enumerate(zip(parts, columns, strict=True)):
        batch.append((p, col))
        entries += len(p.counts)
        if entries < GROUP_ENTRIES and i < len(parts) - 1:
            continue
        starts = np.cumsum([0] + [len(q.counts) for q, _ in batch[:-1]])
        yield (
            first,
            np.concatenate([c[q.local] for q, c in batch]),
            np.concatenate(
                [[0]] + [q.indptr[1:] + n for (q, _), n in zip(batch, starts, strict=True)]
            ),
            np.concatenate([q.counts for q, _ in batch]),
        )
        first += sum(q.rows for q, _ in batch)
        batch, entries = [], 0


def _row_sums(p: Postings) -> np.ndarray:
    """Each chunk's token count (its row's sum of term counts)."""
    rows = np.repeat(np.arange(p.rows), np.diff(p.indptr))
    return np.bincount(rows, weights=p.counts, minlength=p.rows).astype(np.float32)
