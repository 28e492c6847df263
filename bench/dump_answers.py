"""Answer QA sets with whatever checkout is on sys.path and dump the answers as JSON Lines.

Usage: python bench/dump_answers.py --index DIR OUT.jsonl QA.jsonl [QA.jsonl ...]

Runs against any version of the assistant (only `Assistant.ask` is used), so an older checkout
can be judged with the current definitions: `python bench/score_answers.py OUT.jsonl NAME=QA.jsonl ...`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.getcwd())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("out", type=Path)
    ap.add_argument("qa", type=Path, nargs="+")
    args = ap.parse_args()
    from assistant.service import Assistant
    from assistant.settings import get_settings

    bot = Assistant(get_settings(index_dir=args.index), create=False)
    with args.out.open("w", encoding="utf-8") as fh:
        for path in args.qa:
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                a = bot.ask(item["question"], item.get("history", []))
                row = {
                    "id": item["id"],
                    "text": a.text,
                    "quotes": [c.quote for c in a.citations],
                    "abstained": a.abstained,
                    "hedged": bool(getattr(a, "hedged", False)),
                    "ms": a.timings.get("total", 0.0),
                }
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
