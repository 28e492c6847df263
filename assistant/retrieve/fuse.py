"""Pure fusion of ranked lists: reciprocal rank fusion and weighted normalised scores."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np


def rrf(
    rankings: Sequence[Sequence[str]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1; best first."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def minmax(scores: Mapping[str, float]) -> dict[str, float]:
    """Scale scores to [0, 1]; a single or constant list maps to 1."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-12:
        return {key: 1.0 for key in scores}
    return {key: (v - lo) / (hi - lo) for key, v in scores.items()}


def weighted(
    score_maps: Sequence[Mapping[str, float]],
    weights: Sequence[float] | None = None,
    unknown: Collection[str] = (),
) -> list[tuple[str, float]]:
    """Sum of min-max normalised scores times weights; a key missing from a list scores 0 there,
    except a key in `unknown` (a passage whose vectors are not stored yet): where it is missing it
    scores what it scores on average where it is known."""
    weights = weights or [1.0] * len(score_maps)
    total: dict[str, float] = {}
    known: dict[str, float] = {}
    for scores, w in zip(score_maps, weights, strict=True):
        for key, v in minmax(scores).items():
            total[key] = total.get(key, 0.0) + w * v
            known[key] = known.get(key, 0.0) + w
    whole = sum(weights)
    for key in unknown:
        if known.get(key):
            total[key] *= whole / known[key]
    return sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))


def best_sentence(rows: Mapping[str, np.ndarray], vector: np.ndarray) -> dict[str, float]:
    """Each passage's best sentence similarity to the query (`rows`: passage → its sentences'
    unit vectors, one row each; a passage without rows of the query's width is left out)."""
    return {
        key: float((m @ vector).max())
        for key, m in rows.items()
        if m.ndim == 2 and len(m) and m.shape[1] == len(vector)
    }
