"""The index: chunk vectors and document records in Chroma, and readers' snapshots built from them.

Chroma is the single source of truth, so several workers sharing a Chroma server see the same
documents. A document becomes visible only when its record is written, after all of its chunks:
readers ignore chunks whose content hash differs from their document's record.

A document can be written in two steps: `stage` puts its chunks (without vectors) in a `pending`
collection and commits its record, so it is searchable by its words at once; `fill` then stores the
chunks with their vectors in the dense collection and marks the record whole. Either step is one
commit of the record, so a crash in between leaves the document whole and searchable, its vectors
pending (`pending()` lists them; `ingest` resumes them).
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import IndexNotReady, NotFound
from assistant.index.embed import slug
from assistant.index.garbage import Collector
from assistant.index.rows import (
    META_ID,
    chunk_rows,
    pages_json,
    put_chunks,
    put_generation,
    put_record,
    put_sentences,
    read_all,
    record_from,
    unpack,
)
from assistant.index.snapshot import DocumentRecord, Segment, SegmentCache, Snapshot, segment_key
from assistant.models import Chunk, Document
from assistant.settings import Settings

log = logging.getLogger(__name__)

LIGHT_HNSW = {"batch_size": 10, "sync_threshold": 10}
# Past this many documents to (re)load, one paged read of every chunk beats a query per document.
FETCH_ONE_BY_ONE = 16

__all__ = ["DocumentRecord", "Index", "Snapshot", "exists", "make_client"]


def release_free_memory() -> None:
    """Hand memory freed by a swapped-out snapshot back to the system (glibc keeps it otherwise:
    a worker at 100k chunks stayed ~120 MB higher after every change)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return
    trim(0)


def make_client(settings: Settings) -> Any:
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_mode == "http":
        return chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
        )
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(
        path=str(settings.index_dir / "chroma"), settings=chroma_settings
    )


