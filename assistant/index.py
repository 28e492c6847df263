"""The index: chunk vectors and document records in Chroma, a BM25 index rebuilt from them.

Chroma is the single source of truth, so several workers sharing a Chroma server see the same
documents. A document becomes visible only when its record is written, after all of its chunks:
readers ignore chunks whose content hash differs from their document's record.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .embed import slug
from .errors import IndexNotReady, NotFound
from .lexical import BM25
from .models import Chunk, Document, PageSpan
from .settings import Settings
from .tokenize import TOKENIZER_VERSION

log = logging.getLogger(__name__)

META_ID = "__meta__"
BATCH = 1000


@dataclass
class DocumentRecord:
    """What the index knows about a document, without its text."""

    id: str
    title: str
    source: str
    doc_type: str
    content_hash: str
    chunks: int
    pages: int
    ingested_at: str
    ocr_pages: list[int] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class Snapshot:
    """An immutable view for readers; a refresh swaps in a new one whole."""

    generation: str
    documents: dict[str, DocumentRecord]
    chunks: list[Chunk]
    by_id: dict[str, int]
    bm25: BM25


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
        prefix = f"{settings.collection}-{slug(embedder_name)}"
        self._chunks = self._client.get_or_create_collection(
            f"{prefix}-chunks", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        self._docs = self._client.get_or_create_collection(
            f"{prefix}-docs", embedding_function=None
        )
        self._token_cache_path = settings.index_dir / f"lexical-{prefix}.json"
        self._tokens: dict[str, list[str]] = self._load_token_cache()
        self._write_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._checked_at = 0.0
        self._snapshot: Snapshot | None = None
        self.refresh(force=True)

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
            generation = self._generation()
            if not force and self._snapshot is not None and self._snapshot.generation == generation:
                return
            self._snapshot = self._build(generation)
        finally:
            self._refresh_lock.release()

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
        docs = self._read_documents()
        chunks = [
            c
            for c in self._read_chunks()
            if c[1] == docs.get(c[0].document_id, _NO_DOC).content_hash
        ]
        ordered = sorted((c for c, _ in chunks), key=lambda c: (c.document_id, c.start, c.id))
        fresh = False
        for c in ordered:
            if c.id not in self._tokens:
                self._tokens[c.id] = self._tokenize(c.embed_text)
                fresh = True
        live = {c.id for c in ordered}
        if fresh or len(self._tokens) != len(live):
            self._tokens = {k: v for k, v in self._tokens.items() if k in live}
            self._save_token_cache()
        bm25 = BM25([self._tokens[c.id] for c in ordered])
        return Snapshot(generation, docs, ordered, {c.id: i for i, c in enumerate(ordered)}, bm25)

    def record(self, doc_id: str) -> DocumentRecord | None:
        """A document's committed record, read from the store (not the snapshot), or None."""
        got = self._docs.get(ids=[doc_id], include=["metadatas"])
        if not got["ids"] or doc_id == META_ID:
            return None
        return DocumentRecord(**json.loads(got["metadatas"][0]["record"]))

    def records(self) -> dict[str, DocumentRecord]:
        """Every committed document record, read from the store (cheap: no chunks, no BM25)."""
        return self._read_documents()

    def _read_documents(self) -> dict[str, DocumentRecord]:
        got = self._docs.get(include=["metadatas"])
        out = {}
        for doc_id, meta in zip(got["ids"], got["metadatas"], strict=True):
            if doc_id != META_ID:
                out[doc_id] = DocumentRecord(**json.loads(meta["record"]))
        return out

    def _read_chunks(self) -> list[tuple[Chunk, str]]:
        out = []
        offset = 0
        while True:
            got = self._chunks.get(
                include=["documents", "metadatas"], limit=BATCH * 10, offset=offset
            )
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                out.append((_chunk_from(cid, text, meta), str(meta["hash"])))
            if len(got["ids"]) < BATCH * 10:
                return out
            offset += len(got["ids"])

    def dense(
        self, vector: np.ndarray, n: int, document_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Nearest chunk ids by cosine similarity (1 - distance), best first."""
        total = self._chunks.count()
        if total == 0:
            return []
        where = {"doc_id": {"$in": list(document_ids)}} if document_ids else None
        got = self._chunks.query(
            query_embeddings=[vector.tolist()],
            n_results=min(n, total),
            where=where,
            include=["distances"],
        )
        return [
            (cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0], strict=True)
        ]

    def document(self, doc_id: str) -> tuple[DocumentRecord, str]:
        """A document's record and its cleaned text."""
        got = self._docs.get(ids=[doc_id], include=["documents", "metadatas"])
        if not got["ids"] or doc_id == META_ID:
            raise NotFound(f"no document with id {doc_id!r}")
        return DocumentRecord(**json.loads(got["metadatas"][0]["record"])), got["documents"][
            0
        ] or ""

    # ----- writing -------------------------------------------------------------------------

    def write(
        self,
        doc: Document,
        chunks: Sequence[Chunk],
        vectors: np.ndarray | None,
        refresh: bool = True,
    ) -> DocumentRecord:
        """Store a document's chunks, then its record (the moment it becomes visible), then drop the
        replaced version's chunks.

        refresh=False skips rebuilding this process's view (a full re-read of the store, so per-document
        rebuilds make a bulk ingest quadratic); readers pick the change up at their next periodic check.
        """
        if vectors is None:
            vectors = np.ones((len(chunks), 1), dtype=np.float32)
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
        )
        with self._write_lock:
            # The version this write replaces, read before it commits: only that version's chunks
            # are removed afterwards. Removing "every other version" would, when two workers write
            # one document at once, delete the chunks of the one that committed last (last
            # writer wins; the loser's chunks stay invisible until collect_garbage).
            before = self.record(doc.id)
            for i in range(0, len(chunks), BATCH):
                part = chunks[i : i + BATCH]
                self._chunks.upsert(
                    ids=[c.id for c in part],
                    embeddings=vectors[i : i + BATCH].tolist(),
                    documents=[c.text for c in part],
                    metadatas=[_chunk_meta(c, doc.content_hash) for c in part],
                )
            # The record and the new generation go in one call, so other workers never miss a commit.
            self._docs.upsert(
                ids=[doc.id, META_ID],
                embeddings=[[0.0], [0.0]],
                documents=[doc.text, ""],
                metadatas=[
                    {
                        "record": json.dumps(asdict(record), ensure_ascii=False),
                        "pages": _pages_json(doc.pages),
                    },
                    {"generation": uuid.uuid4().hex},
                ],
            )
            if before is not None and before.content_hash != doc.content_hash:
                self._chunks.delete(
                    where={"$and": [{"doc_id": doc.id}, {"hash": before.content_hash}]}
                )
        if refresh:
            self.refresh(force=True)
        return record

    def delete(self, doc_id: str) -> None:
        """Remove a document: its record first (it disappears at once), then its chunks."""
        with self._write_lock:
            if not self._docs.get(ids=[doc_id])["ids"] or doc_id == META_ID:
                raise NotFound(f"no document with id {doc_id!r}")
            self._docs.delete(ids=[doc_id])
            self._bump()
            self._chunks.delete(where={"doc_id": doc_id})
        self.refresh(force=True)

    def collect_garbage(self) -> int:
        """Delete chunks that belong to no committed document version (left by an interrupted ingest)."""
        docs = self._read_documents()
        stale = [
            c.id
            for c, h in self._read_chunks()
            if docs.get(c.document_id, _NO_DOC).content_hash != h
        ]
        for i in range(0, len(stale), BATCH):
            self._chunks.delete(ids=stale[i : i + BATCH])
        return len(stale)

    def _bump(self) -> None:
        self._docs.upsert(
            ids=[META_ID],
            embeddings=[[0.0]],
            documents=[""],
            metadatas=[{"generation": uuid.uuid4().hex}],
        )

    # ----- lexical token cache ------------------------------------------------------------

    def _load_token_cache(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self._token_cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != TOKENIZER_VERSION:
            return {}
        tokens = data.get("tokens")
        return tokens if isinstance(tokens, dict) else {}

    def _save_token_cache(self) -> None:
        path = self._token_cache_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        payload = {"version": TOKENIZER_VERSION, "tokens": self._tokens}
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)


