"""Why answerable questions miss their key facts, tune beside test (a benchmark, not a test).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/answer_misses.py --index LIB --home-index SEED

LIB and SEED as for `policy-assistant tune`; the shipped answer model. Every question is read as
`tune` reads it and answered by `respond`. Each answerable question whose answer lacks a key fact
falls in the first category that fits:

* abstained: the outcome was an abstention;
* not read: a missing fact is in none of the passages read; "near" when it lies within NEAR
  characters of one of them in the same document (a wider reading window would reach it);
* read, sentence rank k: every missing fact is in a candidate sentence, the best of which the
  sentence model ranks k-th (1: chosen but cut by the budget or a duplicate; 2-3: below the keep
  threshold; 4+: the model prefers other sentences);
* read, across sentences: a missing fact is in a passage read but in no single sentence.

The categories say where the next gain is: retrieval and reading depth, the keep threshold, or
the sentence model.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.answer.pipeline import respond  # noqa: E402
from assistant.eval.cases import Case, read_blind  # noqa: E402
from assistant.eval.metrics import squash  # noqa: E402
from assistant.models import Hit  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import get_settings  # noqa: E402

NEAR = 300
CATEGORIES = (
    "answered with every fact",
    "abstained",
    "not read",
    "not read, near a passage read",
    "read, sentence rank 1",
    "read, sentence rank 2-3",
    "read, sentence rank 4+",
    "read, across sentences",
)


def category(case: Case, bot: Assistant) -> str:
    """The first category of the module docstring that fits one answerable case."""
    reading, model, settings = case.reading, bot.model, bot.settings
    answer = respond(reading, model, settings, case.item.history)
    text = squash(answer.text)
    missing = [squash(f) for f in case.item.must_include if squash(f) not in text]
    if not missing:
        return CATEGORIES[0]
    if answer.abstained:
        return "abstained"
    passages = [squash(h.chunk.text) for h in reading.hits]
    unread = [f for f in missing if not any(f in p for p in passages)]
    if unread:
        around = _around(bot, reading.hits)
        near = all(any(f in a for a in around) for f in unread)
        return "not read, near a passage read" if near else "not read"
    probs = model.sentence_probabilities([c.features for c in reading.pool])
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    rank = {i: r + 1 for r, i in enumerate(order)}
    ranks = []
    for f in missing:
        holders = [rank[i] for i, c in enumerate(reading.pool) if f in squash(c.unit.text)]
        if not holders:
            return "read, across sentences"
        ranks.append(min(holders))
    worst = max(ranks)
    return f"read, sentence rank {'1' if worst == 1 else '2-3' if worst <= 3 else '4+'}"


def _around(bot: Assistant, hits: Sequence[Hit]) -> list[str]:
    """Each passage's document text from NEAR characters before it to NEAR after (each document
    read once)."""
    texts = {d: bot.document(d)[1] for d in {h.chunk.document_id for h in hits}}
    return [
        squash(texts[h.chunk.document_id][max(0, h.chunk.start - NEAR) : h.chunk.end + NEAR])
        for h in hits
    ]


def counts(cases: Sequence[Case], bot: Assistant) -> Counter[str]:
    """How many answerable cases fall in each category."""
    return Counter(category(c, bot) for c in cases if c.item.answerable)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--home-index", type=Path, required=True)
    p.add_argument("--data", type=Path, default=REPO / "bench/data/blind")
    args = p.parse_args()
    sets, library, home = read_blind(
        get_settings(), args.index, args.home_index, args.data, ("tune", "test")
    )
    table = {
        name: counts(cases, home if name.endswith("(home index)") else library)
        for name, cases in sets.items()
    }
    print("| category | " + " | ".join(table) + " |")
    print("|---" * (len(table) + 1) + "|")
    for cat in CATEGORIES:
        print(f"| {cat} | " + " | ".join(str(t[cat]) for t in table.values()) + " |")
    print("| answerable | " + " | ".join(str(sum(t.values())) for t in table.values()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