class Index:
    """Reads and writes documents and chunks; `snapshot` is always a whole, consistent view."""

    def __init__(
        self, settings: Settings, embedder_name: str, tokenize: Callable[[str], list[str]]
    ) -> None:
        self.settings = settings
        self.embedder_name = embedder_name
        self._tokenize = tokenize
        self._client = make_client(settings)
        prefix = collection_prefix(settings, embedder_name)
        self._chunks = self._collection(
            f"{prefix}-chunks", {"space": "cosine", "ef_search": settings.ef_search}
        )
        self._docs = self._light(f"{prefix}-docs")
        self._pending = self._light(f"{prefix}-pending")
        # Each chunk's sentence vectors, packed into one row per chunk: apart from the chunks, so
        # that reading every chunk for the lexical view does not read them too.
        self._sentences = self._light(f"{prefix}-sentences")
        # Where a document version has rows: dropped, deleted and collected together.
        self._versioned = (self._chunks, self._pending, self._sentences)
        self._segments: dict[str, Segment] = {}
        self._garbage = Collector(
            self._versioned, self._pending, self._read_documents, settings.garbage_grace_seconds
        )
        self._segment_files = SegmentCache(settings.index_dir / "lexical" / prefix)
        self._write_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._checked_at = 0.0
        self._snapshot: Snapshot | None = None
        self.refresh(force=True)

    def _light(self, name: str) -> Any:
        """A collection of few writes whose (dummy) vectors Chroma persists every few writes.

        With Chroma's default (every 1,000 writes) a process replays the unpersisted part of the
        log when it first touches the collection: 5 s per open for the records of 974 documents.
        """
        return self._collection(name, LIGHT_HNSW)

    def _collection(self, name: str, hnsw: dict[str, Any]) -> Any:
        """A collection with `hnsw`; one made before with other mutable values is brought to them."""
        collection = self._client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": hnsw}
        )
        mutable = {k: v for k, v in hnsw.items() if k != "space"}
        try:
            have = (collection.configuration_json or {}).get("hnsw") or {}
            # Only what Chroma reports back (it keeps no batch_size): a write at every open would
            # contend with other processes for the store's lock.
            if any(k in have and have[k] != v for k, v in mutable.items()):  # made before
                with warnings.catch_warnings():
                    # Chroma re-reads the configuration after the write and warns that a
                    # collection without an embedding function is "legacy"; it is ours by design.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    collection.modify(configuration={"hnsw": mutable})
        except Exception:  # an older server may not take it: it keeps its values, nothing else
            log.warning("cannot set the HNSW configuration of %s", name, exc_info=True)
        return collection

    # ----- reading -------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        """The current view; checks the store for other writers at most every refresh_seconds."""
        if self._snapshot is None:
            self.refresh()
        elif (
            time.monotonic() - self._checked_at > self.settings.refresh_seconds
            and not self._refresh_lock.locked()
        ):
            # A rebuild re-reads the whole store; readers keep answering from the current view meanwhile.
            self._checked_at = time.monotonic()
            # Not a daemon: a process that exits while a rebuild is inside Chroma's native code
            # can crash at interpreter teardown (seen as a segfault after `ingest` printed).
            threading.Thread(target=self._refresh_quietly, name="index-refresh").start()
        if self._snapshot is None:
            raise IndexNotReady("the index is not loaded yet")
        return self._snapshot

    def refresh(self, force: bool = False, wait: bool = True) -> None:
        """Rebuild the in-memory view if the store changed since the last look.

        With wait=False it returns at once when another thread is already rebuilding.
        """
        if not self._refresh_lock.acquire(blocking=wait):
            return
        try:
            self._checked_at = time.monotonic()
            self._garbage.sweep_due()
            generation = self._generation()
            if not force and self._snapshot is not None and self._snapshot.generation == generation:
                return
            self._snapshot = self._build(generation)
        finally:
            self._refresh_lock.release()
        release_free_memory()  # reached only after a new snapshot: the old one is what was freed

    def _refresh_quietly(self) -> None:
        try:
            self.refresh(wait=False)
        except (
            Exception
        ):  # the store being briefly unreachable must not kill readers; the next check retries
            log.warning("index refresh failed", exc_info=True)

    def _generation(self) -> str:
        got = self._docs.get(ids=[META_ID], include=["metadatas"])
        return str(got["metadatas"][0].get("generation", "")) if got["ids"] else ""

    def _build(self, generation: str) -> Snapshot:
        """Reuse the segments of unchanged documents; build (or load from file) the others."""
        docs = self._read_documents()
        segments: dict[str, Segment] = {}
        missing: list[DocumentRecord] = []
        for doc_id, rec in docs.items():
            key = segment_key(rec)
            seg = self._segments.get(doc_id)
            if seg is None or seg.key != key:
                seg = self._segment_files.load(key)
            if seg is None:
                missing.append(rec)
            else:
                segments[doc_id] = seg
        for rec, chunks in self._fetch(missing):
            seg = Segment.build(segment_key(rec), chunks, self._tokenize)
            segments[rec.id] = seg
            if len(seg.chunks) == rec.chunks:
                self._segment_files.save(seg)
        if self._snapshot is not None:
            was = self._segments
            self._garbage.schedule(  # a grace period after each document's latest change
                d
                for d in {*segments, *was}
                if d not in segments or d not in was or segments[d].key != was[d].key
            )
        self._segments = segments
        if missing:
            self._segment_files.prune([s.key for s in segments.values()])
        return Snapshot.merge(generation, docs, segments)

    def _fetch(self, records: Sequence[DocumentRecord]) -> list[tuple[DocumentRecord, list[Chunk]]]:
        """The chunks of each record's version, from the pending or the dense collection."""
        if len(records) <= FETCH_ONE_BY_ONE:
            return [(r, [c for c, _ in self._read_chunks(r)]) for r in records]
        # Keyed by collection too: a version still pending may have some vectors stored already.
        grouped: dict[tuple[bool, str, str], list[Chunk]] = {}
        for pending, collection in ((False, self._chunks), (True, self._pending)):
            for c, h in read_all(collection):
                grouped.setdefault((pending, c.document_id, h), []).append(c)
        return [(r, grouped.get((r.dense_pending, r.id, r.content_hash), [])) for r in records]

    def record(self, doc_id: str) -> DocumentRecord | None:
        """A document's committed record, read from the store (not the snapshot), or None."""
        got = self._docs.get(ids=[doc_id], include=["metadatas"])
        if not got["ids"] or doc_id == META_ID:
            return None
        return record_from(got["metadatas"][0])

    def records(self) -> dict[str, DocumentRecord]:
        """Every committed document record, read from the store (cheap: no chunks, no BM25)."""
        return self._read_documents()

    def _read_documents(self) -> dict[str, DocumentRecord]:
        got = self._docs.get(include=["metadatas"])
        out = {}
        for doc_id, meta in zip(got["ids"], got["metadatas"], strict=True):
            if doc_id != META_ID:
                out[doc_id] = record_from(meta)
        return out

    def _read_chunks(
        self, record: DocumentRecord, pending: bool | None = None
    ) -> list[tuple[Chunk, str]]:
        """One document version's chunks, from where its record says they are (or `pending` says)."""
        staged = record.dense_pending if pending is None else pending
        got = (self._pending if staged else self._chunks).get(
            where={"$and": [{"doc_id": record.id}, {"hash": record.content_hash}]},
            include=["documents", "metadatas"],
        )
        return chunk_rows(got)

    def pending_chunks(self, record: DocumentRecord) -> list[Chunk]:
        """A staged version's chunks, in reading order (what `fill` needs after a restart)."""
        chunks = [c for c, _ in self._read_chunks(record, pending=True)]
        return sorted(chunks, key=lambda c: (c.start, c.id))

    def pending(self) -> list[DocumentRecord]:
        """Documents searchable by their words whose vectors are not stored yet."""
        return [r for r in self._read_documents().values() if r.dense_pending]

    def dense(
        self, vector: np.ndarray, n: int, document_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Nearest chunk ids by cosine similarity (1 - distance), best first."""
        # No count() first: Chroma returns what it holds when asked for more (and nothing from an
        # empty collection), and the count cost a second call per question (a round trip to a
        # Chroma server).
        where = {"doc_id": {"$in": list(document_ids)}} if document_ids else None
        got = self._chunks.query(
            query_embeddings=[vector.tolist()],
            n_results=n,
            where=where,
            include=["distances"],
        )
        return [
            (cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0], strict=True)
        ]

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors of each chunk's sentences (in the order `text.structure.sentences` splits
        them), for the chunks that have them (none while a document's vectors are pending)."""
        if not chunk_ids:
            return {}
        got = self._sentences.get(ids=list(dict.fromkeys(chunk_ids)), include=["documents"])
        return {
            cid: unpack(raw) for cid, raw in zip(got["ids"], got["documents"], strict=True) if raw
        }

    def document(self, doc_id: str) -> tuple[DocumentRecord, str]:
        """A document's record and its cleaned text."""
        got = self._docs.get(ids=[doc_id], include=["documents", "metadatas"])
        if not got["ids"] or doc_id == META_ID:
            raise NotFound(f"no document with id {doc_id!r}")
        return record_from(got["metadatas"][0]), got["documents"][0] or ""

    # ----- writing -------------------------------------------------------------------------

    def write(
        self,
        doc: Document,
        chunks: Sequence[Chunk],
        vectors: np.ndarray | None,
        refresh: bool = True,
    ) -> DocumentRecord:
        """Store a document's chunks with their vectors, then its record (the moment it becomes
        visible), then drop the replaced version's chunks.

        refresh=False skips refreshing this process's view; readers pick the change up at their
        next periodic check (a bulk ingest refreshes once, at the end).
        """
        if vectors is None:
            vectors = np.ones((len(chunks), 1), dtype=np.float32)
        return self._commit(doc, chunks, vectors, refresh)

    def stage(self, doc: Document, chunks: Sequence[Chunk], refresh: bool = True) -> DocumentRecord:
        """Make a document searchable by its words now; `fill` adds its vectors later."""
        return self._commit(doc, chunks, None, refresh)

    def _commit(
        self, doc: Document, chunks: Sequence[Chunk], vectors: np.ndarray | None, refresh: bool
    ) -> DocumentRecord:
        staged = vectors is None
        record = DocumentRecord(
            id=doc.id,
            title=doc.title,
            source=doc.source,
            doc_type=doc.doc_type,
            content_hash=doc.content_hash,
            chunks=len(chunks),
            pages=len(doc.pages),
            ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
            ocr_pages=list(doc.ocr_pages),
            metadata=dict(doc.metadata),
            dense_pending=staged,
        )
        with self._write_lock:
            # The version this write replaces, read before it commits: only that version's chunks
            # are removed afterwards. Removing "every other version" would, when two workers write
            # one document at once, delete the chunks of the one that committed last (last
            # writer wins; the loser's chunks stay invisible until collect_garbage).
            before = self.record(doc.id)
            put_chunks(self._pending if staged else self._chunks, chunks, doc.content_hash, vectors)
            put_record(self._docs, record, doc.text, pages_json(doc.pages))
            if before is not None and before.content_hash != doc.content_hash:
                self._drop_version(doc.id, before.content_hash)
        if refresh:
            self.refresh()
        return record

    def fill(
        self,
        record: DocumentRecord,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        refresh: bool = True,
        sentences: Sequence[np.ndarray] | None = None,
    ) -> bool:
        """Store a staged version's vectors (and its chunks' sentence vectors) and mark its record
        whole.

        False (and nothing kept) when another version of the document was committed meanwhile.
        """
        with self._write_lock:
            if sentences is not None:
                put_sentences(self._sentences, chunks, record.content_hash, sentences)
            put_chunks(self._chunks, chunks, record.content_hash, vectors)
            got = self._docs.get(ids=[record.id], include=["documents", "metadatas"])
            now = record_from(got["metadatas"][0]) if got["ids"] else None
            if now is None or now.content_hash != record.content_hash:
                self._drop_version(record.id, record.content_hash)  # nobody sees it any more
                return False
            if now.dense_pending:
                put_record(
                    self._docs,
                    replace(now, dense_pending=False),
                    got["documents"][0] or "",
                    str(got["metadatas"][0].get("pages", "[]")),
                )
            self._pending.delete(
                where={"$and": [{"doc_id": record.id}, {"hash": record.content_hash}]}
            )
        if refresh:
            self.refresh()
        return True

    def _drop_version(self, doc_id: str, content_hash: str) -> None:
        for collection in self._versioned:
            collection.delete(where={"$and": [{"doc_id": doc_id}, {"hash": content_hash}]})

    def delete(self, doc_id: str) -> None:
        """Remove a document: its record first (it disappears at once), then its chunks."""
        with self._write_lock:
            if not self._docs.get(ids=[doc_id])["ids"] or doc_id == META_ID:
                raise NotFound(f"no document with id {doc_id!r}")
            self._docs.delete(ids=[doc_id])
            put_generation(self._docs)
            for collection in self._versioned:
                collection.delete(where={"doc_id": doc_id})
        self.refresh()

    def collect_garbage(self, doc_ids: Sequence[str] | None = None, older_than: float = 0.0) -> int:
        """Delete chunks that belong to no committed document version (left by an interrupted
        ingest, or by a writer that lost a race for the same document); only those written more
        than `older_than` seconds ago, and only of `doc_ids` when given.

        Vectors already stored for a version still pending are kept: `fill` resumes over them.
        """
        return self._garbage.collect(doc_ids, older_than)[0]


def collection_prefix(settings: Settings, embedder_name: str) -> str:
    """What an embedder's collections and lexical segments are named by: changing models never
    mixes vector spaces."""
    return f"{settings.collection}-{slug(embedder_name)}"


def other_embedders(settings: Settings, embedder_name: str) -> list[str]:
    """The embedders other than `embedder_name` that an embedded index folder holds documents
    for (each keeps its own collections and lexical segments): why a search may find nothing."""
    own = collection_prefix(settings, embedder_name)
    folder = Path(settings.index_dir, "lexical")
    if settings.chroma_mode == "http" or not folder.is_dir():
        return []
    return sorted(
        d.name[len(settings.collection) + 1 :].rsplit("-", 1)[0]
        for d in folder.iterdir()
        if d.is_dir()
        and d.name.startswith(f"{settings.collection}-")
        and d.name != own
        and any(d.iterdir())
    )


def exists(settings: Settings) -> bool:
    """Whether an embedded index has been built at settings.index_dir."""
    return settings.chroma_mode == "http" or Path(settings.index_dir, "chroma").exists()
