"""Named features of candidate sentences and of whole questions, for the fitted answer models.

Pure functions over QuestionInfo, Hits and Units. Nothing here is a weight: how much each feature
counts is fitted by `policy-assistant tune` and stored in `assistant/data/answer_model.json`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assistant.answer.evidence import (
    Gap,
    Vocabulary,
    context_text,
    flat,
    gaps,
    support,
    term_coverage,
)
from assistant.answer.sentences import Unit, previous_sentences, units
from assistant.models import Hit
from assistant.text.analyzer import Analyzer
from assistant.text.places import NATIONWIDE
from assistant.text.question import QuestionInfo, Term
from assistant.text.structure import numbered
from assistant.text.tokenize import has_figure
from assistant.text.wording import ANSWER_TYPES, TYPE_KEYWORDS

# Characters before a figure that are searched for the word naming it ("用地面积1224亩").
ATTACH_WINDOW = 8
# Passages read for the question-level features (more for lists and comparisons).
CONTEXT_PASSAGES = {"fact": 3, "procedure": 3, "list": 5, "compare": 5}
# Clip of a term's idf: a word the index never saw is rare but says nothing about a sentence.
IDF_FLOOR, IDF_CEIL = 0.3, 6.0

SENTENCE_FEATURES = (
    "token_coverage",  # idf-weighted share of the query's BM25 tokens (words, bigrams) in it
    "token_context",  # the same over heading + previous sentence + sentence
    "token_relative",  # token_coverage / the best token_coverage among the candidates
    "context_relative",  # token_context / the best among the candidates
    "rare_relative",  # rare_coverage / the best among the candidates
    "rare_coverage",  # idf-weighted share of the question's terms in the sentence
    "context_coverage",  # the same over heading + previous sentence + sentence
    "plain_coverage",  # unweighted share of the terms held outright
    "heading_coverage",  # idf-weighted share found in the passage's heading path
    "expansion_hit",  # official terms the question's wording maps to, found in the sentence
    "figure_match",  # the question's own figures found in the sentence
    "type_found",  # the asked kind of figure (money, area, date …) is present
    "type_attached",  # … right after a question term or a word naming the quantity
    "no_type_asked",  # the question asks for no particular kind of figure
    "list_like",  # several 、-separated items, a numbered item or a list lead-in
    "asks_list",  # the question asks for several things (shape list/procedure)
    "list_match",  # list_like × asks_list
    "fused_score",  # the passage's fused retrieval score / the best passage's
    "dense",  # dense similarity of the passage to the question (0 without an embedder)
    "sentence_dense",  # dense similarity of the sentence itself to the question
    "sentence_dense_relative",  # … minus the best of the candidates'
    "lexical",  # the passage's BM25 score relative to the best passage's
    "position",  # where the sentence sits in its passage (0 first … 1 last)
    "is_heading",  # a short heading-like line (a headline can hold the fact)
    "log_length",  # log of the sentence length
    "foreign",  # the passage is another place's rule than the one asked about (or than home)
)

QUESTION_FEATURES = (
    "best_sentence",  # the best sentence's selection probability
    "second_sentence",  # the runner-up's
    "support",  # share of the question's terms found in the best passages
    "rare_support",  # idf-weighted share of them
    "dense_top",  # dense similarity of the best passage (missing without an embedder)
    "lexical_top",  # log(1 + BM25 score) of the best lexical passage
    "agreement",  # the best dense and the best lexical passage are the same one
    "gap_figure",  # a figure or year of the question absent from the passages
    "gap_place",  # a place of the question absent
    "gap_term",  # a term of the field absent
    "gap_scope",  # a compound whose head matches but modifier does not
    "gap_novel",  # a noun with characters the whole index never uses
    "gap_type",  # an asked kind of figure the passages do not hold
    "gap_unit",  # a rate ("每亩") the passages never give
    "gap_instance",  # a phase, grade or year the passages name only other members of (二期: 一期)
    "n_terms",  # log(1 + number of content terms)
    "history",  # the question leans on earlier turns
    "best_coverage",  # the best sentence's idf-weighted coverage
    "best_context",  # … with its heading and previous sentence
    "best_type",  # the best sentence holds the asked kind of figure, attached (1 if none asked)
    "top_type",  # one of the three best sentences does
    "typed_coverage",  # best rare_coverage of a sentence holding the asked kind of figure (1 if none)
    "unseen_share",  # share of the question's terms the index never saw
    "missing_rare",  # rarity of the rarest term the passages miss (0: none missed)
    "best_foreign",  # the best sentence is another place's rule
    "foreign_share",  # share of the passages that are another place's rule
)


@dataclass
class Candidate:
    """One sentence of the retrieved passages with its feature values."""

    unit: Unit
    features: dict[str, float]
    prev: Unit | None = None


def idf_weight(info: QuestionInfo, term: Term) -> float:
    """A term's weight: its base weight × clipped rarity in the index (unseen words middling)."""
    idf = info.idf.get(term.text, 1.5)
    if idf >= info.max_idf - 1e-6:
        idf = 1.5
    return term.weight * min(max(idf, IDF_FLOOR), IDF_CEIL)


