"""Answer a question: resolve the follow-up, retrieve, assess the evidence, abstain or compose, verify.

The whole flow is `answer()` below; each stage is a pure function in its own module:
followup (resolve), evidence (confidence and abstention), extract (extractive answer),
generate (optional LLM), cite (citation checks).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .cite import ground, verify
from .errors import GenerationError
from .evidence import Assessment, Vocabulary, assess
from .extract import extractive
from .followup import Resolved, resolve_with
from .generate import ABSTAIN_REPLY, Generator, answer_messages, rewriter
from .models import Answer, Hit
from .question import QuestionInfo, analyse, domain_vocabulary, with_context
from .retrieve import Filters, Retriever
from .sentences import Draft
from .settings import Settings

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
WIDE_SHAPES = ("list", "compare")
CONTEXT_WEIGHT = 0.3


def answer(
    question: str,
    history: Sequence[str] = (),
    answers: Sequence[str] = (),
    *,
    retriever: Retriever,
    generator: Generator | None = None,
    settings: Settings,
) -> Answer:
    """A cited answer, or a polite abstention when the passages do not cover the question."""
    clock = Clock()
    with clock("resolve"):
        turn = resolve_with(rewriter(generator), question, history, answers)
        info = understand(turn, retriever, settings)
    with clock("retrieve"):
        hits = retriever.search(
            turn.query, settings.top_k + (3 if info.shape in WIDE_SHAPES else 0), Filters()
        )
    with clock("answer"):
        verdict = assess(info, hits, settings.userdict_path, vocabulary(retriever))
        draft, mode = None, "extractive"
        if verdict.confidence >= settings.abstain_threshold:
            draft, mode = compose(turn, info, hits, history, generator, settings)
            draft = verify(draft) if draft is not None else None
    if draft is None or not draft.citations:
        return abstention(hits, verdict, turn, clock.done(), mode)
    return Answer(
        draft.text, draft.citations, False, verdict.confidence, clock.done(), [], turn.query, mode
    )


def understand(turn: Resolved, retriever: Retriever, settings: Settings) -> QuestionInfo:
    """The question's terms, figures and shape; a follow-up adds the terms of the turn it leans on."""
    domain = domain_vocabulary(settings.userdict_path, settings.synonyms_path)
    idf = retriever.index.snapshot.bm25.idf
    info = analyse(turn.question, settings.userdict_path, retriever.synonyms, idf, domain)
    # The latest turn counts more than older ones; all count less than the question's own words.
    for age, text in enumerate(reversed(turn.context)):
        weight = CONTEXT_WEIGHT if age == 0 else CONTEXT_WEIGHT / 2
        info = with_context(
            info, analyse(text, settings.userdict_path, retriever.synonyms, idf, domain), weight
        )
    return info


def compose(
    turn: Resolved,
    info: QuestionInfo,
    hits: Sequence[Hit],
    history: Sequence[str],
    generator: Generator | None,
    settings: Settings,
) -> tuple[Draft | None, str]:
    """The LLM's grounded answer when one is configured and it works, else the extractive one.

    (None, "llm") when the LLM says the passages do not cover the question.
    """
    if generator is not None:
        try:
            reply = generator.generate(answer_messages(turn.question, hits, history))
            if ABSTAIN_REPLY[:8] in reply or (
                any(w in reply for w in LLM_DECLINES) and "[" not in reply
            ):
                return None, "llm"
            draft = ground(reply, hits)
            if draft.citations:
                return draft, "llm"
        except GenerationError:
            pass
    return extractive(info, hits, settings.answer_chars, settings.userdict_path), "extractive"


_VOCABULARY: weakref.WeakKeyDictionary[Any, tuple[str, Vocabulary]] = weakref.WeakKeyDictionary()


def vocabulary(retriever: Retriever) -> Vocabulary:
    """The index's characters, collected again only when the index changes."""
    snap = retriever.index.snapshot
    cached = _VOCABULARY.get(retriever.index)
    if cached is None or cached[0] != snap.generation:
        cached = (snap.generation, Vocabulary.of(c.embed_text for c in snap.chunks))
        _VOCABULARY[retriever.index] = cached
    return cached[1]


def abstention(
    hits: Sequence[Hit], verdict: Assessment, turn: Resolved, timings: dict[str, float], mode: str
) -> Answer:
    """The fixed polite reply; the nearest passages go along only as related material."""
    return Answer(
        ABSTAIN_REPLY, [], True, verdict.confidence, timings, list(hits[:3]), turn.query, mode
    )


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


def source_json(
    document_id: str, title: str, heading: Sequence[str], page: int | None, start: int, end: int
) -> dict[str, Any]:
    return {
        "document_id": document_id,
        "title": title,
        "heading": list(heading),
        "page": page,
        "start": start,
        "end": end,
    }


def answer_json(a: Answer) -> dict[str, Any]:
    """The shape the CLI prints with --json and the API serves; timings are milliseconds."""
    return {
        "answer": a.text,
        "citations": [
            {
                "id": c.number,
                "quote": c.quote,
                "source": source_json(
                    c.document_id, c.title, c.heading_path, c.page, c.start, c.end
                ),
            }
            for c in a.citations
        ],
        "abstained": a.abstained,
        "confidence": a.confidence,
        "timings": dict(a.timings),
        "related": [
            {
                "text": h.chunk.text,
                "score": h.score,
                "source": source_json(
                    h.chunk.document_id,
                    h.chunk.document_title,
                    h.chunk.heading_path,
                    h.chunk.pages[0] if h.chunk.pages else None,
                    h.chunk.start,
                    h.chunk.end,
                ),
            }
            for h in a.related
        ],
        "mode": a.mode,
    }
