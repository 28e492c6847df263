"""Answer a question: resolve, read, retrieve, weigh the sentences, decide, compose, verify.

`answer()` is the whole flow; `read()` is everything up to the decision, shared with the tune
command so that what is fitted is exactly what runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from assistant.answer.cite import ground, verify
from assistant.answer.decide import Verdict, decide, has_content
from assistant.answer.evidence import Gap, Vocabulary
from assistant.answer.features import Candidate, candidates, for_part, gap_list, question_features
from assistant.answer.followup import (
    ENTITY,
    LEANS_AT,
    Resolved,
    lean_features,
    needs_context,
    resolve_with,
)
from assistant.answer.generate import ABSTAIN_REPLY, Generator, answer_messages, rewriter
from assistant.answer.model import AnswerModel, Logistic
from assistant.answer.provenance import annotate
from assistant.answer.select import select
from assistant.answer.sentences import Draft, compose
from assistant.errors import GenerationError
from assistant.models import Answer, Hit
from assistant.retrieve.retriever import Filters, Retriever
from assistant.settings import Settings
from assistant.text.analyzer import Analyzer
from assistant.text.places import Jurisdictions
from assistant.text.question import QuestionInfo, analyse, with_context

CLARIFY_REPLY = "请用一句话说明您想了解的事情，例如：“二手房还有贷款能过户吗？”"
HEDGE_LEAD = "现有文件没有直接回答这个问题，最相关的内容是："
# Replies of an LLM that mean "the passages do not say".
LLM_DECLINES = (
    "没有找到",
    "未找到",
    "未涉及",
    "没有涉及",
    "未提及",
    "没有提及",
    "无法回答",
    "不包含",
)
# A word in fewer than this share of passages names a topic of its own.
TOPIC_SHARE = 0.01
CONTEXT_WEIGHT = 0.3  # a follow-up's borrowed terms count less than its own words
WIDE_SHAPES = ("list", "compare", "procedure")


@dataclass
class Reading:
    """A question read against the index: what it asks, its passages and their sentences."""

    turn: Resolved
    info: QuestionInfo
    hits: list[Hit]
    pool: list[Candidate]
    gaps: list[Gap]
    analyzer: Analyzer | None = None
    tokens: dict[str, float] = field(default_factory=dict)
    jurisdictions: Jurisdictions | None = None


def answer(
    question: str,
    history: Sequence[str] = (),
    answers: Sequence[str] = (),
    *,
    retriever: Retriever,
    model: AnswerModel,
    vocabulary: Vocabulary | None = None,
    generator: Generator | None = None,
    jurisdictions: Jurisdictions | None = None,
    settings: Settings,
    filters: Filters | None = None,
) -> Answer:
    """A cited answer, a hedged one, or a polite abstention, with the reasons for the outcome."""
    clock = Clock()
    dense = retriever.embedder is not None
    model = model.for_search(dense)
    reading = read(
        question, history, answers, retriever, vocabulary, settings, clock, generator,
        jurisdictions, filters, model.followup_for(dense),
    )  # fmt: skip
    with clock("answer"):
        result = respond(reading, model, settings, history, generator)
    result.timings = clock.done()
    return result


def respond(
    reading: Reading,
    model: AnswerModel,
    settings: Settings,
    history: Sequence[str] = (),
    generator: Generator | None = None,
) -> Answer:
    """Weigh the sentences, decide the outcome, compose and verify: everything after retrieval."""
    probs = model.sentence_probabilities([c.features for c in reading.pool])
    verdict = judge(reading, probs, model)
    draft, mode = None, "extractive"
    if not verdict.abstained:
        draft, mode = write(reading, probs, model, history, generator, settings)
        draft = verify(draft) if draft is not None else None
    if draft is None or not draft.citations:
        result = abstention(reading, verdict, {}, mode)
    else:
        result = Answer(
            draft.text, draft.citations, False, round(verdict.probability, 4), {}, [],
            reading.turn.query, mode, verdict.hedged, verdict.reasons(),
        )  # fmt: skip
    where = reading.jurisdictions
    facts = where.facts if where is not None else {}
    hedge = HEDGE_LEAD if verdict.hedged else ""
    return annotate(result, reading.turn.question, reading.info.places, where, facts, hedge)


def read(
    question: str,
    history: Sequence[str],
    answers: Sequence[str],
    retriever: Retriever,
    vocabulary: Vocabulary | None,
    settings: Settings,
    clock: Clock | None = None,
    generator: Generator | None = None,
    jurisdictions: Jurisdictions | None = None,
    filters: Filters | None = None,
    followup: Logistic | None = None,
) -> Reading:
    """Resolve a follow-up only when the question leans on the history (`followup`: the fitted
    decision), analyse, retrieve, featurise."""
    clock = clock or Clock()
    with clock("resolve"):
        analyzer = retriever.analyzer
        domain = analyzer.domain
        idf, size = retriever.rarity()
        own = analyse(question, analyzer, analyzer.synonyms, idf, domain)
        topic = has_topic(own, size)
        leans = leans_on(question, history, own, topic, retriever, followup) if history else False
        turn = resolve_with(rewriter(generator), question, history, answers, topic, leans)
        info = own
        for age, text in enumerate(reversed(turn.context)):
            borrowed = analyse(text, analyzer, analyzer.synonyms, idf, domain)
            info = with_context(info, borrowed, CONTEXT_WEIGHT if age == 0 else CONTEXT_WEIGHT / 2)
    with clock("retrieve"):
        wide = 3 if info.shape in WIDE_SHAPES or info.parts else 0
        query = retriever.prepare(turn.query)
        hits = retriever.search_query(query, settings.top_k + wide, filters or Filters())
        # The history finds the passages; the question's own words pick the sentence in them
        # ("那它什么时候投产？" asks for the date, not for the project named earlier).
        asked = query if turn.query == turn.question else retriever.prepare(turn.question)
        retriever.score_sentences(asked, hits)
    with clock("features"):
        # A token no passage holds ("笔带", a bigram across two words) cannot tell sentences apart.
        unseen = idf("\x00")
        tokens = {
            t: w for t in dict.fromkeys(query.tokens) if len(t) >= 2 and (w := idf(t)) < unseen
        }
        foreign = {
            h.chunk.document_id: jurisdictions.foreign(h.chunk.document_id, info.places)
            for h in hits
            if jurisdictions is not None
        }
        pool = candidates(info, hits, analyzer, tokens, foreign) if has_content(own) else []
        where = jurisdictions.by_document if jurisdictions is not None else None
        found = gap_list(info, hits, analyzer, vocabulary, where)
    return Reading(turn, info, hits, pool, found, analyzer, tokens, jurisdictions)


def leans_on(
    question: str,
    history: Sequence[str],
    info: QuestionInfo,
    topic: bool,
    retriever: Retriever,
    model: Logistic | None,
) -> bool:
    """Whether the question leans on the previous one: the follow-up model's probability, or the
    rule (a pronoun, an elliptical opening, a short question without a topic) without a model."""
    if model is None:
        return needs_context(question, topic)
    return model.probability(lean_values(question, history[-1], info, topic, retriever)) >= LEANS_AT


def lean_values(
    question: str, previous: str, info: QuestionInfo, topic: bool, retriever: Retriever
) -> dict[str, float]:
    """The follow-up model's features of a question after `previous` (`info`: its own analysis)."""
    similarity = None
    if retriever.embedder is not None:
        a, b = retriever.embedder.embed([question, previous], query=True)
        similarity = float(a @ b)  # an Embedder's vectors are L2-normalised: this is the cosine
    terms = [t.text for t in info.terms if t.weight >= 1.0]
    return lean_features(question, previous, topic, terms, similarity)


