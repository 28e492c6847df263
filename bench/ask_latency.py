"""`ask` latency, warm, in extractive mode, over the public QA set (a benchmark, not a test).

    .venv/bin/python bench/ask_latency.py --index /tmp/ans-index [--rounds 3] [--threads 2]

Builds the index from corpus/ when the folder is empty. The first pass over the questions warms
the caches (jieba, the embedder, sentence vectors); the timed passes follow. Prints p50/p95/max
of the whole `ask` and of its stages (resolve, retrieve, answer) in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.eval.metrics import load_qa  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import get_settings  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--index", type=Path, default=Path(os.environ.get("PA_INDEX_DIR", "/tmp/ask-latency-index"))
    )
    p.add_argument("--qa", type=Path, default=REPO / "bench" / "data" / "seed_qa.jsonl")
    p.add_argument("--rounds", type=int, default=3, help="timed passes over the questions")
    p.add_argument(
        "--threads", type=int, default=2, help="torch/BLAS threads (the target is 2 cores)"
    )
    args = p.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        pass

    # No answer cache: a repeated question would be timed as a lookup, not as an answer. The
    # query-vector cache stays (warm), as in a served worker.
    settings = get_settings(index_dir=args.index, llm_base_url="", answer_cache_size=0)
    bot = Assistant(settings, generator=None)
    if not bot.index.snapshot.chunks:
        print(f"building the index at {args.index} …", file=sys.stderr)
        bot.ingest([REPO / "corpus"])
    items = load_qa(args.qa)

    for it in items:  # warm-up pass
        bot.ask(it.question, it.history)
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for it in items:
            t = time.perf_counter()
            a = bot.ask(it.question, it.history)
            totals.append((time.perf_counter() - t) * 1000)
            for k, v in a.timings.items():
                stages.setdefault(k, []).append(v)

    print(
        f"ask, extractive, warm: {len(totals)} calls ({args.rounds} x {len(items)} questions), {args.threads} threads"
    )
    print(f"{'stage':10} {'p50':>8} {'p95':>8} {'max':>8}  (ms)")
    rows = [("ask", totals)] + [(k, v) for k, v in stages.items() if k != "total"]
    for name, vals in rows:
        print(
            f"{name:10} {statistics.median(vals):8.1f} {percentile(vals, 0.95):8.1f} {max(vals):8.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
