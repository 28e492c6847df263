"""How well a passage matches a staff search: which of the query's content terms it holds.

Retrieval always returns top_k passages, however weak: "杭州 公积金 提取" brings back twenty
passages that share nothing with the query but 杭州湾. A staff search asks instead for passages
that *hold* what was typed, so each hit is scored by one named rule:

**Term coverage.** The query's content terms are those of `question.analyse` (jieba words with
their part-of-speech tags, stop and frame words dropped, numbers with their unit kept whole; an
everyday word also counts as held through the official terms the synonym table maps it to). Each
term weighs its inverse document frequency over the index's passage texts (BM25's formula,
log(1 + (N - df + 0.5) / (df + 0.5))), halved for a one-character word. A passage's coverage is the
weight of the terms it holds over the weight of all of them, and the cut-off is

    keep a passage when coverage >= MIN_COVERAGE (0.5)

that is, when it holds at least half of what the query says, the rarer terms counting more. A
place name counts only as itself: 杭州 is not held by 杭州湾 (a bay), the gazetteer's rule.

The document frequencies come from passage texts rather than BM25's own token statistics because
BM25 indexes each chunk with its document title: in a one-newsletter corpus every passage then
"contains" 带押过户 and its idf is 0, which would make that term weightless here.

Pure functions of texts, plus `TermStats`, the document frequencies over an index's passages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assistant.text.analyzer import Analyzer
from assistant.text.places import EXTENDERS
from assistant.text.question import analyse
from assistant.text.structure import sentences
from assistant.text.tokenize import SynonymTable, has_figure, normalise

RULE = "term-coverage"
MIN_COVERAGE = 0.5
# Bands of the relevance cue shown next to each hit.
STRONG = 0.999
GOOD = 0.75


@dataclass(frozen=True)
class QueryTerm:
    """A content term of the query: what was typed, what else stands for it, how much it counts."""

    text: str
    forms: tuple[str, ...]  # the term itself first, then official terms from the synonym table
    weight: float = 1.0  # 0.5 for a one-character word (question.analyse)
    place: bool = False  # a place name (jieba tag ns): 杭州湾 does not hold 杭州
    figure: bool = False  # a number with its unit (90亩): 九十亩 holds it too


@dataclass(frozen=True)
class Match:
    """Which query terms a passage holds, and the weighted share of the query that makes."""

    held: tuple[str, ...]
    missing: tuple[str, ...]
    coverage: float
    # [start, end) of the passage's sentence holding the most query weight (None: holds nothing).
    sentence: tuple[int, int] | None = None

    @property
    def strength(self) -> str:
        """The cue's band: all (every term), most (>= 0.75), some (>= MIN_COVERAGE), weak."""
        if self.coverage >= STRONG:
            return "all"
        if self.coverage >= GOOD:
            return "most"
        return "some" if self.coverage >= MIN_COVERAGE else "weak"


def query_terms(
    query: str, analyzer: Analyzer, synonyms: SynonymTable | None = None
) -> list[QueryTerm]:
    """The query's content terms, in the order typed (none for a query of function words only)."""
    info = analyse(query, analyzer, synonyms)
    terms = [
        QueryTerm(t.text, (t.text, *t.alternatives), t.weight, place=t.tag == "ns")
        for t in info.terms
    ]
    terms.extend(QueryTerm(n, (n,), 1.0, figure=True) for n in info.numbers)
    return terms


def _found(form: str, text: str, place: bool) -> bool:
    """`form` occurs in normalised `text`; a place only where it is not part of a longer name."""
    if not place:
        return form in text
    at = text.find(form)
    while at >= 0:
        after = at + len(form)
        if after >= len(text) or text[after] not in EXTENDERS:
            return True
        at = text.find(form, at + 1)
    return False


def holds(term: QueryTerm, text: str) -> bool:
    """Whether normalised `text` holds the term, in any of its forms."""
    if term.figure:
        # A whole number: 90亩 is not held by 190亩 (has_figure reads 九十亩 as 90亩 too).
        whole = re.search(rf"(?<![\d.]){re.escape(term.text)}", text) is not None
        return whole or (term.text not in text and has_figure(term.text, text))
    return any(_found(f, text, term.place and f == term.text) for f in term.forms)


def idf(df: int, n: int) -> float:
    """BM25's inverse document frequency of a term held by `df` of `n` passages."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def weights(terms: Sequence[QueryTerm], texts: Sequence[str]) -> dict[str, float]:
    """Each term's weight: its idf over normalised passage `texts`, times its own weight."""
    n = len(texts)
    return {t.text: t.weight * idf(sum(holds(t, x) for x in texts), n) for t in terms}


def coverage(terms: Sequence[QueryTerm], weight: dict[str, float], text: str) -> float:
    """The weighted share of the query's terms that normalised `text` holds (0 with no terms)."""
    total = sum(weight.get(t.text, 0.0) for t in terms)
    if total <= 0:
        return 1.0 if terms and all(holds(t, text) for t in terms) else 0.0
    return sum(weight.get(t.text, 0.0) for t in terms if holds(t, text)) / total


def best_sentence(
    terms: Sequence[QueryTerm], weight: dict[str, float], text: str
) -> tuple[int, int] | None:
    """[start, end) in `text` of the sentence holding the most query weight, first on ties."""
    best: tuple[int, int] | None = None
    best_score = 0.0
    for a, b in sentences(text, 0, len(text)):
        part = normalise(text[a:b])
        score = sum(weight.get(t.text, 0.0) for t in terms if holds(t, part))
        if score > best_score:
            best, best_score = (a, b), score
    return best


def match(terms: Sequence[QueryTerm], weight: dict[str, float], text: str) -> Match:
    """How passage `text` (as stored, not normalised) matches the query."""
    norm = normalise(text)
    held = tuple(t.text for t in terms if holds(t, norm))
    missing = tuple(t.text for t in terms if t.text not in held)
    return Match(held, missing, coverage(terms, weight, norm), best_sentence(terms, weight, text))


def keep(m: Match, min_coverage: float = MIN_COVERAGE) -> bool:
    """The cut-off rule: the passage holds at least `min_coverage` of the query's weight."""
    return m.coverage >= min_coverage


class TermStats:
    """Document frequencies over an index's passages, computed as asked (kept per index version
    by its owner, `Assistant.view`)."""

    def __init__(self, texts: Iterable[str], normalised: bool = False) -> None:
        self.texts = list(texts) if normalised else [normalise(t) for t in texts]
        self._df: dict[tuple[str, ...], int] = {}

    def df(self, term: QueryTerm) -> int:
        key = (term.text, *term.forms, "place" if term.place else "", "fig" if term.figure else "")
        if key not in self._df:
            self._df[key] = sum(holds(term, x) for x in self.texts)
        return self._df[key]

    def weights(self, terms: Sequence[QueryTerm]) -> dict[str, float]:
        n = len(self.texts)
        return {t.text: t.weight * idf(self.df(t), n) for t in terms}
