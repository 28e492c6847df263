"""The lexical index at scale: cold open, memory, one-document change and BM25 latency, against
the previous implementation measured in the same run.

    .venv/bin/python bench/lexical_scale.py                    # 100k chunks (~15-25 min to build)
    .venv/bin/python bench/lexical_scale.py --chunks 10000     # quicker

Method (printed with the results):
- The index is built once in --folder (kept: a rerun reuses it) from replicas of the real documents
  in ../shared/external/policy_docs, exactly as bench/scale.py builds them, lexical only.
- Each implementation is measured in fresh processes, twice: the first open fills its cache (the
  baseline's JSON token cache; the new segment files), the second is what a restarted worker pays.
  - `baseline`: the index of 2026-11-29 (every refresh re-reads all chunks from Chroma, token lists
    from a JSON cache, BM25 postings in a dict of numpy arrays), vendored in bench/baseline_lexical.py
    and `BaselineIndex` below.
  - `segments`: assistant/index/ now (a segment per document version, merged into one CSC matrix).
- "one change": another writer replaces one document, then the reader's `refresh()` is timed: what
  each worker spends, after its next check (every `refresh_seconds`), before the change is live.
- RSS: VmRSS after the open (and VmHWM, the peak) of the measuring process, which holds Chroma's
  client and the index, not the embedding model or the API.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from baseline_lexical import BM25 as BaselineBM25  # noqa: E402
from procstat import status_mb  # noqa: E402
from scale import QUERIES, prepare, stream  # noqa: E402

from assistant.index.embed import slug  # noqa: E402
from assistant.index.rows import META_ID, chunk_meta, pages_json, read_all  # noqa: E402
from assistant.index.snapshot import DocumentRecord, Snapshot  # noqa: E402
from assistant.index.store import Index  # noqa: E402
from assistant.models import Chunk, Document  # noqa: E402
from assistant.retrieve.retriever import Retriever  # noqa: E402
from assistant.settings import Settings, get_settings  # noqa: E402
from assistant.text.analyzer import Analyzer  # noqa: E402
from assistant.text.tokenize import TOKENIZER_VERSION  # noqa: E402

OUT = REPO / "bench" / "out"


class BaselineIndex(Index):
    """The previous refresh: every chunk re-read from Chroma, tokens from a JSON cache, BM25 whole."""

    def __init__(self, settings: Settings, embedder_name: str, tok: Any) -> None:
        prefix = f"{settings.collection}-{slug(embedder_name)}"
        self._token_cache_path = settings.index_dir / f"lexical-{prefix}.json"
        try:
            data = json.loads(self._token_cache_path.read_text(encoding="utf-8"))
            ok = data.get("version") == TOKENIZER_VERSION
            self._tokens: dict[str, list[str]] = data["tokens"] if ok else {}
        except (OSError, ValueError):
            self._tokens = {}
        super().__init__(settings, embedder_name, tok)

    def _build(self, generation: str) -> Snapshot:
        docs = self._read_documents()
        ordered = sorted(
            (
                c
                for c, h in read_all(self._chunks)
                if c.document_id in docs and docs[c.document_id].content_hash == h
            ),
            key=lambda c: (c.document_id, c.start, c.id),
        )
        fresh = False
        for c in ordered:
            if c.id not in self._tokens:
                self._tokens[c.id] = self._tokenize(c.embed_text)
                fresh = True
        live = {c.id for c in ordered}
        if fresh or len(self._tokens) != len(live):
            self._tokens = {k: v for k, v in self._tokens.items() if k in live}
            payload = {"version": TOKENIZER_VERSION, "tokens": self._tokens}
            tmp = self._token_cache_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self._token_cache_path)
        bm25 = BaselineBM25([self._tokens[c.id] for c in ordered])
        by_id = {c.id: i for i, c in enumerate(ordered)}
        return Snapshot(generation, docs, ordered, by_id, bm25)  # type: ignore[arg-type]


def settings_for(folder: Path) -> Settings:
    return get_settings(index_dir=folder, embedder="none", refresh_seconds=3600.0, ocr=False)


def build(folder: Path, chunks: int) -> dict[str, Any]:
    """Fill the index to `chunks` (reusing what a previous run left).

    Documents go in groups of ~2,000 chunks, one Chroma upsert per group for the chunks and one for
    the records: what `Index.write` stores, 3x faster than a write per document (a bench shortcut;
    the index it leaves is the same).
    """
    settings = settings_for(folder)
    index = Index(settings, "none", Analyzer(settings.userdict_path).tokenize)
    have = len(index.snapshot.chunks)
    known = set(index.snapshot.documents)
    base, _ = prepare(settings)
    docs = stream(base)
    written, started = 0, time.perf_counter()
    group: list[tuple[Document, list[Chunk]]] = []
    while have + written < chunks:
        doc, cs = next(docs)
        if doc.id in known:
            continue
        group.append((doc, cs))
        written += len(cs)
        if sum(len(c) for _, c in group) >= 2000 or have + written >= chunks:
            write_group(index, group)
            group = []
    seconds = time.perf_counter() - started
    index._client.close()
    return {"chunks": have + written, "written": written, "write_s": seconds}


def write_group(index: Index, group: list[tuple[Document, list[Chunk]]]) -> None:
    rows = [(c, doc.content_hash) for doc, cs in group for c in cs]
    for i in range(0, len(rows), 2000):
        part = rows[i : i + 2000]
        index._chunks.upsert(
            ids=[c.id for c, _ in part],
            embeddings=[[1.0]] * len(part),
            documents=[c.text for c, _ in part],
            metadatas=[chunk_meta(c, h) for c, h in part],
        )
    now = datetime.now(UTC).isoformat(timespec="seconds")
    records = [
        DocumentRecord(
            doc.id, doc.title, doc.source, doc.doc_type, doc.content_hash, len(cs),
            len(doc.pages), now, list(doc.ocr_pages), dict(doc.metadata),
        )
        for doc, cs in group
    ]  # fmt: skip
    index._docs.upsert(
        ids=[r.id for r in records] + [META_ID],
        embeddings=[[0.0]] * (len(records) + 1),
        documents=[doc.text for doc, _ in group] + [""],
        metadatas=[
            {"record": json.dumps(asdict(r), ensure_ascii=False), "pages": pages_json(d.pages)}
            for r, (d, _) in zip(records, group, strict=True)
        ]
        + [{"generation": uuid.uuid4().hex}],
    )


def measure(folder: Path, impl: str) -> dict[str, Any]:
    """One worker's cold open, memory, one-document change and BM25 latency (run in a fresh process)."""
    settings = settings_for(folder)
    analyzer = Analyzer(settings.userdict_path, settings.synonyms_path)
    tok = analyzer.tokenize
    cls = BaselineIndex if impl == "baseline" else Index
    import chromadb  # noqa: F401  (its import, seconds here, is the same for both: not timed)

    t = time.perf_counter()
    reader = cls(settings, "none", tok)
    open_s = time.perf_counter() - t
    rss, peak = status_mb("VmRSS"), status_mb("VmHWM")
    snap = reader.snapshot
    retriever = Retriever(reader, None, settings, analyzer)
    times = []
    for _ in range(3):
        for q in QUERIES:
            t = time.perf_counter()
            assert retriever.search(q), q
            times.append((time.perf_counter() - t) * 1000)
    # Another writer replaces one document (a new version of its text), then this reader catches up.
    writer = Index(settings, "none", tok)
    first = rewrite(writer, sorted(snap.documents)[len(snap.documents) // 2])
    t = time.perf_counter()
    reader.refresh()
    change_s = time.perf_counter() - t
    assert any(c.id == first.id for c in reader.snapshot.chunks)
    return {
        "impl": impl,
        "chunks": len(snap.chunks),
        "documents": len(snap.documents),
        "open_s": open_s,
        "rss_mb": rss,
        "peak_mb": peak,
        "change_s": change_s,
        "bm25_p50_ms": float(np.percentile(times, 50)),
        "bm25_p95_ms": float(np.percentile(times, 95)),
    }


def rewrite(writer: Index, doc_id: str, marker: str = "", dim: int = 0) -> Chunk:
    """Write a new version of a document (its first chunk ends with `marker`); its first chunk.

    With `dim`, its chunks get random unit vectors of that size (a dense index's stand-in)."""
    record, text = writer.document(doc_id)
    version = f"{record.content_hash[:56]}{time.time_ns() % 10**8:08d}"
    changed = Document(
        id=doc_id,
        title=record.title,
        source=record.source,
        doc_type=record.doc_type,
        text=text,
        content_hash=version,
        metadata=record.metadata,
    )
    chunks = [c for c in writer.snapshot.chunks if c.document_id == doc_id]
    renamed = [
        replace(
            c,
            id=f"{doc_id}-{version[-8:]}-{i:05d}",
            text=c.text + marker,
            embed_text=c.embed_text + marker,
        )
        if i == 0
        else replace(c, id=f"{doc_id}-{version[-8:]}-{i:05d}")
        for i, c in enumerate(chunks)
    ]
    vectors = None
    if dim:
        v = np.random.default_rng(1).standard_normal((len(renamed), dim)).astype(np.float32)
        vectors = v / np.linalg.norm(v, axis=1, keepdims=True)
    writer.write(changed, renamed, vectors, refresh=False)
    return renamed[0]


def change_live(http: httpx.Client, writer: Index, dim: int = 0) -> float | None:
    """Another writer changes one document: seconds until the served /api/search finds the change
    (None after 120 s)."""
    snap = writer.snapshot
    marker = f"第{time.time_ns() % 10**6}号测试标记段落"
    rewrite(writer, sorted(snap.documents)[len(snap.documents) // 3], marker, dim)
    committed = time.perf_counter()
    while time.perf_counter() - committed < 120:
        hits = http.post("/api/search", json={"query": marker, "top_k": 3}).json()["hits"]
        if any(marker in h["text"] for h in hits):
            return time.perf_counter() - committed
        time.sleep(0.1)
    return None


def worker(folder: Path) -> dict[str, Any]:
    """A real API worker (`policy-assistant serve`, lexical) on the index: time to /readyz, memory,
    the first answer, and how long until a document changed by another writer is found by /api/search."""
    sys.path.insert(0, str(REPO / "bench"))
    from load_api import RssSampler, start_server

    started = time.perf_counter()
    proc, url = start_server(folder, 1, {"PA_EMBEDDER": "none", "PA_OCR": "false"})
    ready_s = time.perf_counter() - started
    sampler = RssSampler(proc.pid, every=0.5)
    sampler.start()
    try:
        with httpx.Client(base_url=url, timeout=120) as http:
            t = time.perf_counter()
            first = http.post("/api/ask", json={"question": QUERIES[0]})
            first_ask_s = time.perf_counter() - t
            assert first.status_code == 200, first.text
            settings = settings_for(folder)
            writer = Index(settings, "none", Analyzer(settings.userdict_path).tokenize)
            live_s = change_live(http, writer)
            writer._client.close()
        rss = sampler.stop()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"ready_s": ready_s, "first_ask_s": first_ask_s, "change_live_s": live_s, "rss_mb": rss}


def run_measure(folder: Path, impl: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--folder", str(folder), "--measure", impl],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--folder", type=Path, default=OUT / "lexical-index")
    p.add_argument("--measure", choices=["baseline", "segments"], help=argparse.SUPPRESS)
    p.add_argument("--worker-only", action="store_true", help="only the API worker measurement")
    p.add_argument(
        "--against", metavar="REV", help="with --worker-only: a git revision's worker first"
    )
    args = p.parse_args()
    if args.worker_only:
        if args.against:
            from hnsw_memory import checkout

            with checkout(args.against):
                print(f"{args.against}: {json.dumps(worker(args.folder))}")
        print(f"this build: {json.dumps(worker(args.folder))}")
        return
    if args.measure:
        print(json.dumps(measure(args.folder, args.measure)))
        return
    print(__doc__.split("Method", 1)[1].split("\n", 1)[1])
    built = build(args.folder, args.chunks)
    print(
        f"index: {built['chunks']:,} chunks ({built['written']:,} written now in {built['write_s']:.0f}s)"
    )
    rows = {}
    for impl in ("baseline", "segments"):
        first = run_measure(args.folder, impl)
        again = run_measure(args.folder, impl)
        rows[impl] = (first, again)
    print(
        "\n| implementation | chunks | first open s | cold open s | RSS MB | peak MB | one change s | BM25 p50/p95 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for impl, (first, again) in rows.items():
        print(
            f"| {impl} | {again['chunks']:,} | {first['open_s']:.1f} | {again['open_s']:.1f} | "
            f"{again['rss_mb']:,.0f} | {again['peak_mb']:,.0f} | {again['change_s']:.2f} | "
            f"{again['bm25_p50_ms']:.1f} / {again['bm25_p95_ms']:.1f} |"
        )
    b, s = rows["baseline"][1], rows["segments"][1]
    print(
        f"\nsegments vs baseline: cold open {s['open_s'] / b['open_s']:.2f}x, "
        f"RSS {s['rss_mb'] / b['rss_mb']:.2f}x, one change {s['change_s'] / b['change_s']:.2f}x, "
        f"BM25 p50 {s['bm25_p50_ms'] / b['bm25_p50_ms']:.2f}x"
    )
    w = worker(args.folder)
    print(
        f"\nAPI worker (policy-assistant serve, lexical): /readyz after {w['ready_s']:.1f} s, "
        f"first answer {w['first_ask_s']:.1f} s, a document changed by another writer found by "
        f"/api/search after {w['change_live_s']:.1f} s (refresh_seconds 2), RSS {w['rss_mb']}"
    )
    (args.folder.parent / "lexical_scale.json").write_text(
        json.dumps({**rows, "worker": w}, indent=1)
    )


if __name__ == "__main__":
    main()
