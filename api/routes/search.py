"""Routes: passage search."""

from __future__ import annotations

from fastapi import APIRouter

from assistant.errors import InvalidInput
from assistant.retrieve import Filters

from ..deps import AssistantDep, Reader, SettingsDep
from ..openapi import OPEN
from ..schemas import ERROR_RESPONSES, SearchHit, SearchRequest, SearchResponse

router = APIRouter(tags=["search"])


@router.post(
    "/api/search",
    summary="Passages that best match a query",
    dependencies=Reader,
    openapi_extra=OPEN,
    responses=ERROR_RESPONSES,
)
def search(body: SearchRequest, bot: AssistantDep, settings: SettingsDep) -> SearchResponse:
    # A plain `def`: FastAPI runs it in the threadpool, so retrieval never blocks the event loop.
    query = body.query.strip()
    if not query:
        raise InvalidInput("query: must not be blank")
    if len(query) > settings.max_question_chars:
        raise InvalidInput(f"query: at most {settings.max_question_chars} characters")
    if body.top_k is not None and body.top_k > settings.max_top_k:
        raise InvalidInput(f"top_k: at most {settings.max_top_k}")
    filters = (
        Filters(list(body.filters.document_ids), body.filters.heading) if body.filters else None
    )
    hits = bot.search(query, body.top_k, filters)
    return SearchResponse(hits=[SearchHit.from_hit(h) for h in hits])
