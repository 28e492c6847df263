"""The sentence model (selection): how often its top sentence quotes the evidence, out of fold
(a benchmark, not a test).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/sentence_models.py --index LIB --home-index SEED \
        [--without FEATURE ...]

LIB and SEED as for `policy-assistant tune`. Every question is read once, as `tune` reads it.
Over five shuffles of document-grouped folds of the tune sets, the logistic regression is fitted
on four folds and judged on the fifth: P@1 is the share of answerable questions with evidence in
their passages whose most probable sentence quotes it, any@3 the share with it among the three
most probable. Each --without FEATURE adds a row fitted without that feature, on the same folds.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from statistics import mean, pstdev

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.answer.features import SENTENCE_FEATURES  # noqa: E402
from assistant.eval.cases import Case, read_blind, tuning  # noqa: E402
from assistant.eval.tune import _folds, fit_sentence  # noqa: E402
from assistant.settings import get_settings  # noqa: E402

SHUFFLES = 5


def precision(cases: Sequence[Case], names: Sequence[str], seed: int) -> tuple[float, float]:
    """Out-of-fold P@1 and any@3 of a sentence model over `names`, on one fold assignment."""
    top1 = top3 = judged = 0
    for fold in _folds(cases, seed=seed):
        held = set(fold)
        model = fit_sentence([c for i, c in enumerate(cases) if i not in held], names)
        for i in fold:
            c = cases[i]
            if not c.item.answerable or not any(c.labels):
                continue
            p = [model.probability(x.features) for x in c.reading.pool]
            order = sorted(range(len(p)), key=lambda k: -p[k])
            judged += 1
            top1 += c.labels[order[0]]
            top3 += any(c.labels[k] for k in order[:3])
    return top1 / judged, top3 / judged


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--home-index", type=Path, required=True)
    p.add_argument("--data", type=Path, default=REPO / "bench/data/blind")
    p.add_argument("--without", action="append", default=[], choices=SENTENCE_FEATURES)
    args = p.parse_args()
    names = ("tune", "public_tune")
    sets, _, _ = read_blind(get_settings(), args.index, args.home_index, args.data, names)
    fitting = tuning(sets)
    variants = {"shipped features": SENTENCE_FEATURES}
    for name in args.without:
        variants[f"without {name}"] = tuple(n for n in SENTENCE_FEATURES if n != name)
    print(f"{len(fitting)} tune questions, {SHUFFLES} shuffles of document-grouped folds\n")
    print("| features | P@1 | any@3 | P@1 per shuffle |")
    print("|---|---|---|---|")
    for label, features in variants.items():
        runs = [precision(fitting, features, seed) for seed in range(SHUFFLES)]
        one = [r[0] for r in runs]
        print(
            f"| {label} | {mean(one):.3f} ± {pstdev(one):.3f} | {mean(r[1] for r in runs):.3f}"
            f" | {' / '.join(f'{v:.3f}' for v in one)} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
