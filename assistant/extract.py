"""The extractive answerer: pick the passages' sentences that answer the question, cite each one.

Pure functions over Hits; no index, no model. The wording of the documents is kept exactly; only
whitespace is collapsed in the answer text (the citation quotes are verbatim spans of the chunks).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .evidence import flat, term_coverage
from .models import Citation, Hit
from .question import ANSWER_TYPES, QuestionInfo, Term

# A sentence ends at a stop mark plus any closing quotes or brackets after it, or at a line end.
SENTENCE_END = re.compile(r"[。！？；!?;]+[”’」』）)\]】]*|\n")
STOPS = tuple("。！？；!?;…")
CLOSERS = "”’」』）)]】"
HEADING_MAX = 40
CONNECTIVE = re.compile(r"^(同时|此外|另外|并且|并|还|然后|随后|最后|其次|再|一方面|另一方面|而|其中|对于?|针对|通过)")
WS = re.compile(r"\s+")

# Selection knobs.
TYPE_BONUS = 0.35
RANK_PRIOR = 0.05
FOCUS_BOOST = 1.5
NUMBER_WEIGHT = 3.0
SATURATION = 1.2
LENGTH_NORM = 0.2
AVERAGE_SENTENCE = 60
LIST_RATIO = 0.7
KEEP_RATIO = 0.5
CONTEXT_SHARE = 0.5
UNSEEN_IDF = 1.5
FULL_MATCH = 0.8
PARTIAL_SHARE = 0.5
DENSE_WEIGHT = 0.3
WIDE_BUDGET = 1.7
STEP_RELEVANCE = 0.1
MAX_ITEMS = {"fact": 3, "compare": 4, "list": 5, "procedure": 6}


@dataclass(frozen=True)
class Unit:
    """One sentence of a retrieved chunk: [start, end) inside chunk.text, and the hit's rank."""

    hit: Hit
    rank: int
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]

    @property
    def doc_start(self) -> int:
        return self.hit.chunk.start + self.start

    @property
    def doc_end(self) -> int:
        return self.hit.chunk.start + self.end

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.hit.chunk.document_id, self.doc_start, self.doc_end)

    @property
    def is_heading(self) -> bool:
        """A title or heading line: short and without a sentence-ending mark."""
        t = self.text.rstrip().rstrip(CLOSERS)
        return len(t) < HEADING_MAX and not t.endswith(STOPS)


@dataclass
class Draft:
    """An answer in the making: its text with [n] markers and the citations behind them."""

    text: str
    citations: list[Citation]
    units: list[Unit]


def split_sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of `text`, surrounding whitespace excluded."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in SENTENCE_END.finditer(text):
        stop = m.start() if m.group() == "\n" else m.end()
        _span(text, pos, stop, spans)
        pos = m.end()
    _span(text, pos, len(text), spans)
    return spans


def _span(text: str, a: int, b: int, spans: list[tuple[int, int]]) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a:
        spans.append((a, b))


def units(hits: Sequence[Hit]) -> list[Unit]:
    """Every sentence of the hits, each once (overlapping chunks share sentences), best hit first."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Unit] = []
    for rank, hit in enumerate(hits):
        for a, b in split_sentences(hit.chunk.text):
            u = Unit(hit, rank, a, b)
            if u.key not in seen:
                seen.add(u.key)
                out.append(u)
    return out


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
        got += NUMBER_WEIGHT if n in text else 0.0
    # Official terms the question's wording maps to count as a bonus, never as a requirement.
    got += sum(weight(info, e) for e in info.expansions if e.text in text)
    return got / total if total else 0.0


def types_found(info: QuestionInfo, text: str) -> set[str]:
    return {k for k in info.answer_types if ANSWER_TYPES[k][1].search(text)}


def score(info: QuestionInfo, unit: Unit, n_hits: int, userdict: Path | None = None, prev: Unit | None = None) -> float:
    """How well one sentence answers: term overlap, the asked kind of figure, the passage's rank, length.

    `prev`, the sentence before it in the same paragraph, lends part of its terms: "目前，用于项目
    建设的90亩土地…" is about the project the sentence before names.
    """
    text = flat(unit.text)
    s = relevance(info, text, userdict)
    context = flat(unit.hit.chunk.heading) + (flat(prev.text) if prev is not None else "")
    if context:
        s += CONTEXT_SHARE * max(0.0, relevance(info, context + text, userdict) - s)
    if info.answer_types:
        s += TYPE_BONUS * len(types_found(info, text)) / len(info.answer_types)
    s /= 1 - LENGTH_NORM + LENGTH_NORM * len(text) / AVERAGE_SENTENCE
    return s + RANK_PRIOR * (1 - unit.rank / max(n_hits, 1))


Similarity = Callable[[Sequence[str]], Sequence[float]]


def dense_bonus(pool: Sequence[Unit], similar: Similarity | None) -> dict[tuple[str, int, int], float]:
    """DENSE_WEIGHT × the sentence's similarity to the question, rescaled to [0, 1] over the pool."""
    if similar is None or not pool:
        return {}
    sims = list(similar([u.text for u in pool]))
    lo, hi = min(sims), max(sims)
    if hi - lo < 1e-6:
        return {}
    return {u.key: DENSE_WEIGHT * (sim - lo) / (hi - lo) for u, sim in zip(pool, sims, strict=True)}


