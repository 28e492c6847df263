"""Routes: ask a question (JSON, or server-sent events with `Accept: text/event-stream`)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from .. import answering
from ..deps import AssistantDep, Credentials, Reader, SettingsDep
from ..feedback import FeedbackStore, outcome_of
from ..followups import follow_up_questions
from ..openapi import OPEN
from ..schemas import ERROR_RESPONSES, AskRequest, AskResponse
from ..takehome import takehome_text
from .pages import suggestions_for

router = APIRouter(tags=["ask"])
log = logging.getLogger("api")

STREAM_DOC = {
    "description": "The cited answer; with `Accept: text/event-stream` (or `stream: true`) the same answer as "
    "server-sent events: `delta` events `{text}`, one `citations` event (every field but `answer`), then `done`.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


@router.post(
    "/api/ask",
    summary="A cited answer to a question",
    dependencies=Reader,
    openapi_extra=OPEN,
    responses={200: STREAM_DOC, **ERROR_RESPONSES},
    response_model=AskResponse,
)
def ask(
    body: AskRequest,
    request: Request,
    bot: AssistantDep,
    settings: SettingsDep,
    creds: Credentials,
) -> AskResponse | StreamingResponse:
    question = answering.check_question(body.question, settings)
    turns = answering.check_history([(t.role, t.content) for t in body.history], settings)
    f = body.filters
    answer = answering.ask(
        bot, question, turns, f.where() if f else None, f.document_ids if f else ()
    )
    result = AskResponse.from_answer(answer)
    asked = [question, *(text for role, text in turns if role == "user")]
    suggestions, _ = suggestions_for(request, creds)
    result.follow_ups = follow_up_questions(result, asked, suggestions)
    result.question_id = log_question(request.app.state.feedback, question, result)
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            answering.ask_events(answer, result),
            media_type="text/event-stream",
            headers=answering.SSE_HEADERS,
        )
    return result


def log_question(store: FeedbackStore, question: str, result: AskResponse) -> str | None:
    """Log the question and its outcome (never the asker); a failing log never fails the answer."""
    outcome = outcome_of(result.abstained, result.hedged, result.reasons)
    takehome = "" if result.abstained else takehome_text(result.answer, result.citations)
    try:
        return store.log_question(question, outcome, takehome)
    except Exception:
        log.warning("question log not written", exc_info=True)
        return None
