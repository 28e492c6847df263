"""Judge dumped answers (bench/dump_answers.py) with the definitions of measuring-answers.md.

Usage: python bench/score_answers.py DUMP.jsonl NAME=QA.jsonl [NAME=QA.jsonl ...] [--by-jurisdiction]
Prints one Markdown row per QA set: the same columns as `policy-assistant tune`. With
--by-jurisdiction, one row per set and jurisdiction of the question's document (全国, 平湖市,
广东省 …), read off the document's file name as ingest reads it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from statistics import mean
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.eval.metrics import answer_metrics, judge, load_qa
from assistant.eval.report import table
from assistant.ingest.metadata import derive
from assistant.text.places import Gazetteer

HOME = "平湖市"  # the seed newsletter (its file name is a hash)


def jurisdiction_of(doc: str, gazetteer: Gazetteer) -> str:
    name = Path(doc).name
    if doc.startswith("seed/") or "/seed/" in doc:
        return HOME
    return derive(Path(name).stem, "", name, gazetteer).get("jurisdiction") or "不详"


def main(argv: list[str]) -> int:
    dump = {
        r["id"]: r for r in map(json.loads, Path(argv[0]).read_text(encoding="utf-8").splitlines())
    }
    by_place = "--by-jurisdiction" in argv
    gazetteer = Gazetteer.load() if by_place else None
    docs = {}
    rows = {}
    for spec in [a for a in argv[1:] if not a.startswith("--")]:
        name, path = spec.split("=", 1)
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                docs[row["id"]] = row.get("doc", "")
        groups: dict[str, list] = {}
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
            if gazetteer is not None:
                where = jurisdiction_of(docs.get(item.id, ""), gazetteer)
                groups.setdefault(where, []).append((records[-1], ms[-1]))
        rows[name] = {**answer_metrics(records), "ms p50": sorted(ms)[len(ms) // 2]}
        for where, pairs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            times = sorted(t for _, t in pairs)
            rows[f"{name} · {where} ({len(pairs)})"] = {
                **answer_metrics([rec for rec, _ in pairs]),
                "ms p50": times[len(times) // 2],
            }
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
