"""Routes: visitors' 👍/👎, the take-home QR code, and what staff learn from the question log.

Feedback and the QR code follow the ask policy (open unless PA_OPEN_API_KEY is set); the export
and the insights are for staff (PA_API_KEY). See api/feedback.py for what is stored.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from assistant.errors import NotFound

from ..deps import Admin, Reader
from ..feedback import FeedbackStore, to_csv
from ..openapi import OPEN
from ..schemas import ERROR_RESPONSES, ErrorResponse, FeedbackRequest, FeedbackSaved, Insights
from ..takehome import qr_svg

router = APIRouter(tags=["feedback"])


def get_feedback_store(request: Request) -> FeedbackStore:
    store: FeedbackStore = request.app.state.feedback
    return store


StoreDep = Annotated[FeedbackStore, Depends(get_feedback_store)]
QuestionId = Path(pattern=r"^[0-9a-f]{32}$", description="The ask response's `question_id`.")
Days = Query(
    30, ge=0, le=3650, description="The last N days (0: everything kept, see log_retention_days)."
)
NOT_LOGGED: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such question in the log (or it has expired)"}
}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    403: {"model": ErrorResponse, "description": "Staff routes disabled (no PA_API_KEY)"},
}


@router.post(
    "/api/feedback",
    summary="A visitor's 👍/👎 (and optional reason) on an answer",
    dependencies=Reader,
    openapi_extra=OPEN,
    responses={**ERROR_RESPONSES, **NOT_LOGGED},
)
def give_feedback(body: FeedbackRequest, store: StoreDep) -> FeedbackSaved:
    if not store.record_feedback(body.question_id, body.rating, body.reason):
        raise NotFound(f"no question {body.question_id} in the log (it may have expired)")
    return FeedbackSaved(question_id=body.question_id, rating=body.rating)


@router.get(
    "/api/answers/{question_id}/qr.svg",
    summary="A QR code of the answer's text and its sources, to take home",
    dependencies=Reader,
    openapi_extra=OPEN,
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "SVG"},
        **ERROR_RESPONSES,
        **NOT_LOGGED,
    },
)
def answer_qr(store: StoreDep, question_id: str = QuestionId) -> Response:
    text = store.takehome(question_id)
    if not text:
        raise NotFound(f"no answer {question_id} to take home (declined, unknown or expired)")
    return Response(
        qr_svg(text),
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get(
    "/api/feedback/export",
    summary="The question log with its feedback, as CSV or JSON (staff)",
    dependencies=Admin,
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
            "description": "One row per question: id, asked_at, question, outcome, rating, reason, rated_at.",
        },
        **ADMIN_ERRORS,
    },
)
def export_feedback(
    store: StoreDep,
    days: int = Days,
    format: Literal["csv", "json"] = Query("csv", description="csv (UTF-8 with BOM) or json."),
) -> Response:
    rows = store.rows(days)
    name = f"policy-assistant-questions-{days or 'all'}d"
    if format == "json":
        return Response(
            json.dumps(rows, ensure_ascii=False),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
        )
    return Response(
        to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get(
    "/api/insights",
    summary="Counts of 👍/👎 and the most frequent declined, hedged and 👎 questions (staff)",
    dependencies=Admin,
    responses=ADMIN_ERRORS,
)
def insights(
    store: StoreDep,
    days: int = Days,
    limit: int = Query(10, ge=1, le=100, description="Groups per list."),
) -> Insights:
    return Insights.model_validate(store.insights(days, limit))
