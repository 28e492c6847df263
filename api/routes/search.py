"""Routes: passage search.

With `"match": true` in the body (the staff page sends it) each hit says which of the query's
content terms it holds and what share of the query that is (`match`), and passages holding less
than half of it are left out (the term-coverage rule of `assistant.retrieve.relevance`). Without the flag
the route answers exactly as before: top_k hits, however weak, and no `match` field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from assistant.errors import InvalidInput
from assistant.index.store import Snapshot
from assistant.models import Hit
from assistant.retrieve import relevance
from assistant.retrieve.retriever import Filters
from assistant.service import Assistant
from assistant.text.tokenize import normalise

from ..deps import AssistantDep, Reader, SettingsDep
from ..openapi import OPEN
from ..schemas import ERROR_RESPONSES
from ..schemas import SearchHit as PlainHit
from ..schemas import SearchRequest as PlainRequest
from ..schemas import SearchResponse as PlainResponse

router = APIRouter(tags=["search"])


class SearchRequest(PlainRequest):
    match: bool = Field(
        False,
        description="Say which query terms each passage holds, and leave out passages holding "
        f"less than {relevance.MIN_COVERAGE:.0%} of the query (idf-weighted term coverage).",
    )


class HitMatch(BaseModel):
    """How one passage matches the query."""

    terms: list[str] = Field(description="The query's content terms the passage holds.")
    missing: list[str] = Field(description="Those it does not hold.")
    coverage: float = Field(
        ge=0, le=1, description="Idf-weighted share of the query's terms the passage holds."
    )
    strength: str = Field(description="all, most (>= 0.75), some (>= the cut-off) or weak.")
    sentence_start: int | None = Field(
        None, description="Document offset of the passage's sentence holding most query terms."
    )
    sentence_end: int | None = None


class SearchHit(PlainHit):
    match: HitMatch | None = None


class QueryTermInfo(BaseModel):
    text: str
    forms: list[str] = Field(description="The term and the official terms that also count.")
    weight: float = Field(description="Its inverse document frequency over the passages.")
    passages: int = Field(description="How many passages of the index hold it (0: none does).")


class MatchSummary(BaseModel):
    rule: str = relevance.RULE
    min_coverage: float = relevance.MIN_COVERAGE
    terms: list[QueryTermInfo]
    dropped: int = Field(description="Retrieved passages left out as weak matches.")


class SearchResponse(PlainResponse):
    hits: list[SearchHit]  # type: ignore[assignment]
    match: MatchSummary | None = None


@router.post(
    "/api/search",
    summary="Passages that best match a query",
    dependencies=Reader,
    openapi_extra=OPEN,
    response_model=None,
    responses={200: {"model": SearchResponse, "description": "Ranked passages"}, **ERROR_RESPONSES},
)
def search(body: SearchRequest, bot: AssistantDep, settings: SettingsDep) -> Any:
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
    where = body.filters.where() if body.filters else None
    if not body.match:
        hits = bot.search(query, body.top_k, filters, where)
        return PlainResponse(hits=[PlainHit.from_hit(h) for h in hits])
    top_k = body.top_k or settings.top_k
    # Weak passages are cut, so look a little further down the ranking than top_k.
    pool = bot.search(query, max(top_k, settings.candidates), filters, where)
    return matched(bot, query, pool, top_k)


def matched(bot: Assistant, query: str, hits: list[Hit], top_k: int) -> SearchResponse:
    """The hits that pass the term-coverage rule, best coverage first (ties keep their rank)."""
    terms = relevance.query_terms(query, bot.analyzer, bot.analyzer.synonyms)

    def build(snap: Snapshot) -> relevance.TermStats:
        # The normalised texts are kept per document: a new index version shares them.
        parts = bot.per_document(
            "normalised", snap, lambda s: [normalise(c.text) for c in s.chunks]
        )
        return relevance.TermStats((t for p in parts for t in p), normalised=True)

    stats = bot.view("term-stats", build)
    weight = stats.weights(terms)
    scored = [(h, relevance.match(terms, weight, h.chunk.text)) for h in hits]
    # A query of function words only ("的", "？？") has no terms to hold: nothing is cut.
    kept = [(h, m) for h, m in scored if not terms or relevance.keep(m)]
    kept.sort(key=lambda hm: -round(hm[1].coverage, 6))
    out = []
    for h, m in kept[:top_k]:
        hit = SearchHit(**PlainHit.from_hit(h).model_dump())
        out.append(hit)
        if not terms:
            continue
        s = m.sentence
        hit.match = HitMatch(
            terms=list(m.held),
            missing=list(m.missing),
            coverage=round(m.coverage, 4),
            strength=m.strength,
            sentence_start=h.chunk.start + s[0] if s else None,
            sentence_end=h.chunk.start + s[1] if s else None,
        )
    summary = MatchSummary(
        terms=[
            QueryTermInfo(
                text=t.text,
                forms=list(t.forms),
                weight=round(weight[t.text], 4),
                passages=stats.df(t),
            )
            for t in terms
        ],
        dropped=len(scored) - len(kept),
    )
    return SearchResponse(hits=out, match=summary)
