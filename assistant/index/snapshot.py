"""Readers' view of the index: a segment per document version, merged into one immutable Snapshot.

A refresh rebuilds only the segments of documents that changed; the others are reused from memory,
or from the segment files a previous process left, so a restarted worker opens without re-reading
every chunk from Chroma or tokenising again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.index.lexical import BM25, Postings
from assistant.models import Chunk
from assistant.text.tokenize import TOKENIZER_VERSION, spelled

log = logging.getLogger(__name__)

SEPARATOR = "\x00"  # between the texts of a segment file's blobs; cleaned text never holds it

# Segment files nobody has used for this long are removed (a newer worker's fresh file is not).
STALE_SECONDS = 600


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
    # Searchable by its words, its vectors still being computed (they are not in the dense index yet).
    dense_pending: bool = False


@dataclass(frozen=True)
class Segment:
    """One document version's chunks (in reading order) and their BM25 postings."""

    key: str
    chunks: tuple[Chunk, ...]
    postings: Postings
    # The distinct characters its texts use (normalised): what the index can never contain.
    chars: str

    @classmethod
    def build(
        cls,
        key: str,
        chunks: Iterable[Chunk],
        tokenize: Callable[[str], list[str]],
    ) -> Segment:
        ordered = tuple(sorted(chunks, key=lambda c: (c.start, c.id)))
        postings = Postings.of([tokenize(c.embed_text) for c in ordered])
        return cls(key, ordered, postings, _chars(ordered))


def _chars(chunks: Iterable[Chunk]) -> str:
    return spelled(c.embed_text for c in chunks)


def segment_key(record: DocumentRecord) -> str:
    """Names one written version of a document (a rewrite of the same content gets a new key)."""
    raw = "|".join(
        [TOKENIZER_VERSION, record.id, record.content_hash, record.ingested_at, str(record.chunks)]
    )
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()


@dataclass
class Snapshot:
    """An immutable view for readers; a refresh swaps in a new one whole."""

    generation: str
    documents: dict[str, DocumentRecord]
    chunks: list[Chunk]
    by_id: dict[str, int]
    bm25: BM25
    # The documents' segments in chunk order: per-document work can be kept across snapshots.
    segments: tuple[Segment, ...] = ()

    @classmethod
    def merge(
        cls,
        generation: str,
        documents: dict[str, DocumentRecord],
        segments: dict[str, Segment],
    ) -> Snapshot:
        """Chunks ordered by (document id, start, id): the same order whatever was rebuilt."""
        ordered = [segments[i] for i in sorted(segments)]
        chunks = [c for s in ordered for c in s.chunks]
        bm25 = BM25([s.postings for s in ordered])
        by_id = {c.id: i for i, c in enumerate(chunks)}
        return cls(generation, documents, chunks, by_id, bm25, tuple(ordered))


