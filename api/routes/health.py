"""Routes: liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..deps import get_assistant
from ..schemas import ERROR_RESPONSES, Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> Health:
    return Health()


@router.get("/readyz", summary="The index is loaded", responses={503: ERROR_RESPONSES[503]})
def readyz(request: Request) -> Ready:
    bot = get_assistant(request)
    snap = bot.index.snapshot
    return Ready(
        documents=len(snap.documents),
        chunks=len(snap.chunks),
        embedder=bot.index.embedder_name,
        jobs_pending=request.app.state.jobs.pending(),
        vectors_pending=sum(r.dense_pending for r in snap.documents.values()),
    )