def select(
    info: QuestionInfo,
    hits: Sequence[Hit],
    budget: int,
    userdict: Path | None = None,
    similar: Similarity | None = None,
) -> list[Unit]:
    """The sentences of the answer, in document order.

    The best sentence for the whole question; the best one for each sub-question ("A和B…",
    "X？Y？"); one holding an asked kind of figure the others lack; for a procedure the steps
    that follow; for a list the parallel cases. Every extra sentence must also score at least
    KEEP_RATIO of the best on the whole question, and the answer stays within `budget` characters.
    """
    pool = [u for u in units(hits) if not u.is_heading]
    if not pool:
        return []
    n = len(hits)
    before = previous_sentences(pool)
    dense = dense_bonus(pool, similar)
    whole = {u.key: score(info, u, n, userdict, before.get(u.key)) + dense.get(u.key, 0.0) for u in pool}
    ranked = sorted(pool, key=lambda u: (-whole[u.key], u.rank, u.doc_start))
    best = ranked[0]
    eligible = [u for u in ranked if whole[u.key] >= KEEP_RATIO * whole[best.key]]
    chosen = [best]
    for part in info.parts:
        top = max(eligible, key=lambda u: (score(part, u, n, userdict, before.get(u.key)) + dense.get(u.key, 0.0), whole[u.key]))
        _add(chosen, top)
    have = set().union(*(types_found(info, flat(u.text)) for u in chosen))
    for kind in info.answer_types:
        if kind not in have:
            typed = [u for u in eligible if kind in types_found(info, flat(u.text))]
            if typed:
                _add(chosen, typed[0])
                have |= types_found(info, flat(typed[0].text))
    if info.shape == "procedure":
        for u in _steps(best, pool, info, userdict):
            _add(chosen, u)
    if info.shape == "list":
        for u in eligible:
            if whole[u.key] >= LIST_RATIO * whole[best.key] and _has_case(u):
                _add(chosen, u)
    for u in list(chosen):
        for v in _paired(u, pool):
            _add(chosen, v)
    limit = budget if info.shape == "fact" else int(budget * WIDE_BUDGET)
    kept: list[Unit] = []
    for u in chosen[: MAX_ITEMS[info.shape]]:
        if not kept or _length(kept) + len(u.text) <= limit:
            kept.append(u)
    return sorted(kept, key=lambda u: (u.hit.chunk.document_id, u.doc_start))


def previous_sentences(pool: Sequence[Unit]) -> dict[tuple[str, int, int], Unit]:
    """For each sentence, the one right before it in the same paragraph (when a retrieved chunk holds both)."""
    out: dict[tuple[str, int, int], Unit] = {}
    ordered = sorted(pool, key=lambda u: (u.hit.chunk.document_id, u.doc_start))
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.hit.chunk.document_id != b.hit.chunk.document_id:
            continue
        for c in {a.hit.chunk.id: a.hit.chunk, b.hit.chunk.id: b.hit.chunk}.values():
            if c.start <= a.doc_start and b.doc_end <= c.end:
                gap = c.text[a.doc_end - c.start : b.doc_start - c.start]
                if "\n" not in gap and len(gap) <= 2:
                    out[b.key] = a
                break
    return out


def _add(chosen: list[Unit], unit: Unit) -> None:
    if not any(_near_duplicate(unit, c) for c in chosen):
        chosen.append(unit)


def _paired(unit: Unit, pool: Sequence[Unit]) -> list[Unit]:
    """The other half of a paired construction: 一方面…；另一方面…"""
    same = sorted((u for u in pool if u.hit.chunk.document_id == unit.hit.chunk.document_id), key=lambda u: u.doc_start)
    i = next(k for k, u in enumerate(same) if u.key == unit.key)
    text = flat(unit.text)
    out = []
    if "一方面" in text and not text.startswith("另一方面") and i + 1 < len(same) and flat(same[i + 1].text).startswith("另一方面"):
        out.append(same[i + 1])
    if text.startswith("另一方面") and i > 0 and "一方面" in flat(same[i - 1].text):
        out.append(same[i - 1])
    return out


