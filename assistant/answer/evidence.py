"""What the passages hold of the question: term coverage and the gaps it leaves (pure functions).

* support: the weighted share of the question's content terms found in the best passages
  (exactly, through the synonym table, or partly through a shared sub-word);
* gaps: a figure or year of the question that no best passage contains ("2020年" against a
  passage about this year), a place name missing from them ("杭州" against a passage about 平湖),
  a term of the field (user dictionary, official terms) missing from them, a compound whose head
  matches but whose modifier does not ("商业用地" against "产业用地"), an asked kind of figure the
  passages do not hold (a price, a duration, a place to go …), a rate they never give ("每亩"),
  a common noun the whole index never uses, down to a character ("公租房"), and an instance of a
  series the passages name only other members of ("二期" against 一期, "2A级" against 3A–5A级,
  "去年" against 今年).

These are features of the fitted abstention model (assistant/answer/); how much each counts is
fitted by `policy-assistant tune`, not set here.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from assistant.models import Hit
from assistant.text.analyzer import Analyzer
from assistant.text.question import QuestionInfo, Term
from assistant.text.tokenize import has_figure, normalise, spelled
from assistant.text.wording import ANSWER_TYPES
from assistant.text.zh import CN_NUM, ORDINAL_NUM, cn_number

WS = re.compile(r"\s+")
PERCENT = re.compile(r"\d[\d.]*[%％]")
# A character after a place name that makes it a different, smaller place (杭州湾, 平湖路).
PLACE_EXTENDERS = set("湾港岛山湖江河路街桥塘浦")
# A member of a numbered series: a phase (二期), a batch (第三批), a grade (2A级), a round, a term
# (ordinal numerals, as wording.PHASE: 两级 is a count, not a grade).
INSTANCE = re.compile(rf"(?<![{CN_NUM}\d.])([{ORDINAL_NUM}]+|\d+)([a-z]?)(期|批|级|轮|届)")
# Years named relative to now: a passage about 今年 says nothing of 去年.
RELATIVE_YEARS = ("前年", "去年", "今年", "明年")


@dataclass(frozen=True)
class Gap:
    kind: str
    detail: str


def flat(text: str) -> str:
    """Normalised text without whitespace, for substring tests."""
    return WS.sub("", normalise(text))


def term_coverage(term: Term, text: str, analyzer: Analyzer | None = None) -> float:
    """1 if the term is in `text` (flattened), 0.8 through a synonym, a part for a shared sub-word, else 0."""
    if term.text in text:
        return 1.0
    if any(alt in text for alt in term.alternatives):
        return 0.8
    if (
        len(term.text) >= 3
        and term.text.endswith("率")
        and term.text[:-1] in text
        and PERCENT.search(text)
    ):
        return 0.8  # a rate (完成率) given as its stem and a percentage (已完成…72.87%)
    subs = [s for s in (analyzer.subwords(term.text) if analyzer is not None else ()) if s in text]
    if subs:
        return 0.5 * max(len(s) for s in subs) / len(term.text)
    if len(term.text) >= 2 and all(ch in text for ch in term.text):
        return 0.3
    return 0.0


def covered(info: QuestionInfo, term: Term, text: str, analyzer: Analyzer | None = None) -> float:
    """Coverage of one question term; a word that asks for a kind of figure (钱, 多长) is covered by one."""
    kind = info.type_words.get(term.text)
    if kind is not None and ANSWER_TYPES[kind][1].search(text):
        return 1.0
    return term_coverage(term, text, analyzer)


def support(info: QuestionInfo, text: str, analyzer: Analyzer | None = None) -> float:
    """Weighted share of the question's content terms that `text` covers (1.0 when there are none)."""
    total = sum(t.weight for t in info.terms)
    if total <= 0:
        return 1.0
    return sum(t.weight * covered(info, t, text, analyzer) for t in info.terms) / total


def has_place(place: str, text: str) -> bool:
    """`place` occurs in `text` as that place (平湖市 counts for 平湖; 杭州湾 does not count for 杭州)."""
    return any(
        m.end() >= len(text) or text[m.end()] not in PLACE_EXTENDERS
        for m in re.finditer(re.escape(place), text)
    )


