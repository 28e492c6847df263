"""Validate the seed QA set against the seed documents.

Usage: python bench/check_qa.py [QA_JSONL] [SEED_PATH]

QA_JSONL defaults to bench/data/seed_qa.jsonl (relative to the repo root);
SEED_PATH (a file or a directory of *.txt files) defaults to ../shared/seed
relative to the repo root.

Checks: JSON per line, exact field set and types, unique ids, allowed types,
history only for followup, must_include/evidence sizes, and that every
evidence / must_include string occurs verbatim in the seed text once all
whitespace is removed from both sides (evidence must also sit inside a single
paragraph). Prints counts per type; exits 1 on any failure.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_QA = REPO / "bench" / "data" / "seed_qa.jsonl"
DEFAULT_SEED = REPO / ".." / "shared" / "seed"

FIELDS = {"id", "type", "question", "history", "answer", "must_include", "evidence"}
TYPES = ("fact", "process", "case", "multihop", "followup", "unanswerable")
MIN_COUNTS = {
    "fact": 20,
    "process": 8,
    "case": 12,
    "multihop": 8,
    "followup": 8,
    "unanswerable": 10,
}
MIN_TOTAL = 66
ID_RE = re.compile(r"^[a-z]+-\d{2,}$")
WS_RE = re.compile(r"\s+")


def squash(text: str) -> str:
    return WS_RE.sub("", text)


def load_seed(path: Path) -> tuple[str, list[str]]:
    """Return (whole text without whitespace, paragraphs without whitespace)."""
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"no seed .txt files under {path}")
    texts = [f.read_text(encoding="utf-8") for f in files]
    paragraphs: list[str] = []
    for t in texts:
        for p in re.split(r"\n\s*\n", t):
            sp = squash(p)
            if sp:
                paragraphs.append(sp)
    return "\n".join(squash(t) for t in texts), paragraphs


def is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) and x.strip() for x in value)


def check_item(item: dict, seed: str, paragraphs: list[str]) -> list[str]:
    errs: list[str] = []
    keys = set(item)
    if keys != FIELDS:
        missing, extra = FIELDS - keys, keys - FIELDS
        if missing:
            errs.append(f"missing fields {sorted(missing)}")
        if extra:
            errs.append(f"unexpected fields {sorted(extra)}")
        return errs

    qid, qtype = item["id"], item["type"]
    if not isinstance(qid, str) or not ID_RE.match(qid):
        errs.append(f"bad id {qid!r}")
    if qtype not in TYPES:
        errs.append(f"bad type {qtype!r}")
    for field in ("question", "answer"):
        if not isinstance(item[field], str) or not item[field].strip():
            errs.append(f"{field} must be a non-empty string")

    history, must, evidence = item["history"], item["must_include"], item["evidence"]
    for name, value in (("history", history), ("must_include", must), ("evidence", evidence)):
        if not is_str_list(value):
            errs.append(f"{name} must be a list of non-empty strings")
    if errs:
        return errs

    if qtype == "followup" and not history:
        errs.append("followup needs a non-empty history")
    if qtype != "followup" and history:
        errs.append("history must be empty unless type is followup")

    if qtype == "unanswerable":
        if must or evidence:
            errs.append("unanswerable must have empty must_include and evidence")
        return errs

    if not 1 <= len(must) <= 3:
        errs.append(f"must_include needs 1-3 items, got {len(must)}")
    if not 1 <= len(evidence) <= 3:
        errs.append(f"evidence needs 1-3 items, got {len(evidence)}")
    if qtype == "multihop" and len(evidence) < 2:
        errs.append("multihop needs evidence from at least two passages")

    for s in must:
        if squash(s) not in seed:
            errs.append(f"must_include not in seed: {s!r}")
    for s in evidence:
        n = len(squash(s))
        if not 8 <= n <= 60:
            errs.append(f"evidence length {n} outside 8-60: {s!r}")
        ss = squash(s)
        if ss not in seed:
            errs.append(f"evidence not in seed: {s!r}")
        elif not any(ss in p for p in paragraphs):
            errs.append(f"evidence spans a paragraph break: {s!r}")
    return errs


def main(argv: list[str]) -> int:
    qa_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_QA
    seed_path = Path(argv[2]) if len(argv) > 2 else DEFAULT_SEED
    seed, paragraphs = load_seed(seed_path.resolve())

    failures: list[str] = []
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    lines = qa_path.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            failures.append(f"line {lineno}: blank line")
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            failures.append(f"line {lineno}: invalid JSON ({exc})")
            continue
        if not isinstance(item, dict):
            failures.append(f"line {lineno}: not a JSON object")
            continue
        label = f"line {lineno} ({item.get('id', '?')})"
        for err in check_item(item, seed, paragraphs):
            failures.append(f"{label}: {err}")
        qid = item.get("id")
        if isinstance(qid, str):
            if qid in seen:
                failures.append(f"{label}: duplicate id")
            seen.add(qid)
        if item.get("type") in TYPES:
            counts[item["type"]] += 1

    total = sum(counts.values())
    for t in TYPES:
        print(f"{t:13s} {counts[t]:3d}")
    print(f"{'total':13s} {total:3d}")
    for t, need in MIN_COUNTS.items():
        if counts[t] < need:
            failures.append(f"type {t}: {counts[t]} < minimum {need}")
    if total < MIN_TOTAL:
        failures.append(f"total {total} < minimum {MIN_TOTAL}")

    if failures:
        for f in failures:
            print("FAIL", f, file=sys.stderr)
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
