"""Background ingestion: one worker thread, jobs run one at a time, their status in a shared store.

The store (api/shared.py, SQLite next to the index) is read by every worker, so a job created on
one worker can be polled on another; the worker that accepted it runs it and writes its status.

Uploaded files live in the upload folder under generated names `<document id>-<content hash><ext>`,
each with a `.json` sidecar holding the exact name and metadata it was ingested with, so a reindex
re-ingests it identically (and skips it when nothing changed).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.index.store import DocumentRecord
    from assistant.service import Assistant

    from .shared import JobStore

log = logging.getLogger("api.jobs")


def upload_root(settings: Settings) -> Path:
    """settings.upload_dir when set explicitly, else `uploads/` inside the index folder."""
    if "upload_dir" in settings.model_fields_set:
        return Path(settings.upload_dir)
    return Path(settings.index_dir) / "uploads"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Job:
    id: str
    kind: str
    status: str = "queued"
    filename: str = ""
    document_id: str | None = None
    result: str | None = None
    chunks: int | None = None
    searchable: bool = False  # by its words, as soon as it is written; vectors follow
    vectors_done: int | None = None
    error: str | None = None
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None


@dataclass
class StoredUpload:
    """A received file, saved under a generated name, and how to ingest it."""

    path: Path
    name: str  # the logical name the document id derives from (never used as a path)
    filename: str  # the client's file name, sanitised, for display only
    metadata: dict[str, str]
    document_id: str


class JobRegistry:
    def __init__(self, settings: Settings, store: JobStore) -> None:
        self.settings = settings
        self.upload_dir = upload_root(settings)
        self.store = store
        self._bot: Assistant | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")
        self._closed = False

    def open(self) -> None:
        """A fresh worker thread when the app starts again after a shutdown."""
        if self._closed:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")
            self._closed = False

    def attach(self, bot: Assistant) -> None:
        self._bot = bot

    # ----- registry -------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        return self.store.get(job_id)

    def list(self) -> list[Job]:
        return self.store.list()

    def pending(self) -> int:
        return self.store.pending()

    def _new(self, kind: str, filename: str = "", document_id: str | None = None) -> Job:
        job = Job(
            id=uuid.uuid4().hex,
            kind=kind,
            filename=filename,
            document_id=document_id,
            created_at=now(),
        )
        self.store.add(job)
        return job

    def _update(self, job: Job, **changes: Any) -> None:
        for k, v in changes.items():
            setattr(job, k, v)
        self.store.save(job)

    def _run(self, job: Job, work: Callable[[Assistant], dict[str, Any]]) -> None:
        self._update(job, status="running", started_at=now())
        try:
            if self._bot is None:
                raise AssistantError("the index is not loaded")
            result = work(self._bot)
        except AssistantError as exc:
            self._update(job, status="failed", error=exc.message, finished_at=now())
            log.warning("job %s (%s %s) failed: %s", job.id, job.kind, job.filename, exc.message)
        except Exception as exc:
            self._update(
                job,
                status="failed",
                error=f"internal error: {type(exc).__name__}: {exc}",
                finished_at=now(),
            )
            log.exception("job %s (%s %s) crashed", job.id, job.kind, job.filename)
        else:
            self._update(job, status="done", finished_at=now(), **result)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._closed = True

    # ----- uploads --------------------------------------------------------------------------

    def submit_upload(self, up: StoredUpload) -> Job:
        job = self._new("upload", up.filename, up.document_id)
        self._executor.submit(self._run, job, lambda bot: self._ingest_upload(bot, up, job))
        return job

    def _ingest_upload(self, bot: Assistant, up: StoredUpload, job: Job) -> dict[str, Any]:
        def searchable(record: DocumentRecord) -> None:
            pending = record.dense_pending
            self._update(
                job, searchable=True, chunks=record.chunks, vectors_done=0 if pending else None
            )

        def embedded(n: int) -> None:
            self._update(job, vectors_done=(job.vectors_done or 0) + n)

        try:
            doc_id, status, chunks = bot.ingest_bytes(
                up.path.read_bytes(),
                up.name,
                dict(up.metadata),
                on_searchable=searchable,
                tick=embedded,
            )
        except BaseException:
            self._forget_file(up.path, keep_if_indexed=True)
            raise
        sidecar = {"name": up.name, "metadata": up.metadata}
        up.path.with_name(up.path.name + ".json").write_text(
            json.dumps(sidecar, ensure_ascii=False), encoding="utf-8"
        )
        # An earlier version of the same document is superseded.
        for old in self.upload_dir.glob(f"{doc_id}-*"):
            if old.name not in (up.path.name, up.path.name + ".json"):
                old.unlink(missing_ok=True)
        return {"document_id": doc_id, "result": status, "chunks": chunks}

    def _forget_file(self, path: Path, keep_if_indexed: bool) -> None:
        """Remove a stored upload that no indexed document points at."""
        if keep_if_indexed and self._bot is not None:
            used = {r.metadata.get("upload") for r in self._bot.documents()}
            if path.name in used:
                return
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".json").unlink(missing_ok=True)

    def remove_files(self, doc_id: str) -> None:
        """A deleted document's stored uploads go too."""
        for f in self.upload_dir.glob(f"{doc_id}-*"):
            f.unlink(missing_ok=True)

    # ----- vectors a stopped worker left pending ---------------------------------------------

    def submit_vectors(self, pending: int) -> Job:
        """Finish the vectors of documents searchable by their words only (after a crash)."""
        job = self._new("vectors", f"{pending} documents")
        self._executor.submit(self._run, job, self._fill_pending)
        return job

    def _fill_pending(self, bot: Assistant) -> dict[str, Any]:
        filled, chunks = bot.fill_pending()
        return {"result": f"vectors stored for {filled} documents", "chunks": chunks}

    # ----- reindex --------------------------------------------------------------------------

    def submit_reindex(self) -> Job:
        job = self._new("reindex")
        self._executor.submit(self._run, job, self._reindex)
        return job

    def _reindex(self, bot: Assistant) -> dict[str, Any]:
        """Re-ingest the corpus folder and every stored upload; unchanged documents are skipped."""
        parts = []
        chunks = 0
        corpus = Path(self.settings.corpus_dir)
        if corpus.is_dir():
            report = bot.ingest([corpus])
            parts.append("corpus: " + report.summary().splitlines()[0])
            chunks += report.chunks
        counts: dict[str, int] = {}
        failed = []
        for sidecar in sorted(self.upload_dir.glob("*.json")) if self.upload_dir.is_dir() else []:
            stored = sidecar.with_suffix("")
            try:
                spec = json.loads(sidecar.read_text(encoding="utf-8"))
                _, status, n = bot.ingest_bytes(stored.read_bytes(), spec["name"], spec["metadata"])
            except (OSError, ValueError, KeyError, AssistantError) as exc:
                failed.append(f"{stored.name}: {getattr(exc, 'message', exc)}")
                continue
            counts[status] = counts.get(status, 0) + 1
            chunks += n
        if counts or failed:
            done = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            parts.append(
                f"uploads: {done or 'none'}"
                + (f"; {len(failed)} failed ({'; '.join(failed[:3])})" if failed else "")
            )
        return {"result": "; ".join(parts) or "nothing to reindex", "chunks": chunks}
