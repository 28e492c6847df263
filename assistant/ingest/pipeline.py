"""Ingest files: parse, clean, chunk, embed and write each document, one failure never stopping the rest."""

from __future__ import annotations

import hashlib
import json
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError, IngestError, UnsupportedFormat
from assistant.index.embed import Embedder
from assistant.index.store import DocumentRecord, Index
from assistant.ingest.chunk import chunk_document
from assistant.ingest.clean import clean
from assistant.ingest.metadata import derive, merged
from assistant.ingest.parse import KINDS, parse_bytes
from assistant.models import Chunk, Document
from assistant.settings import Settings
from assistant.text.places import Gazetteer
from assistant.text.structure import sentences
from assistant.text.zh import UNPRINTABLE

SUPPORTED = frozenset(KINDS)
SIDECAR = ".meta.json"
# Bumped when parsing, cleaning, chunking or what is stored per chunk changes (4: sentence
# vectors), so re-ingest rebuilds every document.
PIPELINE_VERSION = "4"


@dataclass
class IngestReport:
    """What an ingest run did, for the summary line and the API."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        line = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.skipped)} unchanged, "
            f"{len(self.removed)} removed, {len(self.failed)} failed; {self.chunks} chunks in {self.seconds:.1f}s"
        )
        return "\n".join(
            [
                line,
                *(
                    f"  failed: {printable(name)}: {printable(reason)}"
                    for name, reason in self.failed
                ),
            ]
        )


def printable(text: str) -> str:
    """`text` with control, format and line-separator characters escaped: safe on one terminal line."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in UNPRINTABLE
        else ch
        for ch in text
    )


def document_id(name: str) -> str:
    """Stable id from the file's path relative to what was ingested."""
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:16]


def content_hash(data: bytes, settings: Settings, metadata: dict[str, str]) -> str:
    h = hashlib.sha256(data)
    config = [PIPELINE_VERSION, settings.chunk_size, settings.chunk_overlap]
    h.update(json.dumps(config, ensure_ascii=False).encode())
    # Where the file was ingested from is not part of its content.
    h.update(
        json.dumps(
            sorted((k, v) for k, v in metadata.items() if k != "root"), ensure_ascii=False
        ).encode()
    )
    return h.hexdigest()


def read_sidecar(path: Path) -> dict[str, str]:
    """Optional `<file>.meta.json` next to a file: title, issuer, source, date …"""
    sidecar = path.with_name(path.name + SIDECAR)
    if not sidecar.exists():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IngestError(f"metadata file {sidecar.name} is not valid JSON: {exc}") from exc
    # A list (the visitors' questions a document answers) is kept one item per line.
    return {
        str(k): "\n".join(map(str, v)) if isinstance(v, list) else str(v)
        for k, v in data.items()
        if v not in (None, "", [])
    }


def build_document(
    data: bytes,
    name: str,
    settings: Settings,
    metadata: dict[str, str] | None = None,
    source: str = "",
    gazetteer: Gazetteer | None = None,
) -> Document:
    """Bytes of one file → a cleaned Document (raises IngestError with the reason).

    `gazetteer` reads the document's jurisdiction; pass the caller's to avoid loading it again.
    """
    if Path(name).suffix.lower() not in SUPPORTED:
        raise UnsupportedFormat(
            f"unsupported file type {Path(name).suffix or '(none)'!r}; use TXT, MD, PDF, DOCX or HTML"
        )
    metadata = dict(metadata or {})
    digest = content_hash(data, settings, metadata)
    parsed = parse_bytes(
        data, Path(name).name, max_unpacked_bytes=settings.max_unpacked_bytes, ocr=settings.ocr
    )
    text, pages = clean(parsed)
    if not text.strip():
        raise IngestError("no text left after cleaning")
    title = (
        metadata.pop("title", "") or parsed.title.strip() or _first_heading(text) or Path(name).stem
    )
    # A file name may hold control characters (ESC sequences, bidi overrides); a title never does.
    title = (
        "".join(ch for ch in title if unicodedata.category(ch) not in UNPRINTABLE).strip()
        or "untitled"
    )
    derived = derive(title, text, Path(name).name, gazetteer or Gazetteer.load())
    return Document(
        id=document_id(name),
        title=title,
        source=source or name,
        doc_type=parsed.doc_type,
        text=text,
        content_hash=digest,
        pages=pages,
        ocr_pages=list(parsed.ocr_pages),
        metadata=merged({**parsed.metadata, **metadata}, derived),
    )


