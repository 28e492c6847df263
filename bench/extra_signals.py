"""Signals the answer models do not use, measured on tune out of fold (a benchmark, not a test).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/extra_signals.py --index LIB --home-index SEED \
        [sentences] [questions]

LIB and SEED as for `policy-assistant tune`; an embedder is needed. Every question is read once,
as `tune` reads it.

* sentences: each candidate sentence embedded again with its context (H: heading path; T: title
  and heading path; P: the previous sentence), its similarity to the question and that minus the
  best candidate's added to the sentence features, or put in place of the bare sentence's. P@1 and
  any@3 as `bench/sentence_models.py` measures them. Embeds every candidate three more times
  (about 11,000 texts, 10-20 minutes on two cores).
* questions: query-performance predictors from each question's similarity to every chunk of its
  index (z-score of the best against the top 20, best minus the index mean, spread of the top 20
  over their mean, best minus tenth) added to the question features; out-of-fold separation (as
  `tune.separation` defines it, on the sorted deal alone: `tune` averages it over eight), AUC
  and abstention at 3%. The twenty-second session's figures used separation at 3% alone.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from statistics import mean, pstdev
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402
from sentence_models import SHUFFLES, precision  # noqa: E402

import assistant.eval.tune as tune  # noqa: E402
from assistant.answer.features import SENTENCE_FEATURES, Candidate  # noqa: E402
from assistant.answer.sentences import Unit  # noqa: E402
from assistant.eval.cases import Case, read_blind, tuning  # noqa: E402
from assistant.eval.report import ranking  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import get_settings  # noqa: E402

CONTEXTS: dict[str, Callable[[Unit, str], str]] = {
    "H": lambda u, prev: f"{' '.join(u.hit.chunk.heading_path)} {u.text}".strip(),
    "T": lambda u, prev: (
        f"{u.hit.chunk.document_title} {' '.join(u.hit.chunk.heading_path)} {u.text}".strip()
    ),
    "P": lambda u, prev: prev + u.text,
}
PREDICTORS = ("dense_z", "dense_wig", "dense_nqc", "dense_gap10")
TOP = 20
EVERY = 100_000


def question_vector(bot: Assistant, text: str) -> np.ndarray:
    """The question's vector as the retriever embeds it."""
    assert bot.embedder is not None
    return bot.embedder.embed([bot.retriever.prepare(text).expanded], query=True)[0]


def sentences(sets: Mapping[str, list[Case]], bot: Assistant) -> None:
    """Print the sentence ranking with each context variant."""
    assert bot.embedder is not None

    def contexts(x: Candidate) -> dict[str, str]:
        prev = x.prev.text if x.prev is not None else ""
        return {name: f(x.unit, prev) for name, f in CONTEXTS.items()}

    texts: dict[str, np.ndarray | None] = {}
    for cases in sets.values():
        for c in cases:
            for cand in c.reading.pool:
                texts.update(dict.fromkeys(contexts(cand).values()))
    keys = list(texts)
    for i in range(0, len(keys), 64):
        texts.update(zip(keys[i : i + 64], bot.embedder.embed(keys[i : i + 64]), strict=True))
    for cases in sets.values():
        for c in cases:
            q, pool = question_vector(bot, c.reading.turn.question), c.reading.pool
            around = [contexts(x) for x in pool]
            for name in CONTEXTS:
                sims = [float(texts[a[name]] @ q) for a in around]
                for x, s in zip(pool, sims, strict=True):
                    x.features |= {f"{name}_dense": s, f"{name}_relative": s - max(sims)}
    bare = tuple(n for n in SENTENCE_FEATURES if not n.startswith("sentence_dense"))
    variants: dict[str, tuple[str, ...]] = {"shipped": SENTENCE_FEATURES}
    for name in CONTEXTS:
        added = (f"{name}_dense", f"{name}_relative")
        variants |= {f"+ {name}": SENTENCE_FEATURES + added, f"{name} instead": bare + added}
    fitting = tuning(sets)
    print(
        f"{len(keys)} context texts embedded\n\n| sentence features | P@1 | any@3 |\n|---|---|---|"
    )
    for label, names in variants.items():
        runs = [precision(fitting, names, seed) for seed in range(SHUFFLES)]
        one = [r[0] for r in runs]
        print(f"| {label} | {mean(one):.3f} ± {pstdev(one):.3f} | {mean(r[1] for r in runs):.3f} |")


def questions(sets: Mapping[str, list[Case]], library: Assistant, home: Assistant) -> None:
    """Print the question model's out-of-fold separation with each predictor added."""
    extra: dict[int, dict[str, float]] = {}
    for name, cases in sets.items():
        index = (home if "home index" in name else library).retriever.index
        for c in cases:
            # Every chunk's similarity: asked for more neighbours than it holds, Chroma gives all.
            near = index.dense(question_vector(library, c.reading.turn.query), EVERY)
            s = np.asarray([sim for _, sim in near])
            top = s[:TOP]
            extra[id(c.reading)] = {
                "dense_z": float((s[0] - top.mean()) / (top.std() + 1e-6)),
                "dense_wig": float(s[0] - s.mean()),
                "dense_nqc": float(top.std() / (abs(top.mean()) + 1e-6)),
                "dense_gap10": float(s[0] - s[min(9, len(s) - 1)]),
            }
    shipped, features_of = tune.QUESTION_FEATURES, tune.features_of

    def with_extra(reading: Any, probs: Any) -> dict[str, float]:
        return {**features_of(reading, probs), **extra.get(id(reading), {})}

    variants: dict[str, tuple[str, ...]] = {"shipped": shipped}
    variants |= {f"+ {p}": (*shipped, p) for p in PREDICTORS}
    variants["+ all four"] = shipped + PREDICTORS
    fitting = tuning(sets)
    print("\n| question features | separation | AUC | abstain at 3% |\n|---|---|---|---|")
    tune.features_of = with_extra  # the bench's own process: put back below
    try:
        for label, names in variants.items():
            tune.QUESTION_FEATURES = names  # type: ignore[assignment]
            _, oof = tune.fit_question(fitting, 0.1)
            r = ranking(fitting, oof)
            print(
                f"| {label} | {tune.separation(fitting, oof):.3f} | {r['auc']:.3f}"
                f" | {r['abstain@0.03']:.3f} |"
            )
    finally:
        tune.QUESTION_FEATURES, tune.features_of = shipped, features_of


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--home-index", type=Path, required=True)
    p.add_argument("--data", type=Path, default=REPO / "bench/data/blind")
    p.add_argument("which", nargs="*", choices=("sentences", "questions"))
    args = p.parse_args()
    names = ("tune", "public_tune")
    sets, library, home = read_blind(get_settings(), args.index, args.home_index, args.data, names)
    if library.embedder is None:
        p.error("these signals are dense: run with an embedder (PA_EMBEDDER unset)")
    which = args.which or ["sentences", "questions"]
    if "sentences" in which:
        sentences(sets, library)
    if "questions" in which:
        questions(sets, library, home)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
