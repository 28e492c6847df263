"""What ask and the OpenAI-compatible chat share: limits, the call into the library, streaming."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from assistant.answer.provenance import facts_line
from assistant.errors import InvalidInput
from assistant.ingest.metadata import DocumentFilter
from assistant.models import Answer
from assistant.service import Assistant
from assistant.settings import Settings

from .schemas import AskResponse, CitationOut

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
PIECE = re.compile(r"\[\d+\]|[^\[]+|\[")
DELTA_CHARS = 16


def check_question(question: str, settings: Settings, field: str = "question") -> str:
    q = question.strip()
    if not q:
        raise InvalidInput(f"{field}: must not be blank")
    if len(q) > settings.max_question_chars:
        raise InvalidInput(
            f"{field}: at most {settings.max_question_chars} characters (got {len(q)})"
        )
    return q


def check_history(
    turns: Sequence[tuple[str, str]], settings: Settings, strict: bool = True
) -> list[tuple[str, str]]:
    """At most max_history_turns turns, earlier questions no longer than a question may be.

    `strict` refuses what is over (422); otherwise (chat clients resend whole conversations) the
    latest turns are kept and over-long earlier questions are cut.
    """
    limit, chars = settings.max_history_turns, settings.max_question_chars
    if strict and len(turns) > limit:
        raise InvalidInput(f"history: at most {limit} turns (got {len(turns)})")
    kept = list(turns[-limit:]) if limit > 0 else []
    out = []
    for i, (role, text) in enumerate(kept):
        text = text.strip()
        if role == "user" and len(text) > chars:
            if strict:
                raise InvalidInput(
                    f"history.{i}.content: an earlier question of at most {chars} characters"
                )
            text = text[:chars]
        out.append((role, text))
    return out


def split_history(turns: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Earlier user questions and earlier assistant replies, each oldest first."""
    questions = [text for role, text in turns if role == "user" and text.strip()]
    answers = [text for role, text in turns if role == "assistant" and text.strip()]
    return questions, answers


def ask(
    bot: Assistant,
    question: str,
    turns: Sequence[tuple[str, str]],
    where: DocumentFilter | None = None,
    document_ids: Sequence[str] = (),
) -> Answer:
    """Blocking: call from a worker thread (plain `def` routes run in FastAPI's threadpool)."""
    questions, answers = split_history(turns)
    return bot.ask(question, questions, answers, where, document_ids)


def deltas(text: str, size: int = DELTA_CHARS) -> Iterator[str]:
    """The answer text in small pieces; a [n] marker is never split across pieces."""
    for piece in PIECE.findall(text):
        if piece.startswith("[") and piece.endswith("]"):
            yield piece
            continue
        for i in range(0, len(piece), size):
            yield piece[i : i + size]


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def ask_events(answer: Answer, body: AskResponse | None = None) -> Iterator[str]:
    """`/api/ask` as server-sent events: `delta` events ({"text"}), one `citations` event, then `done`.

    `body`: the response already built from `answer` (with its question id and follow-ups)."""
    body = body or AskResponse.from_answer(answer)
    for piece in deltas(body.answer):
        yield sse("delta", {"text": piece})
    tail = body.model_dump(exclude={"answer"})
    yield sse("citations", tail)
    yield sse("done", {"ok": True})


def source_list(citations: Sequence[CitationOut]) -> str:
    """The citations as plain text lines for chat clients that only show `content`."""
    if not citations:
        return ""
    lines = ["", "", "来源："]
    for c in citations:
        s = c.source
        where = f"《{s.title}》"
        if s.heading:
            where += " " + " > ".join(s.heading)
        if s.page:
            where += f"，第{s.page}页"
        lines.append(f"[{c.id}] {where}（{facts_line(c.document.model_dump())}）")
    return "\n".join(lines)
