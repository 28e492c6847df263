"""Routes: ask a question (JSON, or server-sent events with `Accept: text/event-stream`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from .. import answering
from ..deps import AssistantDep, Reader, SettingsDep
from ..openapi import OPEN
from ..schemas import ERROR_RESPONSES, AskRequest, AskResponse

router = APIRouter(tags=["ask"])

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
    body: AskRequest, request: Request, bot: AssistantDep, settings: SettingsDep
) -> AskResponse | StreamingResponse:
    question = answering.check_question(body.question, settings)
    turns = answering.check_history([(t.role, t.content) for t in body.history], settings)
    answer = answering.ask(bot, question, turns)
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            answering.ask_events(answer),
            media_type="text/event-stream",
            headers=answering.SSE_HEADERS,
        )
    return AskResponse.from_answer(answer)
