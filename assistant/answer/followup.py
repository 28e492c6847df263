"""Turn a follow-up question into a stand-alone query using the earlier turns (stateless).

The history comes with each request: earlier user questions and, when the client has them, the
assistant's earlier replies. A question that leans on them (这个项目, 那, 它, 还有呢, a bare
"那竣工率呢？") borrows the previous question and the names of the previous answer (projects,
companies, quoted terms) before retrieval. Whether it leans is the fitted follow-up model's call
over LEAN_FEATURES (`needs_context`, the rule, without one); `resolve_with` lets an LLM rewrite it
instead, with the rule-based resolution as the fallback.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# Words that lean on an earlier turn: pronouns, demonstratives and elliptical openings.
ANAPHORA = re.compile(
    r"(这个|那个|这些|那些|这项|这批|那批|该|此|它|其|他们|它们|上述|前面|刚才|还有呢|还有吗|别的|那么"
    r"|^那|^还有|^另外|^再|^都|^也|^又|呢[？?]?$)"
)
SHORT_QUESTION = 14
# Quoted names, names with a project/company suffix carry the reference forward.
ENTITY = re.compile(
    r"“[^”]{2,20}”|[\u4e00-\u9fffA-Za-z0-9]{2,16}(?:项目|工厂|集团|公司|中心|园|港|镇|街道|政策|业务|方案|工程|公园)"
)
MAX_ENTITIES = 4
# What the follow-up model weighs (assistant/data/answer_model.json, fitted by `tune` on the tune
# split's follow-ups against its questions given another document's question as the history).
LEAN_FEATURES = (
    "anaphora",  # a pronoun or elliptical opening (ANAPHORA)
    "short",  # at most SHORT_QUESTION characters
    "has_topic",  # names a subject of its own (a place, a name, a term of the field, a rare word)
    "similarity",  # dense similarity of the question and the previous one (absent: no embedder)
    "shared",  # share of the question's own terms that the previous question uses
    "log_length",  # log of the question's length
)
LEANS_AT = 0.5  # the model's probability: more likely a follow-up than not


@dataclass
class Resolved:
    """A question and what it borrows from the earlier turns (empty for a stand-alone question)."""

    question: str
    context: list[str] = field(default_factory=list)
    rewritten: bool = False

    @property
    def query(self) -> str:
        """What retrieval searches for: a rewritten question alone, else the question plus its context."""
        return self.question if self.rewritten else " ".join([self.question, *self.context])


def needs_context(question: str, has_topic: bool = False) -> bool:
    """A pronoun or elliptical opening, or a short question without a subject of its own."""
    q = question.strip()
    return bool(ANAPHORA.search(q)) or (len(q) <= SHORT_QUESTION and not has_topic)


def lean_features(
    question: str,
    previous: str,
    has_topic: bool,
    terms: Sequence[str],
    similarity: float | None = None,
) -> dict[str, float]:
    """The LEAN_FEATURES of a question given the previous one (`terms`: its own content terms)."""
    q = question.strip()
    values = {
        "anaphora": float(bool(ANAPHORA.search(q))),
        "short": float(len(q) <= SHORT_QUESTION),
        "has_topic": float(has_topic),
        "shared": sum(t in previous for t in terms) / len(terms) if terms else 0.0,
        "log_length": math.log(max(len(q), 1)),
    }
    if similarity is not None:
        values["similarity"] = similarity
    return values


def entities(text: str, limit: int = MAX_ENTITIES) -> list[str]:
    """Names in an earlier reply worth carrying forward, first mentioned first."""
    return list(dict.fromkeys(m.strip("“”") for m in ENTITY.findall(text)))[:limit]


def resolve_turn(
    question: str,
    history: Sequence[str],
    answers: Sequence[str] = (),
    has_topic: bool = False,
    leans: bool | None = None,
) -> Resolved:
    """The question and the context it leans on, from the latest turns (`leans`: the follow-up
    model's decision; the rule decides without it)."""
    if leans is None:
        leans = needs_context(question, has_topic)
    if not history or not leans:
        return Resolved(question)
    context = [history[-1]]
    if len(history) > 1 and len(history[-1]) <= SHORT_QUESTION:
        context.insert(0, history[-2])
    if answers:
        context.extend(e for e in entities(answers[-1]) if e not in " ".join(context))
    return Resolved(question, context)


def resolve(question: str, history: Sequence[str], answers: Sequence[str] = ()) -> str:
    """The question plus what it refers to from the latest turns, or the question unchanged."""
    return resolve_turn(question, history, answers).query


def resolve_with(
    rewrite: Callable[[str, Sequence[str], Sequence[str]], str] | None,
    question: str,
    history: Sequence[str],
    answers: Sequence[str] = (),
    has_topic: bool = False,
    leans: bool | None = None,
) -> Resolved:
    """Rule-based resolution, or `rewrite` (an LLM) when given; a failed or odd rewrite falls back."""
    rule = resolve_turn(question, history, answers, has_topic, leans)
    if rewrite is None or not rule.context:
        return rule
    try:
        text = rewrite(question, history, answers).strip()
    except Exception:  # any failure of the optional LLM falls back to the rules
        return rule
    if not text or len(text) > 3 * len(rule.query) + 40:
        return rule
    # The rewrite becomes the query; the rule context stays as lower-weight evidence context.
    return Resolved(text, rule.context, rewritten=True)
