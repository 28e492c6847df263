"""How well one sentence answers a question: rarity-weighted term overlap, the asked kind of figure,
the context it sits in (heading, previous sentence), the passage's rank, and dense similarity.

Pure functions over QuestionInfo and Units; the knobs below are calibrated on the public QA set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from .evidence import flat, term_coverage
from .question import QuestionInfo, Term
from .sentences import Unit
from .tokenize import has_figure
from .wording import ANSWER_TYPES, TYPE_KEYWORDS

TYPE_BONUS = 0.5
ATTACH_BONUS = 0.5
ENUM_BONUS = 0.4
ATTACH_WINDOW = 8
RANK_PRIOR = 0.05
FOCUS_BOOST = 1.5
NUMBER_WEIGHT = 3.0
SATURATION = 1.2
LENGTH_NORM = 0.2
AVERAGE_SENTENCE = 60
CONTEXT_SHARE = 0.5
UNSEEN_IDF = 1.5
FULL_MATCH = 0.8
PARTIAL_SHARE = 0.5
DENSE_WEIGHT = 0.1


def weight(info: QuestionInfo, term: Term) -> float:
    """A term's weight for sentence scoring: its base weight × rarity in the index, asked-for words more.

    A word the index never saw (everyday wording) cannot single out a sentence: it gets a middling
    weight instead of the highest.
    """
    idf = info.idf.get(term.text, UNSEEN_IDF)
    if idf >= info.max_idf - 1e-6:
        idf = UNSEEN_IDF
    w = term.weight * min(max(idf, 0.3), 6.0)
    return w * FOCUS_BOOST if term.text in info.focus else w


def relevance(info: QuestionInfo, text: str, userdict: Path | None = None) -> float:
    """Rarity-weighted share of the question's terms and figures in one sentence (flattened text).

    A term repeated in the sentence counts a little more (BM25-style saturation), so that
    "哪几项登记" prefers the sentence that lists several 登记.
    """
    total = got = 0.0
    for t in info.terms:
        w = weight(info, t)
        total += w
        c = term_coverage(t, text, userdict)
        if c < FULL_MATCH and t.text in info.focus and len(t.text) >= 3 and t.text[-2:] in text:
            c = FULL_MATCH  # the asked-for word's head noun: 快速通道 → 绿色通道
        if c >= FULL_MATCH:
            tf = max(text.count(t.text), 1)
            got += w * c * tf * (SATURATION + 1) / (tf + SATURATION)
        else:
            got += w * c * PARTIAL_SHARE
    for n in info.numbers:
        total += NUMBER_WEIGHT
        got += NUMBER_WEIGHT if has_figure(n, text) else 0.0
    # Official terms the question's wording maps to count as a bonus, never as a requirement; they
    # stand for everyday words the index never saw, so they weigh at least like one of those.
    got += sum(
        e.weight * max(weight(info, Term(e.text)), UNSEEN_IDF)
        for e in info.expansions
        if e.text in text
    )
    return got / total if total else 0.0


def types_found(info: QuestionInfo, text: str) -> set[str]:
    return {k for k in info.answer_types if ANSWER_TYPES[k][1].search(text)}


def types_attached(info: QuestionInfo, text: str) -> set[str]:
    """Asked kinds of figure that come right after a question term or a word naming the quantity."""
    out = set()
    for kind in info.answer_types:
        names = [t.text for t in info.terms if t.weight >= 1.0] + TYPE_KEYWORDS[kind].split("|")
        for m in ANSWER_TYPES[kind][1].finditer(text):
            window = text[max(0, m.start() - ATTACH_WINDOW) : m.start()]
            if any(n and n in window for n in names):
                out.add(kind)
                break
    return out


def score(
    info: QuestionInfo,
    unit: Unit,
    n_hits: int,
    userdict: Path | None = None,
    prev: Unit | None = None,
) -> float:
    """How well one sentence answers: term overlap, the asked kind of figure, the passage's rank, length.

    `prev`, the sentence before it in the same paragraph, lends part of its terms: "目前，用于项目
    建设的90亩土地…" is about the project the sentence before names.
    """
    text = flat(unit.text)
    s = in_context(info, unit, prev, userdict)
    # The asked kind of figure, or the list a "哪些" asks for, matters only in a sentence on the subject.
    boost = 0.0
    if info.answer_types:
        boost += TYPE_BONUS * len(types_found(info, text)) / len(info.answer_types)
        boost += ATTACH_BONUS * len(types_attached(info, text)) / len(info.answer_types)
    if info.enumeration and text.count("、") >= 2:
        boost += ENUM_BONUS
    s *= 1 + boost
    s /= 1 - LENGTH_NORM + LENGTH_NORM * len(text) / AVERAGE_SENTENCE
    return s + RANK_PRIOR * (1 - unit.rank / max(n_hits, 1))


Similarity = Callable[[Sequence[str]], Sequence[float]]


def in_context(info: QuestionInfo, unit: Unit, prev: Unit | None, userdict: Path | None) -> float:
    """Relevance of a sentence with part of its heading's and previous sentence's terms lent to it."""
    text = flat(unit.text)
    s = relevance(info, text, userdict)
    context = flat(unit.hit.chunk.heading) + (flat(prev.text) if prev is not None else "")
    return (
        s + CONTEXT_SHARE * max(0.0, relevance(info, context + text, userdict) - s)
        if context
        else s
    )


def dense_bonus(
    pool: Sequence[Unit], similar: Similarity | None = None
) -> dict[tuple[str, int, int], float]:
    """DENSE_WEIGHT × each sentence's `similar`ity to the question, rescaled to [0, 1] over the pool.

    Off unless a `similar` function is given. Dense similarity already shapes every score through
    the passage's fused retrieval rank (RANK_PRIOR); on the public set a sentence-level dense term
    left top-sentence accuracy unchanged (60/67 with or without) while costing one more query
    embedding per ask (the largest cost of `ask`), and a passage-level one lowered it.
    """
    if similar is None or not pool:
        return {}
    sims = [float(x) for x in similar([u.text for u in pool])]
    lo, hi = min(sims), max(sims)
    if hi - lo < 1e-6:
        return {}
    return {u.key: DENSE_WEIGHT * (sim - lo) / (hi - lo) for u, sim in zip(pool, sims, strict=True)}
