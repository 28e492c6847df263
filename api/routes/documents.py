"""Routes: document management (upload, list, read, delete, reindex) and ingest jobs.

Reading documents follows the ask/search policy (open unless PA_OPEN_API_KEY is set), because the
kiosk's source viewer shows a citation in its document; changing them needs PA_API_KEY.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from ..deps import Admin, AssistantDep, JobsDep, Reader, SettingsDep
from ..jobs import Job
from ..openapi import OPEN
from ..schemas import (
    ERROR_RESPONSES,
    Deleted,
    DocumentDetail,
    DocumentList,
    DocumentSummary,
    ErrorResponse,
    FactsEdit,
    JobList,
    JobOut,
)
from ..upload import UPLOAD_OPENAPI, receive_upload

router = APIRouter(tags=["documents"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such document or job"}
}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    403: {"model": ErrorResponse, "description": "Document management disabled (no PA_API_KEY)"},
}
DocId = Path(min_length=1, max_length=200, description="Document id (from the list).")
JobId = Path(min_length=1, max_length=100)


def job_out(job: Job) -> JobOut:
    return JobOut.model_validate(job, from_attributes=True)


@router.get(
    "/api/documents",
    summary="Every indexed document",
    dependencies=Reader,
    openapi_extra=OPEN,
    responses=ERROR_RESPONSES,
)
def list_documents(bot: AssistantDep) -> DocumentList:
    facts = bot.document_facts()
    return DocumentList(
        documents=[DocumentSummary.from_record(r, facts.get(r.id)) for r in bot.documents()]
    )


@router.get(
    "/api/documents/{doc_id}",
    summary="A document's cleaned text (what citation offsets point into) and metadata",
    dependencies=Reader,
    openapi_extra=OPEN,
    responses={**ERROR_RESPONSES, **NOT_FOUND},
)
def get_document(bot: AssistantDep, doc_id: str = DocId) -> DocumentDetail:
    record, text = bot.document(doc_id)
    summary = DocumentSummary.from_record(record, bot.document_facts().get(doc_id))
    return DocumentDetail(**summary.model_dump(), text=text)


@router.patch(
    "/api/documents/{doc_id}/facts",
    summary="Correct a document's date, issuer, jurisdiction, kind or status",
    dependencies=Admin,
    responses={**ADMIN_ERRORS, **NOT_FOUND},
)
def edit_facts(bot: AssistantDep, body: FactsEdit, doc_id: str = DocId) -> DocumentSummary:
    """The edit is kept beside the index and outlives re-ingesting the file."""
    bot.edit_document(doc_id, body.model_dump(exclude_unset=True))
    record, _ = bot.document(doc_id)
    return DocumentSummary.from_record(record, bot.document_facts().get(doc_id))


@router.post(
    "/api/documents",
    summary="Upload a file; it is ingested in the background (poll the job)",
    status_code=202,
    dependencies=Admin,
    openapi_extra=UPLOAD_OPENAPI,
    responses={
        202: {"model": JobOut, "description": "Accepted; poll /api/jobs/{id}"},
        **ADMIN_ERRORS,
        415: {"model": ErrorResponse, "description": "Unsupported file type"},
    },
)
async def upload_document(
    request: Request, bot: AssistantDep, jobs: JobsDep, settings: SettingsDep
) -> JSONResponse:
    stored = await receive_upload(request, settings)
    job = jobs.submit_upload(stored)
    return accepted(job)


def accepted(job: Any) -> JSONResponse:
    """202 with the job and where to poll it."""
    return JSONResponse(
        job_out(job).model_dump(), status_code=202, headers={"Location": f"/api/jobs/{job.id}"}
    )


@router.delete(
    "/api/documents/{doc_id}",
    summary="Remove a document from the index",
    dependencies=Admin,
    responses={**ADMIN_ERRORS, **NOT_FOUND},
)
def delete_document(bot: AssistantDep, jobs: JobsDep, doc_id: str = DocId) -> Deleted:
    bot.delete(doc_id)
    jobs.remove_files(doc_id)
    return Deleted(deleted=doc_id)


@router.post(
    "/api/reindex",
    summary="Re-ingest the corpus folder and the uploaded files in the background",
    status_code=202,
    dependencies=Admin,
    responses={202: {"model": JobOut, "description": "Accepted"}, **ADMIN_ERRORS},
)
def reindex(bot: AssistantDep, jobs: JobsDep) -> JSONResponse:
    job = jobs.submit_reindex()
    return accepted(job)


@router.get(
    "/api/jobs",
    summary="Recent ingest jobs, newest first",
    dependencies=Admin,
    responses=ADMIN_ERRORS,
)
def list_jobs(jobs: JobsDep) -> JobList:
    return JobList(jobs=[job_out(j) for j in jobs.list()])


@router.get(
    "/api/jobs/{job_id}",
    summary="An ingest job's status: queued, running, done or failed",
    dependencies=Admin,
    responses={**ADMIN_ERRORS, **NOT_FOUND},
)
def get_job(jobs: JobsDep, job_id: str = JobId) -> JobOut:
    return job_out(jobs.get(job_id))