def has_topic(info: QuestionInfo, size: int) -> bool:
    """The question names a subject of its own: a place, a name, a term of the field, or a word
    that few passages use (not only 处罚, 投产, 多少钱, which lean on an earlier turn).
    """
    if info.places or info.domain_terms or ENTITY.search(info.text):
        return True
    rare = math.log(1 + (size - TOPIC_SHARE * size + 0.5) / (TOPIC_SHARE * size + 0.5))
    return any(
        t.weight >= 1.0 and len(t.text) >= 2 and rare <= info.idf.get(t.text, 0.0) < info.max_idf
        for t in info.terms
    )


def judge(reading: Reading, probs: Sequence[float], model: AnswerModel) -> Verdict:
    """The fitted decision for a reading."""
    return decide(reading.info, model, features_of(reading, probs), reading.gaps)


def features_of(reading: Reading, probs: Sequence[float]) -> dict[str, float]:
    """The question features of a reading, given its sentences' probabilities."""
    return question_features(
        reading.info,
        reading.hits,
        reading.pool,
        probs,
        reading.gaps,
        reading.analyzer,
        bool(reading.turn.context),
    )


def write(
    reading: Reading,
    probs: Sequence[float],
    model: AnswerModel,
    history: Sequence[str],
    generator: Generator | None,
    settings: Settings,
) -> tuple[Draft | None, str]:
    """The LLM's grounded answer when one is configured and works, else the extractive one.

    (None, "llm") when the LLM says the passages do not cover the question.
    """
    if generator is not None:
        try:
            reply = generator.generate(
                answer_messages(reading.turn.question, reading.hits, history)
            )
            declined = any(w in reply for w in LLM_DECLINES) and "[" not in reply
            if ABSTAIN_REPLY[:8] in reply or declined:
                return None, "llm"
            draft = ground(reply, reading.hits)
            if draft.citations:
                return draft, "llm"
        except GenerationError:
            pass
    return extract(reading, probs, model, settings), "extractive"


def extract(
    reading: Reading, probs: Sequence[float], model: AnswerModel, settings: Settings
) -> Draft:
    """The extractive answer: the selected sentences, in document order, each cited."""
    info, pool = reading.info, reading.pool
    budget = settings.answer_chars * (2 if info.shape in WIDE_SHAPES or info.parts else 1)

    def part_probabilities(part: QuestionInfo) -> list[float]:
        rows = for_part(part, pool, reading.hits, reading.analyzer, reading.tokens)
        return model.sentence_probabilities([c.features for c in rows])

    chosen = select(info, pool, probs, model.thresholds, budget, part_probabilities)
    return compose(chosen, info.shape)


def abstention(reading: Reading, verdict: Verdict, timings: dict[str, float], mode: str) -> Answer:
    """The polite reply; the nearest passages go along only as related material."""
    clarify = verdict.outcome == "clarify"
    return Answer(
        CLARIFY_REPLY if clarify else ABSTAIN_REPLY, [], True, round(verdict.probability, 4),
        timings, [] if clarify else list(reading.hits[:3]), reading.turn.query, mode, False,
        verdict.reasons(),
    )  # fmt: skip


class Clock:
    """Milliseconds per stage, plus the total."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = round((time.perf_counter() - t) * 1000, 2)

    def done(self) -> dict[str, float]:
        return {**self.timings, "total": round((time.perf_counter() - self.started) * 1000, 2)}
