"""Dense search against the exact nearest chunks, and from one process to the next, by ef_search.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/dense_recall.py --index LIB [--ef 100 200 500]

Works on a copy of the index (setting ef_search changes the collection, which every process then
reads). The questions of the blind sets are embedded once; for each ef_search, three fresh
processes each open the copy and ask Chroma for every question's `candidates` nearest chunks
(what search fuses). Prints the recall of the exact nearest chunks (Chroma asked for every
chunk), how many questions got different chunks in different processes, and the median time of
one Chroma query as a ratio to the first ef_search measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from assistant.eval.metrics import load_qa  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import get_settings  # noqa: E402

BLIND = REPO / "bench" / "data" / "blind"


def worker(index: Path, ef: int, vectors: Path, out: Path) -> None:
    """One process: open the index at `ef` and time each question's dense search."""
    bot = Assistant(get_settings(index_dir=index, ef_search=ef), create=False)
    n = bot.settings.candidates
    rows, times = [], []
    for v in np.load(vectors):
        t = time.perf_counter()
        got = bot.index.dense(v, n)
        times.append(time.perf_counter() - t)
        rows.append([cid for cid, _ in got])
    out.write_text(json.dumps({"ids": rows, "ms": statistics.median(times) * 1000}))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--ef", type=int, nargs="+", default=[100, 200, 500])
    p.add_argument("--limit", type=int, default=300, help="questions from test, then tune")
    p.add_argument("--processes", type=int, default=3)
    p.add_argument("--worker", nargs=3, metavar=("EF", "VECTORS", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        ef, vectors, out = args.worker
        worker(args.index, int(ef), Path(vectors), Path(out))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "index"
        shutil.copytree(args.index, copy)
        bot = Assistant(get_settings(index_dir=copy), create=False)
        assert bot.embedder is not None, "dense search needs the index's embedder"
        items = load_qa(BLIND / "test.jsonl") + load_qa(BLIND / "tune.jsonl")
        questions = [i.question for i in items if not i.history][: args.limit]
        vectors = np.asarray(bot.embedder.embed(questions, query=True))
        np.save(Path(tmp) / "vectors.npy", vectors)
        # Asked for more neighbours than it holds, Chroma compares the question with every chunk:
        # the exact nearest, by the same cosine.
        chunks = len(bot.index.snapshot.chunks)
        n = bot.settings.candidates
        exact = []
        for v in vectors:
            every = bot.index.dense(v, chunks + 1)
            assert len(every) == chunks, "Chroma did not return every chunk"
            exact.append({cid for cid, _ in every[:n]})
        del bot

        print(f"{len(questions)} questions, {chunks} chunks, {n} nearest each\n")
        print(
            "| ef_search | recall of the exact nearest | questions differing between "
            f"{args.processes} processes | ms per query (ratio) |"
        )
        print("|---|---|---|---|")
        base = None
        for ef in args.ef:
            runs = []
            for k in range(args.processes):
                out = Path(tmp) / f"{ef}-{k}.json"
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--index",
                        str(copy),
                        "--worker",
                        str(ef),
                        str(Path(tmp) / "vectors.npy"),
                        str(out),
                    ],
                    check=True,
                )
                runs.append(json.loads(out.read_text()))
            found = [len(e & set(r)) for e, r in zip(exact, runs[0]["ids"], strict=True)]
            recall = sum(found) / sum(len(e) for e in exact)
            differ = sum(len({tuple(r["ids"][i]) for r in runs}) > 1 for i in range(len(exact)))
            ms = statistics.median(r["ms"] for r in runs)
            base = base or ms
            print(f"| {ef} | {recall:.4f} | {differ} | {ms:.2f} ({ms / base:.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
