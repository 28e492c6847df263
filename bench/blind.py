"""Assemble the blind question sets: verify every evidence string and key fact, split by document.

Usage: python bench/blind.py bench/data/blind/raw --index LIBRARY_INDEX \
           --public bench/data/seed_qa.jsonl --public bench/data/law_qa.jsonl

RAW_DIR holds the writers' JSONL files, written to bench/data/blind/BRIEF.md without access to
the code or other question files. Each evidence string must occur verbatim in the cleaned text of its document as the
product indexes it (NFKC, whitespace removed) and each key fact within 400 characters of one of
its evidence strings; failures are dropped and listed. Documents compared in one question are
kept in one group; groups are assigned to `tune` or `test` by a hash of their name (about 55%
tune), the seed newsletter by article. Writes bench/data/blind/{tune,test}.jsonl and split.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "data" / "blind"
TUNE_SHARE = 0.55
NEAR = 400
WS = re.compile(r"\s+")
# The same law in two formats is one document for splitting.
# The seed newsletter is in corpus/ under its own name.
SEED = ("000_85e5ea34e36ba7ce.txt", "平湖自然资源和规划简报-项目用地保障专刊.txt")
SAME_WORK = {
    "劳动合同法.docx": "中华人民共和国劳动合同法.pdf",
    "劳动合同法实施条例.docx": "中华人民共和国劳动合同法实施条例.pdf",
}


def norm(s: str) -> str:
    return WS.sub("", unicodedata.normalize("NFKC", s))


def work(doc: str) -> str:
    name = Path(doc).name
    return SAME_WORK.get(name, name)


def group_of(row: dict) -> str:
    if row["doc"].startswith("seed/"):
        return "seed:" + row.get("article", "")
    return work(row["doc"])


def groups_of(row: dict) -> list[str]:
    """Every document group a question draws on: its own, then those it compares with."""
    return [group_of(row)] + [work(d) for d in row.get("docs") or [] if not d.startswith("seed/")]


def texts_by_source(index: Path) -> dict[str, str]:
    """Cleaned document texts of the index, keyed by the file name."""
    from assistant.service import Assistant
    from assistant.settings import get_settings

    # The embedder names the collection, so it is the one the index was built with (PA_EMBEDDER).
    bot = Assistant(get_settings(index_dir=index), create=False)
    out = {}
    for rec in bot.documents():
        _, text = bot.document(rec.id)
        out[Path(rec.source).name] = norm(text)
    return out


def verify(row: dict, texts: dict[str, str]) -> str:
    """'' when the row holds, else why not."""
    docs = row.get("docs") or [row["doc"]]
    if row["type"] == "uncovered":
        return "" if not row["evidence"] and not row["must_include"] else "uncovered with evidence"
    bodies = []
    for d in docs:
        name = Path(d).name
        name = SEED[1] if name == SEED[0] else name
        if name not in texts:
            return f"unknown document {name}"
        bodies.append(texts[name])
    q = norm(row["question"])
    for e in row["evidence"]:
        e = norm(e)
        if not any(e in b for b in bodies):
            return f"evidence not verbatim: {e[:20]}"
        if any(e[i : i + 10] in q for i in range(len(e) - 9)):
            return "question copies evidence"
    for m in row["must_include"]:
        m = norm(m)
        ok = False
        for b in bodies:
            for e in row["evidence"]:
                for hit in re.finditer(re.escape(norm(e)), b):
                    window = b[max(0, hit.start() - NEAR) : hit.end() + NEAR]
                    ok = ok or m in window
        if not ok:
            return f"key fact not near evidence: {m}"
    return ""


def split(rows: list[dict]) -> dict[str, str]:
    """Union the groups a question spans, then assign each union to tune or test by hash."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for r in rows:
        groups = groups_of(r)
        for g in groups[1:]:
            parent[find(g)] = find(groups[0])
        find(groups[0])
    unions: dict[str, list[str]] = defaultdict(list)
    for g in parent:
        unions[find(g)].append(g)
    size = Counter(find(group_of(r)) for r in rows)
    total = sum(size.values())
    assigned: dict[str, str] = {}
    counts = {"tune": 0, "test": 0}
    for root in sorted(unions, key=lambda g: hashlib.sha1(g.encode()).hexdigest()):
        side = (
            "tune"
            if counts["tune"] < TUNE_SHARE * (counts["tune"] + counts["test"] + 1)
            else "test"
        )
        for g in unions[root]:
            assigned[g] = side
        counts[side] += size[root]
    assert counts["tune"] + counts["test"] == total
    return assigned


