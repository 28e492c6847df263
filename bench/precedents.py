"""Precision of the measures on precedent cards, against hand labels.

Usage: python bench/precedents.py [--dump] [--all-passages]

Runs `assistant.precedents` over the seed newsletter (corpus/) and the newsletter-like external
texts (../shared/external/policy_docs/policy_text_frenq_txt/ and ai_zhengce_tong_html/, skipped
when ../shared is absent), and scores every measure it puts on a card against
bench/data/precedent_labels.jsonl: one line per (document, subject, measure) with `correct` true
when the case's text really tells of that measure being applied, false otherwise (a slogan, a goal,
a rule stated in general, a wrong reading). Precision = correct / labelled, per corpus.

`--all-passages` also runs the measure tagger over every paragraph of the external texts (not only
case cards), the harder test of the table on text it was not written from; those rows are labelled
in the same file with `"scope": "paragraph"`.

`--dump` prints the rows not yet labelled as JSONL (with `"correct": null`) to label by hand.
An extraction that has no label counts as unlabelled and is reported, never silently scored.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.ingest.pipeline import build_document, read_sidecar  # noqa: E402
from assistant.precedents import Extractor, sections_of  # noqa: E402
from assistant.precedents.extract import paragraphs  # noqa: E402
from assistant.settings import get_settings  # noqa: E402
from assistant.text.analyzer import Analyzer  # noqa: E402

LABELS = REPO / "bench" / "data" / "precedent_labels.jsonl"
EXTERNAL = REPO.parent / "shared" / "external" / "policy_docs"
CORPORA = {
    "seed": [REPO / "corpus"],
    "external": [EXTERNAL / "policy_text_frenq_txt", EXTERNAL / "ai_zhengce_tong_html"],
}
SUFFIXES = {".txt", ".html", ".htm", ".md"}


def documents(folders: list[Path]) -> list[tuple[str, str, str, dict[str, str]]]:
    """(file name, title, cleaned text, facts) of every document in the folders that exist."""
    settings = get_settings()
    out = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in SUFFIXES:
                continue
            doc = build_document(path.read_bytes(), path.name, settings, read_sidecar(path))
            out.append((path.name, doc.title, doc.text, dict(doc.metadata)))
    return out


def rows(ex: Extractor, corpus: str, all_passages: bool) -> list[dict[str, Any]]:
    out = []
    for name, title, text, facts in documents(CORPORA[corpus]):
        for card in ex.extract(name, title, text, sections_of(title, text), facts):
            out.append(
                {
                    "corpus": corpus,
                    "scope": "case",
                    "document": name,
                    "subject": card.subject,
                    "measure": "",
                    "text": card.quote,
                    "how": card.subject_kind,
                    "context": f"{card.date} {card.place} {'、'.join(card.measure_names)}",
                }
            )
            for m in card.measures:
                out.append(
                    {
                        "corpus": corpus,
                        "scope": "card",
                        "document": name,
                        "subject": card.subject,
                        "measure": m.name,
                        "text": m.text,
                        "how": m.how,
                        "context": text[max(0, m.start - 30) : m.end + 30],
                    }
                )
        if all_passages and corpus == "external":
            for a, b in paragraphs(text, 0, len(text)):
                for m in ex.measures(text[a:b], a):
                    out.append(
                        {
                            "corpus": corpus,
                            "scope": "paragraph",
                            "document": name,
                            "subject": "",
                            "measure": m.name,
                            "text": m.text,
                            "how": m.how,
                            "context": text[max(0, m.start - 30) : m.end + 30],
                        }
                    )
    return out


def key(row: dict[str, Any]) -> tuple[str, ...]:
    if row["scope"] == "case":
        return (row["scope"], row["document"], row["subject"])
    return (row["scope"], row["document"], row["subject"], row["measure"], row["context"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dump", action="store_true", help="print unlabelled rows as JSONL")
    parser.add_argument("--all-passages", action="store_true", help="also tag every paragraph")
    args = parser.parse_args()
    labels = {}
    if LABELS.exists():
        for line in LABELS.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                labels[key(row)] = row["correct"]
    ex = Extractor(Analyzer(get_settings().userdict_path))
    found = []
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for corpus in CORPORA:
        if corpus == "external" and not EXTERNAL.is_dir():
            print(f"external: skipped ({EXTERNAL} not present)")
            continue
        found.extend(rows(ex, corpus, args.all_passages))
        for scope in ("case", "card"):
            tally.setdefault((corpus, scope), [0, 0, 0])  # a corpus with no case says so
    if args.dump:
        for row in found:
            if key(row) not in labels:
                print(json.dumps({**row, "correct": None}, ensure_ascii=False))
        return
    cards: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in found:
        t = tally[(row["corpus"], row["scope"])]
        verdict = labels.get(key(row))
        if verdict is None:
            t[2] += 1
        else:
            t[0] += int(bool(verdict))
            t[1] += 1
        if row["scope"] == "case":
            cards[row["corpus"]].add((row["document"], row["subject"]))
    print("precision (correct / labelled) per corpus and scope: case = the card is a concrete case")
    print(
        "with its subject right; card = a measure on a card; paragraph = the tagger on any paragraph"
    )
    for (corpus, scope), (good, labelled, unlabelled) in sorted(tally.items()):
        share = f"{good / labelled:.3f}" if labelled else "n/a"
        extra = f", {len(cards[corpus])} cards" if scope == "case" else ""
        print(
            f"  {corpus:9s} {scope:9s} precision {share} ({good}/{labelled}){extra}"
            + (f"; {unlabelled} unlabelled" if unlabelled else "")
        )


if __name__ == "__main__":
    main()
