"""The extractive answerer: pick the passages' sentences that answer the question, cite each one.

Pure functions over Hits; no index, no model. The best sentence for the whole question comes
first; sub-questions, asked kinds of figure, procedure steps, list cases and paired halves
(一方面…另一方面) may add more. The wording of the documents is kept exactly; only whitespace is
collapsed in the answer text (the citation quotes are verbatim spans of the chunks).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from .evidence import flat, term_coverage
from .models import Hit
from .question import QuestionInfo
from .score import (
    FULL_MATCH,
    NUMBER_WEIGHT,
    Similarity,
    dense_bonus,
    in_context,
    relevance,
    score,
    types_found,
    weight,
)
from .sentences import (
    Draft,
    Unit,
    compose,
    joined,
    joined_by_space,
    previous_sentences,
    units,
)
from .structure import numbered
from .wording import EXPANSION_TAG, amounts

# A sentence that carries the one before it on.
CONNECTIVE = re.compile(
    r"^(同时|此外|另外|并且|并|还|然后|随后|最后|其次|再|一方面|另一方面|而|其中|对于?|针对|通过)"
)

# A question asking for several things at once: the items of a list answer it.
ASKS_SEVERAL = re.compile(r"哪些|哪几|包括什么|包括哪|有什么(?:内容|条件|材料|要求|补偿)")

# Selection knobs.
LEAD_BONUS = 1.5
LIST_RATIO = 0.6
# Share of the best sentence's score an extra sentence needs: (other shapes, compare).
KEEP_RATIO = (0.65, 0.5)
PART_RATIO = 0.75
PART_COVERED = 0.9
PART_MIN_RELEVANCE = 0.3
PART_OWN = 0.5
PART_MIN_WEIGHT = 1.0
TYPE_SWITCH = 0.75
WIDE_BUDGET = 1.7
STEP_RELEVANCE = 0.1
STEPS_BACK = 2
MAX_ITEMS = {"fact": 3, "compare": 4, "list": 5, "procedure": 8}


def select(
    info: QuestionInfo,
    hits: Sequence[Hit],
    budget: int,
    userdict: Path | None = None,
    similar: Similarity | None = None,
) -> list[Unit]:
    """The sentences of the answer, in document order.

    The best sentence for the whole question leads; the best one for each sub-question ("A和B…",
    "X？Y？"), one holding an asked kind of figure the others lack, a procedure's steps, a list's
    parallel cases and the other half of 一方面…另一方面 may follow. Extra sentences (but a
    sub-question's) must score KEEP_RATIO of the best on the whole question; the answer stays
    within `budget` characters (WIDE_BUDGET times that for lists, procedures and comparisons).
    """
    every = units(hits)
    # A short lead-in ("补偿包括：") looks like a heading, but it is what a "哪些" question wants.
    opens = {u.key for u in every if _ends_lead(u) and _enumeration(u, every)}
    pool = [u for u in every if not u.is_heading or u.key in opens]
    if not pool:
        return []
    n = len(hits)
    before = previous_sentences(pool)
    dense = dense_bonus(pool, similar)
    whole = {
        u.key: score(info, u, n, userdict, before.get(u.key)) + dense.get(u.key, 0.0) for u in pool
    }
    if ASKS_SEVERAL.search(info.text):
        for key in opens:
            whole[key] *= LEAD_BONUS
    ranked = sorted(pool, key=lambda u: (-whole[u.key], u.rank, u.doc_start))
    keep = KEEP_RATIO[info.shape == "compare"]
    eligible = [u for u in ranked if whole[u.key] >= keep * whole[ranked[0].key]]
    best = _lead(info, ranked[0], eligible, whole)
    chosen = [best]
    for u in _assign_parts(info.parts, pool, n, userdict, before, chosen):
        _add(chosen, u)
    for u in _missing_types(info, chosen, eligible):
        _add(chosen, u)
    if info.shape == "procedure":
        for u in _steps(best, pool, info, userdict, int(budget * WIDE_BUDGET)):
            _add(chosen, u)
    if info.shape == "list":
        for u in _cases(info, best, pool, whole, userdict):
            _add(chosen, u)
    for u in list(chosen):
        for v in _paired(u, pool):
            _add(chosen, v)
    most = MAX_ITEMS[info.shape]
    limit = budget if info.shape == "fact" else int(budget * WIDE_BUDGET)
    for u in list(chosen[:most]):
        group = _enumeration(u, every)
        have = {c.key for c in chosen}
        # Whole or not at all: an item that reads like its neighbour is still part of the list.
        chosen.extend(v for v in group if v.key not in have)
        if group:
            most, limit = max(most, MAX_ITEMS["procedure"]), int(budget * WIDE_BUDGET)
    kept: list[Unit] = []
    for u in chosen[:most]:
        if not kept or sum(len(k.text) for k in kept) + len(u.text) <= limit:
            kept.append(u)
    return sorted(kept, key=lambda u: (u.hit.chunk.document_id, u.doc_start))


def _lead(
    info: QuestionInfo,
    top: Unit,
    eligible: Sequence[Unit],
    whole: dict[tuple[str, int, int], float],
) -> Unit:
    """The sentence the answer starts from: the best scoring one, unless a close runner-up gives
    the asked kind of figure it lacks, or the amount asked about ("几十亿以上") it lacks."""
    best = top
    if info.answer_types and not types_found(info, flat(best.text)):
        typed = [
            u
            for u in eligible
            if types_found(info, flat(u.text)) and whole[u.key] >= TYPE_SWITCH * whole[top.key]
        ]
        best = typed[0] if typed else best
    if info.min_amount and not _large_enough(info, best):
        best = next((u for u in eligible if _large_enough(info, u)), best)
    return best


def _missing_types(
    info: QuestionInfo, chosen: Sequence[Unit], eligible: Sequence[Unit]
) -> list[Unit]:
    """For each asked kind of figure the chosen sentences lack, the best eligible sentence giving it."""
    have = set().union(*(types_found(info, flat(u.text)) for u in chosen))
    out = []
    for kind in info.answer_types:
        if kind not in have:
            typed = [u for u in eligible if kind in types_found(info, flat(u.text))]
            if typed:
                out.append(typed[0])
                have |= types_found(info, flat(typed[0].text))
    return out


def _cases(
    info: QuestionInfo,
    best: Unit,
    pool: Sequence[Unit],
    whole: dict[tuple[str, int, int], float],
    userdict: Path | None,
) -> list[Unit]:
    """A list's parallel cases: sentences scoring LIST_RATIO of the best that name a case, share the
    best's main terms and kinds of figure, and reach the amount asked about."""
    core = _matched(info, best, userdict)
    best_types = types_found(info, flat(best.text))
    return [
        u
        for u in pool
        if whole[u.key] >= LIST_RATIO * whole[best.key]
        and _has_case(u)
        and len(core & _matched(info, u, userdict)) >= min(2, len(core))
        and types_found(info, flat(u.text)) >= best_types
        and _large_enough(info, u)
    ]


def _assign_parts(
    parts: Sequence[QuestionInfo],
    pool: Sequence[Unit],
    n: int,
    userdict: Path | None,
    before: dict[tuple[str, int, int], Unit],
    chosen: Sequence[Unit],
) -> list[Unit]:
    """Sentences for the sub-questions the chosen ones do not answer yet.

    A part's own terms must weigh PART_MIN_WEIGHT and its candidates hold PART_MIN_RELEVANCE of
    them, and the asked kind of figure when some candidate does. A part adds nothing when the
    chosen sentences hold its own terms nearly as well (PART_COVERED) as its best candidate.
    A part naming one compared thing ("A和B，哪个…") needs a sentence of its own: when two such
    parts want the same one, the weaker claim takes its next best if that scores PART_RATIO of it.
    """
    picks: list[Unit] = []
    taken: set[tuple[str, int, int]] = set()

    def part_score(p: QuestionInfo, u: Unit) -> float:
        return score(p, u, n, userdict, before.get(u.key))

    ranked = []
    for p in parts:
        own = QuestionInfo(
            p.text,
            [t for t in p.terms if t.weight >= PART_OWN and not t.tag.startswith(EXPANSION_TAG)],
            list(p.numbers),
            idf=p.idf,
            max_idf=p.max_idf,
        )
        if (
            sum(weight(own, t) for t in own.terms) + NUMBER_WEIGHT * len(own.numbers)
            < PART_MIN_WEIGHT
        ):
            continue  # nothing of its own worth a sentence ("这个项目要用多少地")
        candidates = [
            u for u in pool if in_context(own, u, before.get(u.key), userdict) >= PART_MIN_RELEVANCE
        ]
        if not candidates:
            continue
        if p.answer_types:
            typed = [u for u in candidates if types_found(p, flat(u.text))]
            have = set().union(*(types_found(p, flat(u.text)) for u in chosen))
            if not typed and set(p.answer_types) <= have:
                continue  # the chosen sentences already give what it asks for
            candidates = typed or candidates
        ranked.append(
            (p, own, sorted(((part_score(p, u), u) for u in candidates), key=lambda x: -x[0]))
        )
    for p, own, table in sorted(ranked, key=lambda x: -x[2][0][0]):
        top_score, top = table[0]
        if not p.entity:
            mine = in_context(own, top, before.get(top.key), userdict)
            held = max(
                (in_context(own, u, before.get(u.key), userdict) for u in [*chosen, *picks]),
                default=0.0,
            )
            if held >= PART_COVERED * mine:
                continue
        pick = top
        if p.entity and top.key in taken:
            pick = next(
                (u for sc, u in table[1:] if u.key not in taken and sc >= PART_RATIO * top_score),
                top,
            )
        picks.append(pick)
        taken.add(pick.key)
    return picks


def _add(chosen: list[Unit], unit: Unit) -> None:
    if not any(_near_duplicate(unit, c) for c in chosen):
        chosen.append(unit)


def _paired(unit: Unit, pool: Sequence[Unit]) -> list[Unit]:
    """The other half of a paired construction: 一方面…；另一方面…"""
    same = sorted(
        (u for u in pool if u.hit.chunk.document_id == unit.hit.chunk.document_id),
        key=lambda u: u.doc_start,
    )
    i = next(k for k, u in enumerate(same) if u.key == unit.key)
    text = flat(unit.text)
    out = []
    if (
        "一方面" in text
        and not text.startswith("另一方面")
        and i + 1 < len(same)
        and flat(same[i + 1].text).startswith("另一方面")
    ):
        out.append(same[i + 1])
    if text.startswith("另一方面") and i > 0 and "一方面" in flat(same[i - 1].text):
        out.append(same[i - 1])
    return out


def _ends_lead(u: Unit) -> bool:
    """A sentence that opens a list: "征收下列土地的，由国务院批准：" (short, so it looks like a heading)."""
    return flat(u.text).endswith(("：", ":"))


def _enumeration(unit: Unit, pool: Sequence[Unit]) -> list[Unit]:
    """A list as laws write it: a lead-in ending in "：" ("补偿包括：") and its numbered items
    ("（一）…；"). An item brings its lead-in and siblings, a lead-in its items; [] otherwise."""
    same = sorted(
        (u for u in pool if u.hit.chunk.document_id == unit.hit.chunk.document_id),
        key=lambda u: u.doc_start,
    )
    i = next(k for k, u in enumerate(same) if u.key == unit.key)

    def item(k: int) -> bool:
        return numbered(flat(same[k].text))

    def adjacent(k: int) -> bool:
        return joined_by_space(same[k - 1], same[k])

    start = i
    while start > 0 and item(start) and adjacent(start):
        start -= 1
    if not _ends_lead(same[start]) or (start != i and not item(i)):
        return []
    group, k = [same[start]], start + 1
    while k < len(same) and item(k) and adjacent(k):
        group.append(same[k])
        k += 1
    return group if len(group) > 1 else []


def _steps(
    best: Unit, pool: list[Unit], info: QuestionInfo, userdict: Path | None, budget: int
) -> list[Unit]:
    """A procedure: the best sentence's neighbours in its paragraph that stay on the subject.

    Up to STEPS_BACK on-subject sentences before it; after it, every sentence that is on the
    subject or opens with a connective (同时, 此外 …), across at most one that is neither — all
    within one passage, so that the steps are quoted as one citation, and within the budget.
    """
    before = previous_sentences(pool)
    after = {p.key: u for u in pool if (p := before.get(u.key)) is not None}

    def on_subject(u: Unit) -> bool:
        t = flat(u.text)
        return bool(CONNECTIVE.match(t)) or relevance(info, t, userdict) > STEP_RELEVANCE

    out: list[Unit] = []
    span = best
    prev = before.get(best.key)
    while prev is not None and len(out) < STEPS_BACK and on_subject(prev):
        wider = joined(prev, span)
        if wider is None:
            break
        out.append(prev)
        span = wider
        prev = before.get(prev.key)
    nxt = after.get(best.key)
    while nxt is not None:
        later = after.get(nxt.key)
        if on_subject(nxt):
            take = [nxt]
        elif later is not None and on_subject(later) and CONNECTIVE.match(flat(later.text)):
            take = [nxt, later]  # bridge one sentence to a step that carries on
        else:
            break
        grown: Unit | None = span
        for v in take:
            grown = joined(grown, v) if grown is not None else None
        if grown is None or len(grown.text) > budget:
            break
        out.extend(take)
        span = grown
        nxt = after.get(take[-1].key)
    return out


def _matched(info: QuestionInfo, unit: Unit, userdict: Path | None) -> set[str]:
    """The question terms a sentence holds outright."""
    text = flat(unit.text)
    return {
        t.text
        for t in info.terms
        if t.weight >= 1.0 and term_coverage(t, text, userdict) >= FULL_MATCH
    }


def _large_enough(info: QuestionInfo, unit: Unit) -> bool:
    """For "投资几十亿以上的项目": the sentence names an amount at least that large."""
    return not info.min_amount or any(a >= info.min_amount for a in amounts(flat(unit.text)))


def _has_case(unit: Unit) -> bool:
    """A sentence that names a case: a figure, a quoted name, a company."""
    return bool(re.search(r"\d|“[^”]+”|公司|集团", unit.text))


def _bigrams(text: str) -> set[str]:
    t = flat(text)
    return {t[i : i + 2] for i in range(len(t) - 1)}


def _near_duplicate(a: Unit, b: Unit, threshold: float = 0.6) -> bool:
    if a.key == b.key or (
        a.hit.chunk.document_id == b.hit.chunk.document_id
        and a.doc_start < b.doc_end
        and b.doc_start < a.doc_end
    ):
        return True
    x, y = _bigrams(a.text), _bigrams(b.text)
    return bool(x and y) and len(x & y) / min(len(x), len(y)) >= threshold


def extractive(
    info: QuestionInfo,
    hits: Sequence[Hit],
    budget: int,
    userdict: Path | None = None,
    similar: Similarity | None = None,
) -> Draft:
    """The extractive answer: selected sentences, in document order, each cited."""
    return compose(select(info, hits, budget, userdict, similar), info.shape)
