"""Judge dumped answers (bench/dump_answers.py) with the definitions of measuring-answers.md.

Usage: python bench/score_answers.py DUMP.jsonl NAME=QA.jsonl [NAME=QA.jsonl ...]
Prints one Markdown row per QA set: the same columns as `policy-assistant tune`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from statistics import mean
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.evaluate import answer_metrics, judge, load_qa
from assistant.tune import table


def main(argv: list[str]) -> int:
    dump = {
        r["id"]: r for r in map(json.loads, Path(argv[0]).read_text(encoding="utf-8").splitlines())
    }
    rows = {}
    for spec in argv[1:]:
        name, path = spec.split("=", 1)
        records, ms = [], []
        for item in load_qa(Path(path)):
            r = dump[item.id]
            quotes = [SimpleNamespace(quote=q) for q in r["quotes"]]
            answer = SimpleNamespace(
                text=r["text"],
                citations=quotes,
                abstained=r["abstained"],
                hedged=r.get("hedged", False),
                timings={"total": r.get("ms", 0.0)},
            )
            records.append(judge(item, answer))
            ms.append(r.get("ms", 0.0))
        rows[name] = {**answer_metrics(records), "ms p50": sorted(ms)[len(ms) // 2]}
    print(table(rows))
    print(
        "median ms:",
        {k: round(v["ms p50"], 1) for k, v in rows.items()},
        "mean",
        round(mean(ms), 1),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
