"""External eval: LeCoQA questions whose gold articles come from the land statutes and the Civil Code.

Writes them in our QA format (evidence = the first 20 characters of each gold article, whitespace
removed, as SOURCES.md measured), so `policy-assistant eval` scores them:

    .venv/bin/python bench/lecoqa.py                      # writes bench/out/lecoqa.jsonl and prints counts
    .venv/bin/policy-assistant ingest ../shared/external/policy_docs/lawrefbook_md \
        ../shared/external/policy_docs/zufang_pdf/中华人民共和国民法典.pdf --index /tmp/ext
    .venv/bin/policy-assistant eval bench/out/lecoqa.jsonl --index /tmp/ext --retrieval-only
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXTERNAL = REPO.parent / "shared" / "external"
LAWS = EXTERNAL / "policy_docs" / "lawrefbook_md"
CIVIL_CODE = EXTERNAL / "policy_docs" / "zufang_pdf" / "中华人民共和国民法典.pdf"
QUERIES = EXTERNAL / "qa_datasets" / "lecoqa" / "queries.json"
ARTICLE = re.compile(r"^(.*?)(第[零〇一二三四五六七八九十百千]+条(?:之[一二三四五六七八九十]+)?)$")


def law_names() -> dict[str, str]:
    """Statute name as LeCoQA writes it → our document file; the Civil Code comes from the PDF."""
    names = {re.sub(r"\(.*\)$", "", p.stem): p.name for p in LAWS.glob("*.md")}
    names["中华人民共和国民法典"] = CIVIL_CODE.name
    for short in list(names):
        names.setdefault("中华人民共和国" + short, names[short])
    return names


def convert(limit_civil: int | None = None) -> list[dict[str, object]]:
    names = law_names()
    items: list[dict[str, object]] = []
    civil = 0
    for q in json.loads(QUERIES.read_text(encoding="utf-8")):
        gold = q["相关法规"]
        gold = ast.literal_eval(gold) if isinstance(gold, str) else gold
        evidence = []
        for key, text in gold.items():
            m = ARTICLE.match(key)
            if m and m.group(1) in names and text.strip():
                evidence.append(re.sub(r"\s+", "", text)[:20])
        if not evidence:
            continue
        is_civil = all("民法典" in k for k in gold)
        if is_civil:
            civil += 1
            if limit_civil is not None and civil > limit_civil:
                continue
        items.append(
            {
                "id": f"lecoqa-{q['query_id']}",
                "type": "fact",
                "question": q["问题"],
                "history": [],
                "answer": q["答案文本"],
                "must_include": [],
                "evidence": evidence,
            }
        )
    return items


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "lecoqa.jsonl")
    ap.add_argument(
        "--limit-civil",
        type=int,
        default=None,
        help="keep only the first N Civil-Code-only questions",
    )
    args = ap.parse_args()
    if not QUERIES.exists():
        print(f"skipped: {QUERIES} not present")
        return
    items = convert(args.limit_civil)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8"
    )
    print(f"{len(items)} questions → {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
