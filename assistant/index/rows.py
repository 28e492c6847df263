"""How chunks, document records, pages and sentence vectors are written into Chroma rows and read
back: the index's storage format, apart from what the index does with it."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from assistant.index.snapshot import DocumentRecord
from assistant.models import Chunk, PageSpan

BATCH = 1000  # rows per Chroma write; reads page BATCH * 10 at a time
META_ID = "__meta__"  # the records row whose generation changes at every commit


def chunk_meta(c: Chunk, content_hash: str, written: float = 0.0) -> dict[str, Any]:
    """A chunk's Chroma metadata: where it sits, its version and when it was written."""
    return {
        "doc_id": c.document_id,
        "written": written,
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


def chunk_from(cid: str, text: str, meta: dict[str, Any]) -> Chunk:
    """The chunk a row holds (`chunk_meta` read back)."""
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


def record_from(meta: Any) -> DocumentRecord:
    """The document record a records row holds."""
    return DocumentRecord(**json.loads(meta["record"]))


def paged(
    collection: Any, include: list[str], where: dict[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Every row `where` selects, as Chroma `get` results of up to BATCH * 10 rows."""
    offset = 0
    while True:
        got = collection.get(where=where, include=include, limit=BATCH * 10, offset=offset)
        yield got
        if len(got["ids"]) < BATCH * 10:
            return
        offset += len(got["ids"])


def row_versions(
    collection: Any, where: dict[str, Any] | None
) -> list[tuple[str, str, str, float]]:
    """(chunk id, document id, version, when written) of every row `where` selects; rows written
    before chunks carried a time count as written long ago."""
    return [
        (cid, str(m["doc_id"]), str(m["hash"]), float(m.get("written") or 0.0))
        for got in paged(collection, ["metadatas"], where)
        for cid, m in zip(got["ids"], got["metadatas"], strict=True)
    ]


def chunk_rows(got: dict[str, Any]) -> list[tuple[Chunk, str]]:
    """Each chunk of a Chroma `get` result with its version (content hash)."""
    return [
        (chunk_from(cid, text, meta), str(meta["hash"]))
        for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    ]


def pack(vectors: np.ndarray) -> str:
    """Sentence vectors as text: each row a float32 scale and int8 values, in base64 (a third of
    float32's bytes; a cosine moves by about 0.001)."""
    v = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    scale = np.abs(v).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    q = np.round(v / scale).astype(np.int8)
    header = np.array(v.shape, dtype=np.int32).tobytes()
    return base64.b64encode(header + scale.astype(np.float32).tobytes() + q.tobytes()).decode()


def unpack(raw: str) -> np.ndarray:
    """The float32 rows `pack` packed."""
    data = base64.b64decode(raw)
    n, dim = (int(x) for x in np.frombuffer(data[:8], dtype=np.int32))
    scale = np.frombuffer(data[8 : 8 + 4 * n], dtype=np.float32).reshape(n, 1)
    q = np.frombuffer(data[8 + 4 * n :], dtype=np.int8).reshape(n, dim)
    return q.astype(np.float32) * scale


def pages_json(pages: Sequence[PageSpan]) -> str:
    """A document's page spans as the JSON a records row keeps."""
    return json.dumps([[p.number, p.start, p.end] for p in pages])


def read_all(collection: Any) -> list[tuple[Chunk, str]]:
    """Every chunk a collection holds, with its version."""
    return [row for got in paged(collection, ["documents", "metadatas"]) for row in chunk_rows(got)]


def put_chunks(
    collection: Any, chunks: Sequence[Chunk], content_hash: str, vectors: np.ndarray | None
) -> None:
    """Write one version's chunks, with their vectors (None: the pending collection's rows)."""
    written = time.time()
    _upsert(
        collection,
        [c.id for c in chunks],
        # The pending collection holds no vectors; Chroma wants one per row all the same.
        [[0.0]] * len(chunks) if vectors is None else vectors.tolist(),
        [c.text for c in chunks],
        [chunk_meta(c, content_hash, written) for c in chunks],
    )


def put_sentences(
    collection: Any, chunks: Sequence[Chunk], content_hash: str, vectors: Sequence[np.ndarray]
) -> None:
    """Write each chunk's sentence vectors, packed into one row per chunk."""
    written = time.time()
    _upsert(
        collection,
        [c.id for c in chunks],
        [[0.0]] * len(chunks),
        [pack(v) for v in vectors],
        [{"doc_id": c.document_id, "hash": content_hash, "written": written} for c in chunks],
    )


def _upsert(
    collection: Any,
    ids: list[str],
    embeddings: list[Any],
    documents: list[str],
    metadatas: list[dict[str, Any]],
) -> None:
    for i in range(0, len(ids), BATCH):
        collection.upsert(
            ids=ids[i : i + BATCH],
            embeddings=embeddings[i : i + BATCH],
            documents=documents[i : i + BATCH],
            metadatas=metadatas[i : i + BATCH],
        )


def put_record(records: Any, record: DocumentRecord, text: str, pages: str) -> None:
    """Commit a document record with a new generation."""
    # The record and the new generation go in one call, so other workers never miss a commit.
    records.upsert(
        ids=[record.id, META_ID],
        embeddings=[[0.0], [0.0]],
        documents=[text, ""],
        metadatas=[
            {"record": json.dumps(asdict(record), ensure_ascii=False), "pages": pages},
            {"generation": uuid.uuid4().hex},
        ],
    )


def put_generation(records: Any) -> None:
    """A new generation alone (after a delete): every reader rebuilds its view."""
    records.upsert(
        ids=[META_ID],
        embeddings=[[0.0]],
        documents=[""],
        metadatas=[{"generation": uuid.uuid4().hex}],
    )