def coverage(
    info: QuestionInfo,
    text: str,
    analyzer: Analyzer | None,
    rare: bool = True,
    covered: Sequence[float] | None = None,
) -> float:
    """Weighted share of the question's terms and figures that `text` (flattened) covers
    (`covered`: each term's coverage of `text`, when already known)."""
    total = got = 0.0
    if covered is None:
        covered = [term_coverage(t, text, analyzer) for t in info.terms]
    for t, c in zip(info.terms, covered, strict=True):
        w = idf_weight(info, t) if rare else t.weight
        total += w
        got += w * c
    for n in info.numbers:
        total += 1.0
        got += 1.0 if has_figure(n, text) else 0.0
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
            if kind == "date":  # a date opens the clause it dates: "近日，…落地首笔…"
                window += text[m.end() : m.end() + 2 * ATTACH_WINDOW]
            if any(n and n in window for n in names):
                out.add(kind)
                break
    return out


def list_like(text: str) -> bool:
    return text.count("、") >= 2 or numbered(text) or text.endswith(("：", ":"))


def token_coverage(tokens: Mapping[str, float], text: str) -> float:
    """idf-weighted share of the query tokens that occur in `text` (flattened)."""
    total = sum(tokens.values())
    return sum(w for t, w in tokens.items() if t in text) / total if total else 0.0


def sentence_features(
    info: QuestionInfo,
    unit: Unit,
    prev: Unit | None,
    hits: Sequence[Hit],
    analyzer: Analyzer | None,
    position: float = 0.0,
    tokens: Mapping[str, float] | None = None,
    foreign: bool = False,
    headings: dict[str, float] | None = None,
) -> dict[str, float]:
    """The SENTENCE_FEATURES of one sentence (`position`: 0 first in its passage … 1 last;
    `headings`: coverage of headings already computed for this question, shared by its passages)."""
    headings = {} if headings is None else headings
    text = flat(unit.text)
    chunk = unit.hit.chunk
    heading = flat(" ".join(chunk.heading_path))
    context = heading + (flat(prev.text) if prev is not None else "") + text
    n_types = max(len(info.answer_types), 1)
    asks_list = info.shape in ("list", "procedure") or info.enumeration
    best_lex = max((h.lexical or 0.0) for h in hits) or 1.0
    # A score, not a rank: a near tie at the top must not favour the first passage's sentences.
    best_score = max((h.score for h in hits), default=0.0) or 1.0
    own = [term_coverage(t, text, analyzer) for t in info.terms]
    # Context holds the sentence: a term the sentence covers fully, the context does too.
    wider = [
        c if c >= 1.0 else term_coverage(t, context, analyzer)
        for t, c in zip(info.terms, own, strict=True)
    ]
    tokens = tokens or {}
    return {
        "token_coverage": token_coverage(tokens, text),
        "token_context": token_coverage(tokens, context),
        "rare_coverage": coverage(info, text, analyzer, covered=own),
        "context_coverage": coverage(info, context, analyzer, covered=wider),
        "plain_coverage": sum(c >= 0.8 for c in own) / len(info.terms) if info.terms else 0.0,
        "heading_coverage": (
            headings.setdefault(heading, coverage(info, heading, analyzer)) if heading else 0.0
        ),
        "expansion_hit": min(1.0, float(sum(e.text in text for e in info.expansions))),
        "figure_match": (
            sum(has_figure(n, text) for n in info.numbers) / len(info.numbers)
            if info.numbers
            else 0.0
        ),
        "type_found": len(types_found(info, text)) / n_types,
        "type_attached": len(types_attached(info, text)) / n_types,
        "no_type_asked": 0.0 if info.answer_types else 1.0,
        "list_like": float(list_like(text)),
        "asks_list": float(asks_list),
        "list_match": float(asks_list and list_like(text)),
        "fused_score": unit.hit.score / best_score,
        # Without an embedder the dense features are missing, and the model reads their mean.
        **({"dense": float(unit.hit.dense)} if unit.hit.dense is not None else {}),
        **(
            {"sentence_dense": unit.hit.sentences[unit.start]}
            if unit.start in unit.hit.sentences
            else {}
        ),
        "lexical": float(unit.hit.lexical or 0.0) / best_lex,
        "position": position,
        "is_heading": float(unit.is_heading),
        "log_length": math.log(1 + len(text)),
        "foreign": float(foreign),
    }