class SegmentCache:
    """Segment files in one folder, written atomically; a damaged or missing file is a cache miss."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.seg"

    def load(self, key: str) -> Segment | None:
        path = self.path(key)
        try:
            data = _read_arrays(path)
            postings = Postings.from_arrays(data)
            chunks = _chunks(data)
            chars = data["chars"].tobytes().decode("utf-8") if "chars" in data else None
            os.utime(path)  # in use: not stale
        except (FileNotFoundError, OldFormat):  # a segment file of an earlier release: rebuilt
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("segment file %s unreadable, rebuilding it: %s", path.name, exc)
            return None
        segment = Segment(key, chunks, postings, _chars(chunks) if chars is None else chars)
        if chars is None:  # written before segments kept their characters: saved with them
            self.save(segment)
        return segment

    def save(self, segment: Segment) -> None:
        """Write atomically; a cache, so a full disk costs speed at the next start, nothing else."""
        path = self.path(segment.key)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            chars = np.frombuffer(segment.chars.encode("utf-8"), dtype=np.uint8)
            arrays = {**_chunk_arrays(segment.chunks), **segment.postings.arrays(), "chars": chars}
            _write_arrays(tmp, arrays)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("cannot save %s: %s", path.name, exc)
            tmp.unlink(missing_ok=True)

    def prune(self, live: Sequence[str]) -> int:
        """Remove files of versions no longer live and unused for a while."""
        keep = set(live)
        cutoff = time.time() - STALE_SECONDS
        removed = 0
        for f in self.folder.glob("*.seg") if self.folder.is_dir() else []:
            try:
                if f.stem not in keep and f.stat().st_mtime < cutoff:
                    f.unlink()
                    removed += 1
            except OSError:
                continue
        return removed


class OldFormat(Exception):
    """A segment file written by another version of this code."""


def _blob(texts: Iterable[str]) -> np.ndarray:
    return np.frombuffer(SEPARATOR.join(texts).encode("utf-8"), dtype=np.uint8)


def _unblob(a: np.ndarray, n: int) -> list[str]:
    texts = a.tobytes().decode("utf-8").split(SEPARATOR) if n else []
    if len(texts) != n:
        raise ValueError("segment file texts do not match its chunks")
    return texts


def _chunk_arrays(chunks: Sequence[Chunk]) -> dict[str, np.ndarray]:
    """Texts as two blobs (one split, no JSON decoding per character), the rest as JSON rows.

    embed_text, which ends with the text (heading path first), keeps only its head."""
    if any(SEPARATOR in c.text or SEPARATOR in c.embed_text for c in chunks):
        raise OSError("a chunk holds the separator")  # never in cleaned text; then not cached
    tails = [c.embed_text.endswith(c.text) for c in chunks]
    heads = [
        c.embed_text[: len(c.embed_text) - len(c.text)] if tail else c.embed_text
        for c, tail in zip(chunks, tails, strict=True)
    ]
    rows = [
        [c.id, c.document_id, c.document_title, c.start, c.end, c.heading_path, c.pages, c.ocr,
         c.page_breaks, tail]
        for c, tail in zip(chunks, tails, strict=True)
    ]  # fmt: skip
    return {
        "rows": np.frombuffer(json.dumps(rows, ensure_ascii=False).encode("utf-8"), np.uint8),
        "texts": _blob(c.text for c in chunks),
        "heads": _blob(heads),
    }


def _chunks(data: dict[str, np.ndarray]) -> tuple[Chunk, ...]:
    rows = json.loads(data["rows"].tobytes().decode("utf-8"))
    texts = _unblob(data["texts"], len(rows))
    heads = _unblob(data["heads"], len(rows))
    return tuple(
        Chunk(r[0], r[1], r[2], t, r[3], r[4], r[5], r[6], h + t if r[9] else h, r[7], r[8])
        for r, t, h in zip(rows, texts, heads, strict=True)
    )


# A segment file: MAGIC, the header's length (8 bytes), a JSON header naming each array's dtype,
# length and offset, then the arrays' bytes. One read and no parsing per array: a restarted worker
# opens ~1,000 of them (.npz spent most of its time in zip and header parsing).
MAGIC = b"PA-SEGMENT-4\n"


def _write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    header, offset, blobs = [], 0, []
    for name, a in arrays.items():
        blob = np.ascontiguousarray(a).tobytes()
        header.append([name, a.dtype.str, len(a), offset])
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header).encode("ascii")
    with path.open("wb") as f:
        f.write(MAGIC + len(head).to_bytes(8, "little") + head)
        for blob in blobs:
            f.write(blob)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    if not raw.startswith(MAGIC):
        raise (
            OldFormat
            if raw.startswith(b"PA-SEGMENT-") or raw.startswith(b"PK")
            else ValueError("not a segment file")
        )
    at = len(MAGIC)
    size = int.from_bytes(raw[at : at + 8], "little")
    header = json.loads(raw[at + 8 : at + 8 + size])
    body = memoryview(raw)[at + 8 + size :]
    out = {}
    for name, dtype, length, offset in header:
        dt = np.dtype(dtype)
        out[name] = np.frombuffer(body, dtype=dt, count=length, offset=offset)
    return out
