"""Rows of no committed document version, and when a worker deletes them.

An ingest interrupted between its chunks and its record, or a writer that lost a race for the same
document, leaves rows no record points at. Readers never see them (their content hash differs from
the record's); `Collector` deletes them once they are older than a grace period, in which another
writer might still be about to commit them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from assistant.index.rows import BATCH, row_versions
from assistant.index.snapshot import DocumentRecord

log = logging.getLogger(__name__)

_NO_DOC = DocumentRecord("", "", "", "", "", 0, 0, "")  # what a missing record reads as


class Collector:
    """Deletes the stale rows of `collections` (document id and version on every row)."""

    def __init__(
        self,
        collections: Sequence[Any],
        pending: Any,
        records: Callable[[], dict[str, DocumentRecord]],
        grace: float,
    ) -> None:
        self.collections = collections
        self.pending = pending  # whose rows are stale too once their version is whole
        self.records = records
        self.grace = grace
        # Documents seen changing → when to collect what a lost race may have left (monotonic).
        self.scheduled: dict[str, float] = {}

    def collect(self, doc_ids: Sequence[str] | None, older_than: float) -> tuple[int, bool]:
        """(rows deleted, whether stale rows too young to delete remain), of `doc_ids` or all."""
        docs = self.records()
        cutoff = time.time() - older_than
        where = {"doc_id": {"$in": list(doc_ids)}} if doc_ids is not None else None
        removed, young = 0, False
        for collection in self.collections:
            stale = [
                (cid, written)
                for cid, doc_id, version, written in row_versions(collection, where)
                if docs.get(doc_id, _NO_DOC).content_hash != version
                or (collection is self.pending and not docs[doc_id].dense_pending)
            ]
            old = [cid for cid, written in stale if written <= cutoff]
            young = young or len(old) < len(stale)
            for i in range(0, len(old), BATCH):
                collection.delete(ids=old[i : i + BATCH])
            removed += len(old)
        return removed, young

    def schedule(self, doc_ids: Iterable[str]) -> None:
        """Collect these documents' garbage a grace period after their latest change."""
        due = time.monotonic() + self.grace
        for doc_id in doc_ids:
            self.scheduled[doc_id] = due

    def sweep_due(self) -> None:
        """Collect the garbage of documents that changed at least a grace period ago: a lost race
        leaves its rows behind, and every worker that saw the change tidies up (idempotent)."""
        now = time.monotonic()
        due = [doc_id for doc_id, at in self.scheduled.items() if at <= now]
        if not due:
            return
        try:
            _, young = self.collect(due, older_than=self.grace)
        except Exception:  # tried again after another grace period; reading must go on
            log.warning("garbage collection failed for %s", due, exc_info=True)
            young = True
        for doc_id in due:
            if young:
                self.scheduled[doc_id] = now + self.grace
            else:
                del self.scheduled[doc_id]
