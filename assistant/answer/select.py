"""Which sentences make the answer: the fitted probabilities decide, the document's structure completes.

The most probable sentence leads; every other sentence whose probability reaches the fitted
`keep` threshold may follow; each sub-question ("A和B分别…", "X？Y？") brings its own best
sentence, or when another part took that one, its next best if that reaches the fitted `part`
threshold; a sentence nearly the same as one already chosen (the fitted `duplicate` share of its
character bigrams) is left out; a law's numbered list comes whole. The answer stays within its
character budget; then each chosen sentence is widened within its passage, to the fitted `span`
of characters, by the sentences around it (a fact often sits in the clause next to the sentence
that names the topic).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assistant.answer.evidence import flat
from assistant.answer.features import Candidate
from assistant.answer.model import Thresholds
from assistant.answer.sentences import Unit, joined
from assistant.text.question import QuestionInfo
from assistant.text.structure import ARTICLE_RE, numbered

# Most sentences (or list items) an answer holds, by the question's shape.
MAX_ITEMS = {"fact": 3, "compare": 4, "list": 6, "procedure": 6}


def select(
    info: QuestionInfo,
    pool: Sequence[Candidate],
    probabilities: Sequence[float],
    thresholds: Thresholds,
    budget: int,
    part_probabilities: Callable[[QuestionInfo], Sequence[float]] | None = None,
) -> list[Unit]:
    """The answer's sentences in document order ([] for an empty pool), chosen by the fitted
    `thresholds` (keep, span, part, duplicate) within `budget` characters."""
    t = thresholds
    if not pool:
        return []
    # Another place's rule is never given as the answer for a place the question names.
    local = [i for i, c in enumerate(pool) if not c.features.get("foreign")] if info.places else []
    allowed = set(local) if local else set(range(len(pool)))
    ranked = sorted(allowed, key=lambda i: (-probabilities[i], pool[i].unit.rank))
    chosen = [pool[ranked[0]].unit]
    if part_probabilities is not None:
        for part in info.parts:
            probs = part_probabilities(part)
            # Each part is answered by its own best sentence, with its own citation; a part naming
            # one of the things compared ("A和B，哪个…") needs a sentence no other part took; any
            # other part whose best sentence is taken brings its next best when that one is likely
            # enough ("…一签几年？…又是几年一签？" is answered by two sentences, not one twice).
            order = sorted(allowed, key=lambda i: -probs[i])
            taken = {u.key for u in chosen}
            top = next((i for i in order if pool[i].unit.key not in taken), order[0])
            own = part.entity or probs[top] >= t.part
            _add(chosen, pool[top if own else order[0]].unit, t.duplicate)
    for i in ranked[1:]:
        if probabilities[i] >= t.keep:
            _add(chosen, pool[i].unit, t.duplicate)
    most = MAX_ITEMS.get(info.shape, 3)
    units = [c.unit for c in pool]
    for u in list(chosen[:most]):
        group = enumeration(u, units)
        have = {c.key for c in chosen}
        # Whole or not at all: a law's list answers as a list.
        chosen.extend(v for v in group if v.key not in have)
        if group:
            most = max(most, len(group) + 1)
    kept: list[Unit] = []
    for u in chosen[:most]:
        if not kept or sum(len(k.text) for k in kept) + len(u.text) <= budget:
            kept.append(u)
    return widen(kept, units, t.span, budget)


def widen(kept: Sequence[Unit], units: Sequence[Unit], span: int, limit: int) -> list[Unit]:
    """Each kept sentence with the sentences around it in its passage (after, then before), to
    `span` characters, never into another article, while the whole answer stays within `limit`.
    In document order."""
    passages: dict[int, list[Unit]] = {}
    for u in units:
        passages.setdefault(id(u.hit), []).append(u)
    for same in passages.values():
        same.sort(key=lambda u: u.start)
    out: dict[tuple[str, int, int], Unit] = {u.key: u for u in kept}
    room = limit - sum(len(u.text) for u in kept)
    for u in kept:
        same = passages[id(u.hit)]  # kept sentences are some of `units`
        lo = hi = [v.key for v in same].index(u.key)
        size = len(u.text)
        grew = True
        while grew:
            grew = False
            for k in (hi + 1, lo - 1):
                # Growing forward stops before a new article, backward at the article's start.
                if not 0 <= k < len(same) or _article(same[k] if k > hi else same[lo]):
                    continue
                v = same[k]
                cost = 0 if v.key in out else len(v.text)
                if size + len(v.text) <= span and cost <= room:
                    out[v.key] = v
                    room -= cost
                    size += len(v.text)
                    lo, hi = min(lo, k), max(hi, k)
                    grew = True
    return sorted(out.values(), key=lambda u: (u.hit.chunk.document_id, u.doc_start))


def _article(u: Unit) -> bool:
    """The sentence opens a law's article ("第十二条…")."""
    return bool(ARTICLE_RE.match(flat(u.text)))


def _add(chosen: list[Unit], unit: Unit, duplicate: float) -> None:
    if not any(near_duplicate(unit, c, duplicate) for c in chosen):
        chosen.append(unit)


def ends_lead(u: Unit) -> bool:
    """A sentence that opens a list: "征收下列土地的，由国务院批准："."""
    return flat(u.text).endswith(("：", ":"))


def enumeration(unit: Unit, pool: Sequence[Unit]) -> list[Unit]:
    """A list as laws write it: a lead-in ending in "：" and its items ("（一）…；").
    An item brings its lead-in and siblings, a lead-in its items; [] otherwise."""
    same = sorted(
        (u for u in pool if u.hit.chunk.document_id == unit.hit.chunk.document_id),
        key=lambda u: u.doc_start,
    )
    i = next(k for k, u in enumerate(same) if u.key == unit.key)

    def item(k: int) -> bool:
        # Numbered, or after a colon or a semicolon: how Chinese texts run a list on.
        text = flat(same[k].text)
        prev = flat(same[k - 1].text) if k else ""
        return not ARTICLE_RE.match(text) and (numbered(text) or prev.endswith(("：", ":")))

    def adjacent(k: int) -> bool:
        return joined(same[k - 1], same[k]) is not None

    start = i
    while start > 0 and item(start) and adjacent(start):
        start -= 1
    if not ends_lead(same[start]) or (start != i and not item(i)):
        return []
    group, k = [same[start]], start + 1
    while k < len(same) and item(k) and adjacent(k):
        group.append(same[k])
        k += 1
    return group if len(group) > 1 else []


def _bigrams(text: str) -> set[str]:
    t = flat(text)
    return {t[i : i + 2] for i in range(len(t) - 1)}


def near_duplicate(a: Unit, b: Unit, share: float) -> bool:
    """The same sentence, overlapping spans of one document, or nearly the same wording (`share`
    of the shorter one's character bigrams in the other; a long title two sentences quote
    shares about 0.6 and does not make them one)."""
    if a.key == b.key or (
        a.hit.chunk.document_id == b.hit.chunk.document_id
        and a.doc_start < b.doc_end
        and b.doc_start < a.doc_end
    ):
        return True
    x, y = _bigrams(a.text), _bigrams(b.text)
    return bool(x and y) and len(x & y) / min(len(x), len(y)) >= share