def candidates(
    info: QuestionInfo,
    hits: Sequence[Hit],
    analyzer: Analyzer | None,
    tokens: Mapping[str, float] | None = None,
    foreign: Mapping[str, bool] | None = None,
) -> list[Candidate]:
    """Every sentence of the hits (headings too), with its features (`tokens`: query token → idf;
    `foreign`: document id → another place's rule)."""
    foreign = foreign or {}
    every = units(hits)
    position: dict[tuple[str, int, int], float] = {}
    for hit in hits:
        mine = sorted((u for u in every if u.hit is hit), key=lambda u: u.start)
        position.update({u.key: i / max(len(mine) - 1, 1) for i, u in enumerate(mine)})
    pool = [u for u in every if len(flat(u.text)) >= 4]
    before = previous_sentences(pool)
    headings: dict[str, float] = {}
    out = [
        Candidate(
            u,
            sentence_features(
                info,
                u,
                before.get(u.key),
                hits,
                analyzer,
                position.get(u.key, 0),
                tokens,
                foreign.get(u.hit.chunk.document_id, False),
                headings,
            ),
            before.get(u.key),
        )
        for u in pool
    ]
    relative(out)
    return out


def for_part(
    part: QuestionInfo,
    pool: Sequence[Candidate],
    hits: Sequence[Hit],
    analyzer: Analyzer | None,
    tokens: Mapping[str, float],
) -> list[Candidate]:
    """The same sentences with features for one part of the question: its own terms, and the
    query tokens that occur in its words."""
    said = flat(part.text)
    own = {t: w for t, w in tokens.items() if t in said}
    headings: dict[str, float] = {}
    out = [
        Candidate(
            c.unit,
            sentence_features(
                part,
                c.unit,
                c.prev,
                hits,
                analyzer,
                c.features["position"],
                own,
                bool(c.features["foreign"]),
                headings,
            ),
            c.prev,
        )
        for c in pool
    ]
    relative(out)
    return out


RELATIVE = {
    "token_relative": "token_coverage",
    "context_relative": "token_context",
    "rare_relative": "rare_coverage",
}


def relative(pool: Sequence[Candidate]) -> None:
    """Each candidate's coverage against the best of its question's pool, and its sentence
    similarity less the best one (set in place; missing where the similarity is)."""
    for name, base in RELATIVE.items():
        best = max((c.features[base] for c in pool), default=0.0) or 1.0
        for c in pool:
            c.features[name] = c.features[base] / best
    known = [c.features["sentence_dense"] for c in pool if "sentence_dense" in c.features]
    for c in pool:
        if "sentence_dense" in c.features:
            c.features["sentence_dense_relative"] = c.features["sentence_dense"] - max(known)


