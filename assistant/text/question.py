"""What a question asks: its content terms, the figures and names it pins down, the kind of answer.

Everything here is a pure function of the question text (plus the jieba dictionary and the
synonym table), so answer selection and abstention can be unit-tested without an index.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.text.tokenize import NUMBER_RE, STOPWORDS, SynonymTable, normalise
from assistant.text.wording import (
    ANSWER_TYPES,
    AREA_KINDS,
    ASKS,
    ASKS_QUANTITY,
    CLAUSE,
    COMPARE_RE,
    CONJUNCTION,
    DIGIT,
    ENUMERATION_RE,
    EXPANSION_TAG,
    EXPANSION_WEIGHT,
    FRAME_WORDS,
    FUNCTION_EXACT,
    FUNCTION_TAGS,
    GENERIC_PHRASES,
    LIST_RE,
    NOMINAL_WH,
    PART_CONTEXT,
    PART_SHARED,
    PER_UNIT,
    PHASE,
    PROCEDURE_RE,
    PURE,
    QUESTION_WORD,
    SAME,
    SEVERAL_RE,
    UNIT_NAMES,
)

if TYPE_CHECKING:
    from assistant.text.analyzer import Analyzer


@dataclass(frozen=True)
class Term:
    """A content word of the question: its text, how much it matters, and what else may stand for it."""

    text: str
    weight: float = 1.0
    tag: str = ""
    alternatives: tuple[str, ...] = ()


@dataclass
class QuestionInfo:
    """The parts of a question that answer selection and abstention look at."""

    text: str
    terms: list[Term] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    focus: list[str] = field(default_factory=list)
    compounds: list[tuple[str, str]] = field(default_factory=list)
    answer_types: list[str] = field(default_factory=list)
    per_unit: str = ""
    shape: str = "fact"
    domain_terms: list[str] = field(default_factory=list)
    type_words: dict[str, str] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    max_idf: float = float("inf")  # the idf of a word the index never saw
    # Official terms the synonym table maps the question's wording to (sentence scoring only).
    expansions: list[Term] = field(default_factory=list)
    # Sub-questions ("A和B，哪个…", "X？Y？"): each weighs its own terms fully, the others less.
    parts: list[QuestionInfo] = field(default_factory=list)
    # The question asks for several things by name (哪些, 什么): an enumeration answers it.
    enumeration: bool = False
    # A part naming one of the things compared ("A和B，哪个…"): it needs a sentence of its own.
    entity: bool = False

    @property
    def term_texts(self) -> list[str]:
        return [t.text for t in self.terms]


def pos_cut(text: str, analyzer: Analyzer) -> list[tuple[str, str]]:
    """(word, part-of-speech tag) pairs, numbers with their unit kept as one word."""
    text = normalise(text)
    out: list[tuple[str, str]] = []
    pos = 0
    tok = analyzer.pos
    for m in NUMBER_RE.finditer(text):
        out.extend((p.word, p.flag) for p in tok.cut(text[pos : m.start()]))
        out.append((m.group(), "m"))
        pos = m.end()
    out.extend((p.word, p.flag) for p in tok.cut(text[pos:]))
    return [(w.strip(), f) for w, f in out if w.strip()]


def is_content(word: str, tag: str) -> bool:
    if not PURE.match(word) or word in STOPWORDS or word in FRAME_WORDS:
        return False
    if DIGIT.search(word) or PHASE.match(word):
        return True
    if tag.startswith("f"):  # 方位词: 前期 and 后期 say something, 上 and 里 do not
        return len(word) > 1
    return not tag.startswith(FUNCTION_TAGS) and tag not in FUNCTION_EXACT and tag != "m"


def analyse(
    question: str,
    analyzer: Analyzer,
    synonyms: SynonymTable | None = None,
    idf: Callable[[str], float] | None = None,
    domain: Iterable[str] = (),
) -> QuestionInfo:
    """Split a question into what it is about (terms), what it pins down and what kind of answer it wants.

    `idf` (a term's rarity in the index) is recorded for sentence scoring; term weights stay plain
    so that evidence coverage does not depend on the corpus size.
    """
    q = normalise(question)
    # In a comparison, names joined by 和/与 are cut apart first ("…面积和平湖…" is not "和平").
    pieces = [p for p in CONJUNCTION.split(q)] if COMPARE_RE.search(q) else [q]
    words = [w for piece in pieces for w in pos_cut(piece, analyzer)]
    matched = _synonym_phrases(q, synonyms)
    domain_set = set(domain)
    info = QuestionInfo(text=question)
    seen: set[str] = set()
    for i, (word, tag) in enumerate(words):
        if not is_content(word, tag) or word in seen:
            continue
        seen.add(word)
        if DIGIT.search(word):
            info.numbers.append(word)
            continue
        weight = 0.5 if len(word) == 1 else 1.0
        if idf is not None:
            info.idf[word] = idf(word)
            info.max_idf = idf("\x00")
        alts = tuple(dict.fromkeys(t for phrase, terms in matched if word in phrase for t in terms))
        info.terms.append(Term(word, weight, tag, alts))
        if tag == "ns" and len(word) >= 2 and word not in AREA_KINDS:
            info.places.append(word)
        if word in domain_set:
            info.domain_terms.append(word)
        nxt = words[i + 1] if i + 1 < len(words) else None
        if (
            nxt
            and is_content(*nxt)
            and not DIGIT.search(nxt[0])
            and min(len(word), len(nxt[0])) >= 2
            and tag.startswith("n")
            and nxt[1].startswith("n")
        ):
            info.compounds.append((word, nxt[0]))
    info.focus = _focus(words)
    info.shape = shape(q)
    asked = _asked_clauses(q, info.shape == "compare")
    for name, (asks, _) in ANSWER_TYPES.items():
        spans = [
            (m.start(), m.end() + 2)
            for m in asks.finditer(q)
            if name in ALWAYS_ASKED or asked(m.start(), m.end())
        ]
        if spans:
            info.answer_types.append(name)
            for t in info.terms:
                at = q.find(t.text)
                if any(a <= at and at + len(t.text) <= b for a, b in spans):
                    info.type_words.setdefault(t.text, name)
    m = PER_UNIT.search(q)
    info.per_unit = UNIT_NAMES.get(m.group(1), m.group(1)) if m else ""
    info.enumeration = bool(ENUMERATION_RE.search(q))
    own = set(info.term_texts)
    for phrase, expansion in [*matched, *((p, e) for p, e in GENERIC_PHRASES if p in q)]:
        for official in expansion:
            if official not in own and official not in {e.text for e in info.expansions}:
                # The tag records the wording that called the term in (a part owning it weighs it fully).
                info.expansions.append(Term(official, EXPANSION_WEIGHT, EXPANSION_TAG + phrase))
                if idf is not None:
                    info.idf[official] = idf(official)
    info.parts = split_parts(info, q)
    return info


# A phone number or an address is asked for whenever named ("举报电话是12336吗").
ALWAYS_ASKED = ("contact", "venue")


def _asked_clauses(q: str, compare: bool) -> Callable[[int, int], bool]:
    """Whether the wording of a kind of figure at q[start:end] is asked for.

    It is when its own clause asks ("罚款怎么算"), when a later clause asks a quantity without
    naming its own kind ("非法占地的罚款，每平米各是多少"), in a comparison ("…比例，两部法规要求
    一样吗"), or when the question is a bare phrase ("公租房租金标准"). It is not in a yes-or-no
    question ("地价比最低价还低，合同还算数吗") or when another question follows ("在村里占地盖房，
    归哪个部门管"; "收入涨了，要在多长时间内去报" asks a duration, not money).
    """
    if compare or SAME.search(q) or not QUESTION_WORD.search(q):
        return lambda start, end: True
    cuts = [0] + [m.end() for m in CLAUSE.finditer(q)]
    clauses = [q[a:b] for a, b in zip(cuts, [*cuts[1:], len(q)], strict=True)]
    typed = [any(p.search(c) for p, _ in ANSWER_TYPES.values()) for c in clauses]

    def asked(start: int, end: int) -> bool:
        first, last = bisect_right(cuts, start) - 1, bisect_left(cuts, end) - 1
        return any(ASKS.search(clauses[k]) for k in range(first, last + 1)) or any(
            ASKS_QUANTITY.search(clauses[k]) and not typed[k] for k in range(last + 1, len(clauses))
        )

    return asked


def trigger(term: Term) -> str:
    """The question wording that called an expansion term in ("" for an ordinary term)."""
    return term.tag[len(EXPANSION_TAG) :] if term.tag.startswith(EXPANSION_TAG) else "\x00"


def segments(question: str, compare: bool = False) -> list[tuple[str, bool]]:
    """The sub-questions as (text, names one compared thing): clauses holding a question word, and
    in a comparison every clause, cut into the names joined by 和/与/、."""
    clauses = [c for c in CLAUSE.split(question) if c.strip()]
    if not compare:
        asking = [c for c in clauses if QUESTION_WORD.search(c)]
        return [(c, False) for c in asking] if len(asking) > 1 else []
    out: dict[str, bool] = {}
    for c in clauses:
        pieces = [p for p in CONJUNCTION.split(c) if p.strip()]
        for p in pieces:
            out.setdefault(p, len(pieces) > 1)
    return list(out.items())


def split_parts(info: QuestionInfo, q: str) -> list[QuestionInfo]:
    """One QuestionInfo per sub-question.

    In a part, its own terms found in no other part weigh fully, its terms shared with another
    part weigh PART_SHARED, other parts' terms PART_CONTEXT, terms outside every part fully; an
    official term called in by the part's wording ("比去年" → 同比) becomes one of its terms.
    """
    found = []
    for seg, entity in segments(q, info.shape == "compare"):
        # A sub-question asking its own kind of figure is a part even in words too short to be
        # terms ("分了几批放的？", "啥时候能开始生产？").
        if (
            any(t.text in seg for t in info.terms)
            or any(n in seg for n in info.numbers)
            or any(trigger(e) in seg for e in info.expansions)
            or any(ANSWER_TYPES[k][0].search(seg) for k in info.answer_types)
        ):
            found.append((seg, entity))
    if len(found) < 2:
        return []
    segs = [seg for seg, _ in found]
    parts = []
    for seg, entity in found:
        terms = []
        for t in info.terms:
            holders = [o for o in segs if t.text in o]
            if not holders:
                terms.append(t)
            elif seg not in holders:
                terms.append(Term(t.text, t.weight * PART_CONTEXT, t.tag, t.alternatives))
            else:
                terms.append(
                    t
                    if len(holders) == 1
                    else Term(t.text, t.weight * PART_SHARED, t.tag, t.alternatives)
                )
        terms += [
            e
            for e in info.expansions
            if trigger(e) in seg and e.text not in {t.text for t in terms}
        ]
        parts.append(
            QuestionInfo(
                text=seg,
                terms=terms,
                numbers=[n for n in info.numbers if n in seg],
                focus=[f for f in info.focus if f in seg],
                answer_types=[k for k in info.answer_types if ANSWER_TYPES[k][0].search(seg)]
                or list(info.answer_types),
                type_words=dict(info.type_words),
                idf=info.idf,
                max_idf=info.max_idf,
                expansions=[e for e in info.expansions if trigger(e) not in seg],
                shape=info.shape,
                entity=entity,
                enumeration=bool(ENUMERATION_RE.search(seg)),
            )
        )
    return parts


def shape(question: str) -> str:
    """`compare`, `list`, `procedure` or `fact`: how the answer should be put together."""
    if COMPARE_RE.search(question):
        return "compare"
    if LIST_RE.search(question):
        return "list"
    if PROCEDURE_RE.search(question):
        return "procedure"
    if SEVERAL_RE.search(question):
        return "list"
    return "fact"


def _synonym_phrases(q: str, synonyms: SynonymTable | None) -> list[tuple[str, list[str]]]:
    if synonyms is None:
        return []
    return synonyms.matches(q)


def _focus(words: list[tuple[str, str]]) -> list[str]:
    """Nouns right after a question word (什么荣誉, 哪些材料, 多少工人): what the question asks for."""
    out: list[str] = []
    for i, (word, _) in enumerate(words):
        if word not in NOMINAL_WH:
            continue
        after = [
            (w, t) for w, t in words[i + 1 : i + 3] if is_content(w, t) and not DIGIT.search(w)
        ]
        if after and after[0][1].startswith(("n", "vn")) and after[0][0] not in out:
            out.append(after[0][0])
    return out


def with_context(info: QuestionInfo, context: QuestionInfo, weight: float = 0.5) -> QuestionInfo:
    """A follow-up's analysis plus the content terms of the turn it leans on (at a lower weight)."""
    own = set(info.term_texts)
    extra = [
        Term(t.text, t.weight * weight, t.tag, t.alternatives)
        for t in context.terms
        if t.text not in own
    ]
    return QuestionInfo(
        text=info.text,
        terms=[*info.terms, *extra],
        numbers=list(info.numbers),
        places=list(info.places),
        focus=list(info.focus),
        compounds=list(info.compounds),
        # An elliptical follow-up ("那商业用地呢？") asks for what the turn before asked for.
        answer_types=list(info.answer_types or context.answer_types),
        per_unit=info.per_unit,
        shape=info.shape,
        domain_terms=list(info.domain_terms),
        type_words=dict(info.type_words),
        idf={**context.idf, **info.idf},
        max_idf=min(info.max_idf, context.max_idf),
        expansions=[*info.expansions, *(e for e in context.expansions if e.text not in own)],
        parts=[with_context(p, context, weight) for p in info.parts],
        entity=info.entity,
        enumeration=info.enumeration,
    )
