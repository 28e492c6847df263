"""The question model (abstention): the shipped logistic regression against boosted trees, compared
by ranking whatever the threshold (a benchmark, not a test).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/question_models.py --index LIB --home-index SEED

LIB is an index of corpus/ plus ../shared/external/policy_docs, SEED one of corpus/ alone (as for
`policy-assistant tune`). Every question is read once, as `tune` reads it. On the tune sets the
question features come from sentence models fitted without the question's document group; each
candidate is then judged out of fold over five document-grouped fold assignments, at the shipped
rule's threshold (each set's 3% false abstention, the lowest taken) and by `ranking`. Each model is
then fitted on all the tune sets and ranked on `test`, which chose nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from statistics import mean, pstdev
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from assistant.eval.cases import read_blind, tuning  # noqa: E402
from assistant.eval.report import ranking  # noqa: E402
from assistant.eval.tune import (  # noqa: E402
    _folds,
    _question_rows,
    abstain_threshold,
    fit_sentence,
    impute,
    question_table,
)
from assistant.settings import get_settings  # noqa: E402

SHUFFLES = 5


def candidates() -> dict[str, Callable[[], Any]]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def trees(depth: int) -> Callable[[], Any]:
        return lambda: HistGradientBoostingClassifier(
            max_depth=depth, learning_rate=0.05, max_iter=200, l2_regularization=1.0,
            early_stopping=False, random_state=0,
        )  # fmt: skip

    return {
        "logistic (shipped)": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, max_iter=3000)
        ),
        "boosted trees, depth 2": trees(2),
        "boosted trees, depth 3": trees(3),
    }


def table(rows: list[dict[str, float]]) -> np.ndarray:
    """Question feature rows as a matrix, missing values read as their column's mean (as `tune`)."""
    matrix = np.asarray(question_table(rows), dtype=float)
    return impute(matrix, matrix.shape[1])[0]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--home-index", type=Path, required=True)
    p.add_argument("--data", type=Path, default=REPO / "bench/data/blind")
    args = p.parse_args()
    names = ("tune", "public_tune", "test")
    sets, _, _ = read_blind(get_settings(), args.index, args.home_index, args.data, names)
    fitting = tuning(sets)
    held_out = sets["test"]
    # Question features of the tune sets, their sentence probabilities out of fold (as `tune`).
    rows: list[dict[str, float]] = [{} for _ in fitting]
    for fold in _folds(fitting):
        rest = fit_sentence([c for i, c in enumerate(fitting) if i not in set(fold)])
        for i, row in zip(fold, _question_rows([fitting[i] for i in fold], rest), strict=True):
            rows[i] = row
    x, y = table(rows), np.array([int(c.item.answerable) for c in fitting])
    x_test = table(_question_rows(held_out, fit_sentence(fitting)))
    print(f"{len(fitting)} tune questions ({int(y.sum())} answerable), {len(held_out)} test\n")
    print("| model | tune CV: AUC | abstain_ok | false_abst | test: AUC | @3% | @5% | @10% |")
    print("|---|---|---|---|---|---|---|---|")
    for name, make in candidates().items():
        auc, ok, false = [], [], []
        for seed in range(SHUFFLES):
            oof = np.zeros(len(y))
            for fold in _folds(fitting, seed=seed):
                held = np.isin(np.arange(len(y)), fold)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    oof[held] = make().fit(x[~held], y[~held]).predict_proba(x[held])[:, 1]
            t = abstain_threshold(fitting, oof.tolist())
            auc.append(ranking(fitting, oof.tolist())["auc"])
            ok.append(float(np.mean(oof[y == 0] < t)))
            false.append(float(np.mean(oof[y == 1] < t)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probs = make().fit(x, y).predict_proba(x_test)[:, 1].tolist()
        r = ranking(held_out, probs)
        print(
            f"| {name} | {mean(auc):.3f} ± {pstdev(auc):.3f} | {mean(ok):.3f} ± {pstdev(ok):.3f}"
            f" | {mean(false):.3f} | {r['auc']:.3f} | {r['abstain@0.03']:.3f}"
            f" | {r['abstain@0.05']:.3f} | {r['abstain@0.10']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