def gap_list(
    info: QuestionInfo,
    hits: Sequence[Hit],
    analyzer: Analyzer | None,
    vocabulary: Vocabulary | None,
    where: Mapping[str, str] | None = None,
) -> list[Gap]:
    """What the question pins down that the best passages do not hold (`where`: document id →
    the place whose rule it is: a place's own documents say "我市", not its name)."""
    if not hits:
        return [Gap("term", "(no passages)")]
    n = CONTEXT_PASSAGES.get(info.shape, 3)
    own = {where.get(h.chunk.document_id, "") for h in hits[:n]} if where else set()
    return gaps(info, context_text(hits, n), analyzer, vocabulary, own - {"", NATIONWIDE})


def question_features(
    info: QuestionInfo,
    hits: Sequence[Hit],
    pool: Sequence[Candidate],
    sentence_probabilities: Sequence[float],
    found: Sequence[Gap],
    analyzer: Analyzer | None,
    leans_on_history: bool,
) -> dict[str, float]:
    """The QUESTION_FEATURES: how well the passages as a whole cover the question."""
    text = context_text(hits, CONTEXT_PASSAGES.get(info.shape, 3)) if hits else ""
    probs = sorted(sentence_probabilities, reverse=True)
    order = sorted(range(len(pool)), key=lambda i: -sentence_probabilities[i])[:3]
    top = [pool[i].features for i in order]
    typed = [f["type_attached"] if info.answer_types else 1.0 for f in top]
    own = [t for t in info.terms if t.weight >= 1.0]
    unseen = [t for t in own if info.idf.get(t.text, info.max_idf) >= info.max_idf - 1e-6]
    missed = [
        idf_weight(info, t) / IDF_CEIL
        for t in own
        if t not in unseen and term_coverage(t, text, analyzer) < 0.5
    ]
    dense = [h.dense for h in hits if h.dense is not None]
    lexical = [h.lexical for h in hits if h.lexical is not None]
    best_dense = max(hits, key=lambda h: h.dense or -1.0) if dense else None
    best_lexical = max(hits, key=lambda h: h.lexical or -1.0) if lexical else None
    kinds = [g.kind for g in found]
    # A figure of the asked kind somewhere is not enough: the sentence holding it must also be
    # about what is asked (the 三十日 of a notice does not say when compensation is paid).
    typed_coverage = max(
        (c.features["rare_coverage"] for c in pool if c.features["type_found"]), default=0.0
    )
    return {
        "best_sentence": probs[0] if probs else 0.0,
        "second_sentence": probs[1] if len(probs) > 1 else 0.0,
        "support": support(info, text, analyzer) if info.terms else 0.0,
        "rare_support": coverage(info, text, analyzer),
        **({"dense_top": max(dense)} if dense else {}),
        "lexical_top": math.log1p(max(lexical)) if lexical else 0.0,
        **(
            {
                "agreement": float(
                    best_lexical is not None and best_dense.chunk.id == best_lexical.chunk.id
                )
            }
            if best_dense is not None
            else {}
        ),
        **{f"gap_{k}": float(kinds.count(k)) for k in SEVERAL_GAPS},
        "n_terms": math.log1p(len(info.terms) + len(info.numbers)),
        "history": float(leans_on_history),
        "best_coverage": top[0]["rare_coverage"] if top else 0.0,
        "best_context": top[0]["context_coverage"] if top else 0.0,
        "best_type": typed[0] if typed else 0.0,
        "top_type": max(typed, default=0.0),
        "typed_coverage": typed_coverage if info.answer_types else 1.0,
        "unseen_share": len(unseen) / len(own) if own else 0.0,
        "missing_rare": max(missed, default=0.0),
        "best_foreign": top[0]["foreign"] if top else 0.0,
        "foreign_share": (sum(c.features["foreign"] for c in pool) / len(pool) if pool else 0.0),
    }


SEVERAL_GAPS = ("figure", "place", "term", "scope", "novel", "type", "unit", "instance")
