"""The BM25 index as it was before the lean lexical index (2026-11-29), kept for bench/lexical_scale.py's
baseline: postings in a dict of numpy arrays, built whole from token lists."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


class BM25:
    """Okapi BM25 (k1, b) over pre-tokenised documents; scores only documents sharing a term."""

    def __init__(self, corpus: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.size = len(corpus)
        lengths = np.array([len(doc) for doc in corpus], dtype=np.float32)
        avg = float(lengths.mean()) if self.size else 1.0
        self._norm = k1 * (1 - b + b * lengths / max(avg, 1e-9))
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, doc in enumerate(corpus):
            for term, tf in Counter(doc).items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        self._postings = {
            term: (np.array(ids, dtype=np.int32), np.array(tfs, dtype=np.float32))
            for term, (ids, tfs) in postings.items()
        }
        self._idf = {
            term: math.log(1 + (self.size - len(ids) + 0.5) / (len(ids) + 0.5))
            for term, (ids, _) in self._postings.items()
        }

    def scores(self, query: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score of every document, and which documents contain at least one query term."""
        acc = np.zeros(self.size, dtype=np.float32)
        touched = np.zeros(self.size, dtype=bool)
        for term, qtf in Counter(query).items():
            posting = self._postings.get(term)
            if posting is None:
                continue
            ids, tfs = posting
            acc[ids] += qtf * self._idf[term] * tfs * (self.k1 + 1) / (tfs + self._norm[ids])
            touched[ids] = True
        return acc, touched

    def top(self, query: Sequence[str], n: int) -> list[tuple[int, float]]:
        """The n best (document index, score) pairs among documents sharing a term, best first."""
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
        return self._idf.get(term, math.log(1 + (self.size + 0.5) / 0.5))