def _steps(best: Unit, pool: list[Unit], info: QuestionInfo, userdict: Path | None) -> list[Unit]:
    """A procedure: the run of sentences of the best one's paragraph around it that stay on the subject."""
    before = previous_sentences(pool)
    after = {p.key: u for u in pool if (p := before.get(u.key)) is not None}

    def on_subject(u: Unit) -> bool:
        t = flat(u.text)
        return bool(CONNECTIVE.match(t)) or relevance(info, t, userdict) > STEP_RELEVANCE

    out: list[Unit] = []
    u = before.get(best.key)
    while u is not None and on_subject(u) and len(out) < MAX_ITEMS["procedure"]:
        out.append(u)
        u = before.get(u.key)
    u = after.get(best.key)
    while u is not None and on_subject(u) and len(out) < 2 * MAX_ITEMS["procedure"]:
        out.append(u)
        u = after.get(u.key)
    return out


def _has_case(unit: Unit) -> bool:
    """A sentence that names a case: a figure or a quoted or named project."""
    return bool(re.search(r"\d|“[^”]+”|项目|工程|公司|集团", unit.text))


def _length(chosen: Sequence[Unit]) -> int:
    return sum(len(u.text) for u in chosen)


def _bigrams(text: str) -> set[str]:
    t = flat(text)
    return {t[i : i + 2] for i in range(len(t) - 1)}


def _near_duplicate(a: Unit, b: Unit, threshold: float = 0.6) -> bool:
    if a.key == b.key or (a.hit.chunk.document_id == b.hit.chunk.document_id and a.doc_start < b.doc_end and b.doc_start < a.doc_end):
        return True
    x, y = _bigrams(a.text), _bigrams(b.text)
    return bool(x and y) and len(x & y) / min(len(x), len(y)) >= threshold


def cite(unit: Unit, number: int) -> Citation:
    """A citation whose quote is exactly the sentence's span of its chunk."""
    c = unit.hit.chunk
    return Citation(
        number=number,
        quote=unit.text,
        document_id=c.document_id,
        title=c.document_title,
        heading_path=list(c.heading_path),
        page=c.pages[0] if c.pages else None,
        start=unit.doc_start,
        end=unit.doc_end,
        chunk_id=c.id,
    )


def compose(chosen: Sequence[Unit], shape: str) -> Draft:
    """Answer text with a [n] marker after every sentence; a list puts one case per line.

    Sentences that follow each other in one paragraph share one citation, whose quote is the
    whole contiguous span (what a viewer highlights).
    """
    groups: list[tuple[Unit, list[Unit]]] = []
    for u in chosen:
        joined = _joined(groups[-1][0], u) if groups else None
        if joined is not None:
            groups[-1] = (joined, [*groups[-1][1], u])
        else:
            groups.append((u, [u]))
    citations: list[Citation] = []
    spans: list[Unit] = []
    lines: list[str] = []
    for span, group in groups:
        n = len(citations) + 1
        citations.append(cite(span, n))
        spans.append(span)
        lines.append("".join(f"{_display(u.text)}[{n}]" for u in group))
    if shape == "list" and len(lines) > 1:
        text = "\n".join(f"- {line}" for line in lines)
    else:
        text = "".join(lines)
    return Draft(text, citations, spans)


def _joined(a: Unit, b: Unit) -> Unit | None:
    """a and b as one span when b follows a in the same paragraph of a chunk that holds both."""
    if a.hit.chunk.document_id != b.hit.chunk.document_id or b.doc_start < a.doc_end:
        return None
    for hit in (a.hit, b.hit):
        c = hit.chunk
        if c.start <= a.doc_start and b.doc_end <= c.end:
            gap = c.text[a.doc_end - c.start : b.doc_start - c.start]
            if "\n" in gap or len(gap) > 2:
                return None
            return Unit(hit, min(a.rank, b.rank), a.doc_start - c.start, b.doc_end - c.start)
    return None


def _display(text: str) -> str:
    """A sentence for the answer text: line breaks and stray spaces between Chinese characters removed."""
    return WS.sub("", text) if _cjk_only(text) else WS.sub(" ", text)


def _cjk_only(text: str) -> bool:
    return not re.search(r"[A-Za-z0-9]\s+[A-Za-z0-9]", text)


def extractive(
    info: QuestionInfo, hits: Sequence[Hit], budget: int, userdict: Path | None = None, similar: Similarity | None = None
) -> Draft:
    """The extractive answer: selected sentences, in document order, each cited."""
    return compose(select(info, hits, budget, userdict, similar), info.shape)