@dataclass(frozen=True)
class Vocabulary:
    """The characters the whole index uses: to tell a word the documents can never contain."""

    chars: frozenset[str]

    @classmethod
    def of(cls, texts: Iterable[str]) -> Vocabulary:
        return cls(frozenset(spelled(texts)))

    def novel(self, term: Term) -> bool:
        """A common noun with a character no document uses (公租房, 宅基地), not mapped by a synonym."""
        return (
            term.tag == "n"
            and len(term.text) >= 2
            and not term.alternatives
            and any(ch not in self.chars for ch in term.text)
        )


def gaps(
    info: QuestionInfo,
    text: str,
    analyzer: Analyzer | None = None,
    vocabulary: Vocabulary | None = None,
    own: Collection[str] = (),
) -> list[Gap]:
    """What the question pins down that `text` (the best passages, flattened) does not hold
    (`own`: the places whose own rules the passages are, which say "我市", not their name)."""
    out: list[Gap] = []
    for number in info.numbers:
        if not has_figure(_number(number), text):
            out.append(Gap("figure", number))
    by_text = {t.text: t for t in info.terms}
    for place in info.places:
        if not has_place(place, text) and not any(has_place(place, p) for p in own):
            out.append(Gap("place", place))
    for word in info.domain_terms:
        term = by_text.get(word)
        if (
            term is not None
            and word not in info.places
            and term_coverage(term, text, analyzer) < 0.8
        ):
            out.append(Gap("term", word))
    for modifier, head in info.compounds:
        mod = by_text.get(modifier)
        head_term = by_text.get(head)
        # When the synonym table already tied the wording to an official term the passages hold
        # (贷款还没还完 → 带押过户), the everyday modifier is phrasing, not a different scope.
        mapped = [
            *(mod.alternatives if mod else ()),
            *(head_term.alternatives if head_term else ()),
        ]
        if any(alt in text for alt in mapped):
            continue
        if (
            modifier + head not in text
            and head in text
            and mod is not None
            and term_coverage(mod, text, analyzer) < 0.5
            and modifier not in info.places
        ):
            out.append(Gap("scope", modifier + head))
    if vocabulary is not None:
        flagged = {g.detail for g in out}
        # Only the question's own words: a follow-up's borrowed context weighs less than 1.
        out.extend(
            Gap("novel", t.text)
            for t in info.terms
            if t.weight >= 1.0 and t.text not in flagged and vocabulary.novel(t)
        )
    for kind in info.answer_types:
        if not ANSWER_TYPES[kind][1].search(text):
            out.append(Gap("type", kind))
    if info.per_unit and not re.search(f"每{info.per_unit}|/{info.per_unit}", text):
        out.append(Gap("unit", "每" + info.per_unit))
    out.extend(Gap("instance", i) for i in other_instances(normalise(info.text), text))
    return out


def instances(text: str) -> set[tuple[int | None, str, str]]:
    """The members of numbered series in `text`: (number, letter, series word), 二期 → (2, "", "期")."""
    return {
        (int(m[1]) if m[1].isdigit() else cn_number(m[1]), m[2], m[3])
        for m in INSTANCE.finditer(text)
    }


def other_instances(question: str, text: str) -> list[str]:
    """The series members the question names that `text` lacks while naming others of the series
    (the passages are about a different phase, grade or year than the one asked about)."""
    held = instances(text)
    out = [
        f"{n}{letter}{word}"
        for n, letter, word in instances(question)
        if n is not None
        and (n, letter, word) not in held
        and any(w == word and x is not None and x != n for x, _, w in held)
    ]
    asked = [y for y in RELATIVE_YEARS if y in question]
    if asked and not any(y in text for y in asked) and any(y in text for y in RELATIVE_YEARS):
        out.extend(asked)
    return out


def _number(token: str) -> str:
    return token.replace(",", "")


def context_text(hits: Sequence[Hit], n: int = 3) -> str:
    """The best passages with their document title and heading path, flattened."""
    parts: list[str] = []
    for h in hits[:n]:
        c = h.chunk
        parts.extend([c.document_title, *c.heading_path, c.text])
    return flat("\n".join(parts))