def place_public(rows: list[dict], blind: list[dict], texts: dict[str, str]) -> list[dict]:
    """Give each public question the document (and seed article) its evidence lies in.

    A seed question goes to the article whose blind evidence lies nearest to its own.
    """
    seed = texts[SEED[1]]
    spans: dict[str, list[int]] = defaultdict(list)
    for r in blind:
        if r["doc"].startswith("seed/"):
            for e in r["evidence"]:
                if (at := seed.find(norm(e))) >= 0:
                    spans[r["article"]].append(at)

    def bigrams(t: str) -> set[str]:
        t = norm(t)
        return {t[i : i + 2] for i in range(len(t) - 1)}

    asked: dict[str, set[str]] = defaultdict(set)
    example: dict[str, dict] = {}
    for r in blind:
        asked[group_of(r)] |= bigrams(r["question"])
        example[group_of(r)] = r

    def nearest(q: str, seed_only: bool) -> dict:
        """The blind question group whose wording the question shares most (for uncovered ones)."""
        keys = [g for g in asked if g.startswith("seed:") == seed_only]
        best = max(keys, key=lambda g: len(bigrams(q) & asked[g]))
        return example[best]

    out = []
    for r in rows:
        evidence = [norm(e) for e in r["evidence"]]
        if not evidence:
            near = nearest(r["question"], not r["id"].startswith("law-"))
            out.append(
                {**r, "type": "uncovered", "doc": near["doc"], "article": near.get("article", "")}
            )
            continue
        r = {**r, "type": "uncovered" if r["type"] == "unanswerable" else r["type"]}
        if r["id"].startswith("law-"):
            names = [n for n, t in texts.items() if evidence and all(e in t for e in evidence)]
            if not names:
                continue
            r["doc"] = "external/policy_docs/lawrefbook_md/" + names[0]
        else:
            r["doc"] = "seed/" + SEED[0]
            at = [seed.find(e) for e in evidence if seed.find(e) >= 0]
            if not at:  # an unanswerable one: the article of its nearest answerable neighbour
                continue
            r["article"] = min(spans, key=lambda a: min(abs(x - y) for x in at for y in spans[a]))
        out.append(r)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw", type=Path)
    ap.add_argument(
        "--public", type=Path, action="append", default=[], help="a public QA set to split too"
    )
    ap.add_argument("--index", type=Path, required=True, help="an index of corpus/ + policy_docs/")
    args = ap.parse_args()
    texts = texts_by_source(args.index)
    rows, dropped = [], []
    for f in sorted(args.raw.glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                why = verify(row, texts)
                (dropped.append((row["id"], why)) if why else rows.append(row))
    # The split is fixed once made: later questions on a known document join its side.
    known = OUT / "split.json"
    sides = json.loads(known.read_text(encoding="utf-8")) if known.exists() else {}
    fresh = split([r for r in rows if group_of(r) not in sides])
    sides.update({g: s for g, s in fresh.items() if g not in sides})
    OUT.mkdir(parents=True, exist_ok=True)
    public = []
    for path in args.public:
        raw = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        public += place_public(raw, rows, texts)
    for side in ("tune", "test"):
        mine = [
            {**r, "split": side, "group": group_of(r)}
            for r in public
            if sides.get(group_of(r)) == side
        ]
        with (OUT / f"public_{side}.jsonl").open("w", encoding="utf-8") as fh:
            for r in mine:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"public_{side}: {len(mine)} questions {dict(Counter(r['type'] for r in mine))}")
    by_side: dict[str, list[dict]] = {"tune": [], "test": []}
    for r in rows:
        r["split"] = sides[group_of(r)]
        r["group"] = group_of(r)
        by_side[r["split"]].append(r)
    for side, items in by_side.items():
        with (OUT / f"{side}.jsonl").open("w", encoding="utf-8") as fh:
            for r in items:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    (OUT / "split.json").write_text(
        json.dumps(dict(sorted(sides.items())), ensure_ascii=False, indent=1) + "\n", "utf-8"
    )
    for side, items in by_side.items():
        kinds = Counter(r["type"] for r in items)
        colloquial = sum(bool(r.get("colloquial")) for r in items)
        print(f"{side}: {len(items)} questions {dict(kinds)}, colloquial {colloquial}")
    print(f"dropped {len(dropped)}:", *(f"{i} ({w})" for i, w in dropped), sep="\n  ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
