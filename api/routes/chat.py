"""Routes: an OpenAI-compatible chat completions endpoint, so chat UIs can talk to the assistant.

The last user message is the question; earlier user and assistant messages are the history (only the
latest max_history_turns are used, since chat clients resend the whole conversation). Citations are
in the text as [n] with a source list after it, and in an extra `citations` field.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from assistant.errors import InvalidInput

from .. import answering
from ..deps import AssistantDep, Reader, SettingsDep
from ..openapi import OPEN
from ..schemas import (
    ERROR_RESPONSES,
    AskResponse,
    ChatChoice,
    ChatCompletion,
    ChatReply,
    ChatRequest,
    ModelCard,
    ModelList,
    Usage,
)

router = APIRouter(prefix="/v1", tags=["openai"])
MODEL = "policy-assistant"
STARTED = int(time.time())


@router.get(
    "/models", summary="The one model this server offers", dependencies=Reader, openapi_extra=OPEN
)
async def models() -> ModelList:
    return ModelList(data=[ModelCard(id=MODEL, created=STARTED)])


@router.post(
    "/chat/completions",
    summary="OpenAI-compatible chat completion (stream and non-stream)",
    dependencies=Reader,
    openapi_extra=OPEN,
    response_model=ChatCompletion,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "With `stream: true`: chat.completion.chunk events, then `[DONE]`.",
        },
        **ERROR_RESPONSES,
    },
)
def chat_completions(
    body: ChatRequest, bot: AssistantDep, settings: SettingsDep
) -> ChatCompletion | StreamingResponse:
    turns = [(m.role, m.text()) for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user":
        raise InvalidInput("messages: the last message must come from the user")
    question = answering.check_question(turns[-1][1], settings, field="messages")
    history = answering.check_history(turns[:-1], settings, strict=False)
    answer = answering.ask(bot, question, history)
    result = AskResponse.from_answer(answer)
    content = result.answer + answering.source_list(result.citations)
    model = body.model or MODEL
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if body.stream:
        return StreamingResponse(
            _chunks(cid, created, model, content, result),
            media_type="text/event-stream",
            headers=answering.SSE_HEADERS,
        )
    prompt = sum(len(text) for _, text in turns)
    return ChatCompletion(
        id=cid,
        created=created,
        model=model,
        choices=[ChatChoice(message=ChatReply(content=content))],
        usage=Usage(
            prompt_tokens=prompt, completion_tokens=len(content), total_tokens=prompt + len(content)
        ),
        citations=result.citations,
        abstained=result.abstained,
    )


def _chunks(cid: str, created: int, model: str, content: str, result: AskResponse) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for piece in answering.deltas(content):
        yield chunk({"content": piece})
    citations = [c.model_dump() for c in result.citations]
    yield chunk({}, "stop", citations=citations, abstained=result.abstained)
    yield "data: [DONE]\n\n"