def _first_heading(text: str) -> str:
    """The document's first line when it reads as a title (short, no closing punctuation)."""
    from assistant.text.structure import classify

    first = text.split("\n", 1)[0]
    line = classify(first, 0, len(first))
    return line.heading if line.heading and line.rank == 1 else ""


def embed_chunks(
    embedder: Embedder, chunks: Sequence[Chunk], batch: int, tick: Callable[[int], None]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each chunk's vector and its sentences' vectors (in the order `text.structure.sentences`
    splits it: what the answer stage weighs), a batch of chunks at a time so that progress is
    told per chunk; a sentence that overlapping chunks share is embedded once."""
    done: dict[str, np.ndarray] = {}
    vectors: list[np.ndarray] = []
    each: list[np.ndarray] = []
    for i in range(0, len(chunks), batch):
        part = chunks[i : i + batch]
        vectors.append(embedder.embed([c.embed_text for c in part]))
        spans = [sentences(c.text, 0, len(c.text)) for c in part]
        new = list(
            dict.fromkeys(
                t
                for c, cut in zip(part, spans, strict=True)
                for a, b in cut
                if (t := c.text[a:b]) not in done
            )
        )
        for j in range(0, len(new), batch):
            done.update(zip(new[j : j + batch], embedder.embed(new[j : j + batch]), strict=True))
        dim = vectors[-1].shape[1]
        each += [
            np.stack([done[c.text[a:b]] for a, b in cut]) if cut else np.zeros((0, dim))
            for c, cut in zip(part, spans, strict=True)
        ]
        tick(len(part))
    return (np.vstack(vectors) if vectors else np.zeros((0, 1), dtype=np.float32)), each


def index_document(
    doc: Document,
    index: Index,
    embedder: Embedder | None,
    settings: Settings,
    tick: Callable[[int], None] = lambda n: None,
    refresh: bool = True,
    on_searchable: Callable[[DocumentRecord], None] = lambda r: None,
) -> tuple[str, int]:
    """Write one document unless unchanged; returns ("added"|"updated"|"unchanged", chunks).

    With an embedder the document is searchable by its words as soon as it is chunked
    (`on_searchable` is told), and its vectors follow as they are computed.
    """
    status, record, chunks = place_document(doc, index, embedder is not None, settings, refresh)
    on_searchable(record)
    if record.dense_pending and embedder is not None:
        fill_vectors(record, index, embedder, settings, tick, chunks, refresh)
    return status, record.chunks


def place_document(
    doc: Document, index: Index, staged: bool, settings: Settings, refresh: bool = True
) -> tuple[str, DocumentRecord, list[Chunk] | None]:
    """Chunk and write a document (staged: without vectors yet) unless the index has it already."""
    existing = index.record(doc.id)
    if existing is not None and existing.content_hash == doc.content_hash:
        return "unchanged", existing, None
    chunks = chunk_document(doc, settings.chunk_size, settings.chunk_overlap)
    if not chunks:
        raise IngestError("the document produced no passages")
    if staged:
        record = index.stage(doc, chunks, refresh=refresh)
    else:
        record = index.write(doc, chunks, None, refresh=refresh)
    return ("updated" if existing else "added"), record, chunks


def fill_vectors(
    record: DocumentRecord,
    index: Index,
    embedder: Embedder,
    settings: Settings,
    tick: Callable[[int], None] = lambda n: None,
    chunks: Sequence[Chunk] | None = None,
    refresh: bool = True,
) -> bool:
    """Compute and store a staged document's vectors, its chunks' and their sentences'; False if
    a newer version replaced it."""
    chunks = list(chunks) if chunks is not None else index.pending_chunks(record)
    vectors, each = embed_chunks(embedder, chunks, settings.embed_batch_size, tick)
    return index.fill(record, chunks, vectors, refresh=refresh, sentences=each)


def _check_not_clobbering(known: DocumentRecord | None, path: Path, root: str | None) -> None:
    """Refuse to replace a document that another, still existing file with the same relative name holds.

    Ids come from names relative to the ingested folder, so `a/通知.txt` and `b/通知.txt` share one;
    ingesting `b` must not silently drop `a`'s document. (A moved folder is fine: its old files are gone.)
    """
    if known is None or root is None or known.metadata.get("root") in (None, root):
        return
    old = Path(known.source)
    if old.is_file() and old.resolve() != path.resolve():
        raise IngestError(
            f"a different file with the same name, {known.source}, is already indexed as document {known.id}; "
            "rename one of them (or delete that document first)"
        )


def discover(paths: Iterable[Path]) -> list[tuple[Path, str, Path | None]]:
    """(file, name relative to what was given, the folder it came from) for every file to ingest."""
    found: list[tuple[Path, str, Path | None]] = []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if (
                    f.is_file()
                    and not f.name.startswith(".")
                    and not f.name.endswith(SIDECAR)
                    and f.suffix.lower() in SUPPORTED
                ):
                    found.append((f, f.relative_to(p).as_posix(), p))
        else:
            found.append((p, p.name, None))
    return found


def ingest_paths(
    paths: Sequence[Path],
    index: Index,
    embedder: Embedder | None,
    settings: Settings,
    progress: bool = True,
    prune: bool = True,
    gazetteer: Gazetteer | None = None,
) -> IngestReport:
    """Ingest files and folders; documents gone from an ingested folder are removed."""
    from tqdm import tqdm

    gazetteer = gazetteer or Gazetteer.load()
    started = time.perf_counter()
    report = IngestReport()
    items = discover(paths)
    bar = tqdm(total=len(items), unit="doc", disable=not progress, file=sys.stderr, desc="ingest")
    seen_by_root: dict[str, set[str]] = {}
    # Records come straight from the store: the in-memory view is rebuilt once, at the end.
    records = index.records()
    roots = {str(root.resolve()) for _, _, root in items if root is not None}
    discovered = {document_id(name) for _, name, root in items if root is not None}
    # Documents this run will prune (gone from a folder being ingested) are no one's twin.
    leaving = (
        {i for i, r in records.items() if r.metadata.get("root") in roots and i not in discovered}
        if prune
        else set()
    )
    pending: list[tuple[str, DocumentRecord, list[Chunk] | None]] = []
    for path, name, root in items:
        bar.set_postfix_str(name[-30:])
        if root is not None:
            seen_by_root.setdefault(str(root.resolve()), set()).add(document_id(name))
        try:
            if not path.exists():
                raise IngestError("file not found")
            meta = read_sidecar(path)
            if root is not None:
                meta["root"] = str(root.resolve())
            data = path.read_bytes()
            doc_id = document_id(name)
            digest = content_hash(data, settings, meta)
            known = records.get(doc_id)
            if known is not None and known.content_hash == digest:
                report.skipped.append(name)
                report.chunks += known.chunks
                if known.dense_pending and embedder is not None:
                    pending.append((name, known, None))  # an earlier run stopped before its vectors
                bar.update(1)
                continue
            _check_not_clobbering(known, path, meta.get("root"))
            twin = next(
                (
                    r
                    for r in records.values()
                    if r.content_hash == digest and r.id != doc_id and r.id not in leaving
                ),
                None,
            )
            if twin is not None:
                raise IngestError(
                    f"same content as {twin.source} (document {twin.id}), which is already indexed; not indexed twice"
                )
            doc = build_document(
                data, name, settings, meta, source=str(path.resolve()), gazetteer=gazetteer
            )
            status, record, chunks = place_document(
                doc, index, embedder is not None, settings, refresh=False
            )
            {"added": report.added, "updated": report.updated, "unchanged": report.skipped}[
                status
            ].append(name)
            report.chunks += record.chunks
            records[doc_id] = record
            if record.dense_pending:
                pending.append((name, record, chunks))
        except AssistantError as exc:
            report.failed.append((name, exc.message))
        except OSError as exc:
            report.failed.append((name, f"cannot read file: {exc.strerror or exc}"))
        bar.update(1)
    bar.close()
    # Every document is searchable by its words from here; the vectors follow.
    index.refresh()
    if embedder is not None and pending:
        _fill_all(pending, index, embedder, settings, report, progress)
        index.refresh()
    if prune:
        for doc_id, rec in list(index.snapshot.documents.items()):
            doc_root = rec.metadata.get("root", "")
            if doc_root in seen_by_root and doc_id not in seen_by_root[doc_root]:
                index.delete(doc_id)
                report.removed.append(rec.source)
    report.seconds = time.perf_counter() - started
    return report


def _fill_all(
    pending: Sequence[tuple[str, DocumentRecord, list[Chunk] | None]],
    index: Index,
    embedder: Embedder,
    settings: Settings,
    report: IngestReport,
    progress: bool,
) -> None:
    """The vectors of every staged document; a failure leaves that one searchable by its words."""
    from tqdm import tqdm

    total = sum(r.chunks for _, r, _ in pending)
    bar = tqdm(total=total, unit="chunk", disable=not progress, file=sys.stderr, desc="vectors")
    for name, record, chunks in pending:
        try:
            fill_vectors(record, index, embedder, settings, bar.update, chunks, refresh=False)
        except AssistantError as exc:
            report.failed.append(
                (name, f"searchable by its words, but its vectors failed: {exc.message}")
            )
    bar.close()
