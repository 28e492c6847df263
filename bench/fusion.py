"""How BM25 and dense rankings are fused, chosen on the blind tune split (test printed beside).

Each answerable question without history of `bench/data/blind/{tune,test}.jsonl` is searched once
on each side (the settings' candidates per side); every fusion is then a pure function of those
two score maps, so the grid costs one embedding per question:

    PA_INDEX_DIR=LIB .venv/bin/python bench/fusion.py

where LIB comes from `policy-assistant ingest corpus ../shared/external/policy_docs --index LIB`.
R@5 and MRR as measuring-answers.md defines them (the first hit whose first 600 characters hold an
evidence string).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from statistics import mean

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.eval.metrics import QAItem, first_hit_rank, load_qa  # noqa: E402
from assistant.models import Hit  # noqa: E402
from assistant.retrieve import fuse  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import get_settings  # noqa: E402

Scores = Mapping[str, float]
Fusion = Callable[[Scores, Scores, Scores], list[tuple[str, float]]]


def ranked(scores: Scores) -> list[str]:
    return sorted(scores, key=lambda k: -scores[k])


def grid() -> dict[str, Fusion]:
    out: dict[str, Fusion] = {}
    for k in (10, 60):
        out[f"rrf k={k}"] = lambda lex, den, sen, k=k: fuse.rrf([ranked(lex), ranked(den)], k=k)
    for w in (0.5, 0.75, 1.0, 1.5):
        out[f"weighted dense={w}"] = lambda lex, den, sen, w=w: fuse.weighted([lex, den], [1.0, w])
    # The third side: each candidate's best sentence similarity (Retriever.sentence_side).
    for w in (0.5, 0.75, 1.0, 1.25, 1.5):
        out[f"weighted dense=0.75 sentence={w}"] = lambda lex, den, sen, w=w: fuse.weighted(
            [lex, den, sen], [1.0, 0.75, w]
        )
    out["rrf k=60 + sentence=1.0"] = lambda lex, den, sen: fuse.rrf(
        [ranked(lex), ranked(den), ranked(sen)], k=60, weights=[1.0, 0.75, 1.0]
    )
    out["BM25 alone"] = lambda lex, den, sen: [(k, lex[k]) for k in ranked(lex)]
    out["dense alone"] = lambda lex, den, sen: [(k, den[k]) for k in ranked(den)]
    return out


Run = tuple[Scores, Scores, Scores]


def sides(bot: Assistant, question: str) -> Run:
    """BM25's, the dense search's and the sentence side's candidates for one question."""
    retriever = bot.retriever
    query = retriever.prepare(question)
    lexical, dense = retriever.sides(query, bot.settings.candidates)
    return lexical, dense, retriever.sentence_side(query, [*lexical, *dense])


def figures(bot: Assistant, items: list[QAItem], runs: dict[str, Run]) -> dict:
    snap = bot.retriever.index.snapshot
    out = {}
    for name, fusion in grid().items():
        ranks = []
        for item in items:
            top = fusion(*runs[item.id])[:10]  # as /api/search with top_k 10
            hits = [Hit(chunk=snap.chunks[snap.by_id[c]], score=s) for c, s in top]
            ranks.append(first_hit_rank(hits, item.evidence))
        out[name] = (
            mean(r is not None and r <= 5 for r in ranks),
            mean(1.0 / r if r else 0.0 for r in ranks),
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "bench" / "data" / "blind")
    args = parser.parse_args()
    bot = Assistant(get_settings(), create=False)
    results = {}
    for split in ("tune", "test"):
        items = [i for i in load_qa(args.data / f"{split}.jsonl") if i.answerable and not i.history]
        runs = {i.id: sides(bot, i.question) for i in items}
        results[split] = (len(items), figures(bot, items, runs))
    (n_tune, tune), (n_test, test) = results["tune"], results["test"]
    print(f"| fusion | tune R@5 ({n_tune}) | tune MRR | test R@5 ({n_test}) | test MRR |")
    print("|---|---|---|---|---|")
    for name in tune:
        print(
            f"| {name} | {tune[name][0]:.3f} | {tune[name][1]:.3f} "
            f"| {test[name][0]:.3f} | {test[name][1]:.3f} |"
        )


if __name__ == "__main__":
    main()