_NO_DOC = DocumentRecord("", "", "", "", "", 0, 0, "")


def _chunk_meta(c: Chunk, content_hash: str) -> dict[str, Any]:
    return {
        "doc_id": c.document_id,
        "hash": content_hash,
        "title": c.document_title,
        "heading": json.dumps(c.heading_path, ensure_ascii=False),
        "pages": json.dumps(c.pages),
        "page_breaks": json.dumps(c.page_breaks),
        "start": c.start,
        "end": c.end,
        "ocr": c.ocr,
        "embed_text": c.embed_text,
    }


def _chunk_from(cid: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        id=cid,
        document_id=str(meta["doc_id"]),
        document_title=str(meta["title"]),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        heading_path=json.loads(meta["heading"]),
        pages=json.loads(meta["pages"]),
        page_breaks=json.loads(str(meta.get("page_breaks", "[]"))),
        embed_text=str(meta["embed_text"]),
        ocr=bool(meta["ocr"]),
    )


def _pages_json(pages: Sequence[PageSpan]) -> str:
    return json.dumps([[p.number, p.start, p.end] for p in pages])


def page_spans(raw: str) -> list[PageSpan]:
    return [PageSpan(n, a, b) for n, a, b in json.loads(raw or "[]")]


def exists(settings: Settings) -> bool:
    """Whether an embedded index has been built at settings.index_dir."""
    return settings.chroma_mode == "http" or Path(settings.index_dir, "chroma").exists()
