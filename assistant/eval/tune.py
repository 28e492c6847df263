"""Fit the answer models on the `tune` split and report tune, test and leave-one-document-out figures.

`policy-assistant tune --index DIR` reads every blind question against an index of the library
(corpus/ plus the external documents), fits

* the sentence model on the tune questions' candidate sentences (label: the sentence quotes an
  evidence string), and
* the question model on the tune questions (label: answerable), its sentence features taken from
  sentence models fitted without the question's own document group (no leak), and
* the follow-up model on the tune follow-ups (label 1) and on each stand-alone question asked
  after a question about another document (label 0: a new visitor at the kiosk),

chooses the thresholds (abstain and hedge; keep, span, part and duplicate for the sentences) and
the question model's regularisation on tune alone, writes assistant/data/answer_model.json, and
prints the figures. Nothing is chosen on `test`. Leave-one-document-out refits everything
without one document group at a time and judges that group.

The questions are read and labelled by `eval.cases`; the figures and the report are
`eval.report`'s.
"""

from __future__ import annotations

import datetime
import math
import random
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from statistics import mean
from typing import Any

import numpy as np

from assistant.answer.features import QUESTION_FEATURES, SENTENCE_FEATURES
from assistant.answer.followup import LEAN_FEATURES, LEANS_AT
from assistant.answer.model import AnswerModel, Logistic, Thresholds
from assistant.answer.pipeline import features_of, has_topic, lean_values, respond
from assistant.eval.cases import Case, read_cases, read_sets, tuning
from assistant.eval.metrics import QAItem, answer_metrics
from assistant.eval.metrics import judge as judge_answer
from assistant.eval.report import figures, ranking, rounded, summary, table
from assistant.service import Assistant
from assistant.text.question import analyse

MAX_FALSE_ABSTENTION = 0.03  # the bar, met on tune by the abstain threshold
HEDGE_BELOW = 0.5  # a calibrated probability under one half is an answer we are unsure of
KEEP_GRID = tuple(round(x, 2) for x in np.arange(0.1, 0.75, 0.05))
SPAN_SHARES = (0.0, 1 / 3, 2 / 3, 1.0)  # of the answer's character budget (answer_chars)
PART_GRID = (1.0, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1)
DUPLICATE_GRID = (0.6, 0.7, 0.8, 0.9, 1.0)
FOLDS = 5
REGULARISATION = 1.0  # scikit-learn's default C, for the sentence and follow-up models
# The question model's C is chosen on tune from this grid (see choose_regularisation): its 26
# correlated features on about a thousand questions overfit at the default, and a threshold chosen
# on out-of-fold probabilities then fits the final model's less well.
QUESTION_C_GRID = (1.0, 0.3, 0.1, 0.03)
# The C is judged where the bar sits, but not at one point of it: the share of uncovered questions
# abstained on at a single 3% threshold moves by one question with a fold's deal, so it is
# averaged over the thresholds either side and over eight deals of the document groups.
SEPARATION_TARGETS = (0.02, 0.03, 0.04, 0.05)
SEPARATION_DEALS = (None, *range(1, 8))  # the sorted deal (the threshold's), seven shuffles


def lean_pairs(items: Sequence[QAItem], seed: int = 0) -> list[tuple[str, str, int]]:
    """(question, previous question, label): each follow-up after its own previous turn (1), and
    each stand-alone answerable question after one about another document (0)."""
    rng = random.Random(seed)
    alone = [i for i in items if not i.history]
    pairs = [(i.question, i.history[-1], 1) for i in items if i.history]
    for i in alone:
        others = [j for j in alone if (j.group or j.doc) != (i.group or i.doc)]
        if i.answerable and others:
            pairs.append((i.question, rng.choice(others).question, 0))
    return pairs


def lean_rows(bot: Assistant, pairs: Sequence[tuple[str, str, int]]) -> list[dict[str, float]]:
    """The follow-up model's features of each pair, as `read` computes them."""
    analyzer = bot.retriever.analyzer
    idf, size = bot.retriever.rarity()
    rows = []
    for question, previous, _ in pairs:
        info = analyse(question, analyzer, analyzer.synonyms, idf, analyzer.domain)
        rows.append(lean_values(question, previous, info, has_topic(info, size), bot.retriever))
    return rows


def fit_followup(bot: Assistant, items: Sequence[QAItem]) -> tuple[Logistic, Logistic]:
    """The follow-up model, from the follow-ups of `items` and their stand-alone questions, and
    the same without the dense similarity (for a library searched without an embedder)."""
    pairs = lean_pairs(items)
    rows = lean_rows(bot, pairs)
    labels = [label for _, _, label in pairs]
    lexical = tuple(n for n in LEAN_FEATURES if n != "similarity")
    full = _fit([[r.get(n, math.nan) for n in LEAN_FEATURES] for r in rows], labels, LEAN_FEATURES)
    plain = _fit([[r.get(n, math.nan) for n in lexical] for r in rows], labels, lexical)
    return full, plain


def lean_figures(
    bot: Assistant, items: Sequence[QAItem], models: Sequence[Logistic]
) -> list[dict[str, Any]]:
    """For each model, the share of follow-ups read as leaning on the history and of unrelated
    pairs read so (the pairs' features, embeddings included, computed once for all models)."""
    pairs = lean_pairs(items)
    rows = lean_rows(bot, pairs)
    out = []
    for model in models:
        said = [model.probability(r) >= LEANS_AT for r in rows]
        pos = [s for s, (_, _, y) in zip(said, pairs, strict=True) if y]
        neg = [s for s, (_, _, y) in zip(said, pairs, strict=True) if not y]
        out.append(
            {
                "followups": round(mean(pos), 3) if pos else None,
                "unrelated": round(mean(neg), 3) if neg else None,
            }
        )
    return out


def impute(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """`x` with each missing value (dense scores without an embedder) read as its column's mean,
    and those means."""
    if not len(x):
        return x, np.zeros(width)
    # A column nothing fills (dense features read without an embedder) has mean 0, silently.
    counts = (~np.isnan(x)).sum(axis=0)
    mu = np.nansum(x, axis=0) / np.maximum(counts, 1)
    return np.where(np.isnan(x), mu, x), mu


def question_table(rows: Sequence[Mapping[str, float]]) -> list[list[float]]:
    """Question feature rows as lists in QUESTION_FEATURES order, NaN where one is missing."""
    return [[r.get(n, math.nan) for n in QUESTION_FEATURES] for r in rows]


def _fit(
    rows: list[list[float]], labels: list[int], names: Sequence[str], c: float = REGULARISATION
) -> Logistic:
    from sklearn.linear_model import LogisticRegression

    x, mu = impute(np.asarray(rows, dtype=float), len(names))
    y = np.asarray(labels)
    sd = x.std(axis=0)
    sd[sd < 1e-9] = 1.0
    if len(set(y.tolist())) < 2:  # a degenerate fold: predict the base rate
        return Logistic(tuple(names), (0.0,) * len(names), 0.0, tuple(mu), tuple(sd))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lr = LogisticRegression(C=c, max_iter=2000).fit((x - mu) / sd, y)
    return Logistic(
        tuple(names), tuple(lr.coef_[0].tolist()), float(lr.intercept_[0]), tuple(mu), tuple(sd)
    )


def fit_sentence(cases: Sequence[Case], names: Sequence[str] = SENTENCE_FEATURES) -> Logistic:
    """The sentence model over the named features (all of them unless a bench leaves some out)."""
    rows, labels = [], []
    for c in cases:
        if c.item.answerable:
            rows += [[cand.features.get(n, math.nan) for n in names] for cand in c.reading.pool]
            labels += c.labels
    return _fit(rows, labels, names)


def _question_rows(cases: Sequence[Case], sentence: Logistic) -> list[dict[str, float]]:
    return [
        features_of(c.reading, [sentence.probability(x.features) for x in c.reading.pool])
        for c in cases
    ]


def _folds(cases: Sequence[Case], k: int = FOLDS, seed: int | None = None) -> list[list[int]]:
    """Indices of cases in k folds, whole document groups at a time (dealt in sorted order, or
    shuffled by `seed`)."""
    groups = sorted({c.item.group or c.item.doc for c in cases})
    if seed is not None:
        random.Random(seed).shuffle(groups)
    fold_of = {g: i % k for i, g in enumerate(groups)}
    return [
        [i for i, c in enumerate(cases) if fold_of[c.item.group or c.item.doc] == f]
        for f in range(k)
    ]


Deal = tuple[list[list[int]], list[dict[str, float]]]


def deal(cases: Sequence[Case], seed: int | None = None) -> Deal:
    """The folds of one deal of the document groups, and each case's question features with its
    sentence probabilities from a sentence model fitted without its fold (no leak)."""
    feats: list[dict[str, float]] = [{} for _ in cases]
    folds = _folds(cases, seed=seed)
    for fold in folds:
        held = set(fold)
        rest = [c for i, c in enumerate(cases) if i not in held]
        rows = _question_rows([cases[i] for i in fold], fit_sentence(rest))
        for i, row in zip(fold, rows, strict=True):
            feats[i] = row
    return folds, feats


def fit_question(
    cases: Sequence[Case], c: float = REGULARISATION, dealt: Deal | None = None
) -> tuple[Logistic, list[float]]:
    """The question model (regularisation `c`), and out-of-fold question probabilities for
    choosing thresholds (over `dealt`'s folds, by default the sorted deal)."""
    folds, feats = dealt or deal(cases)
    labels = [int(c.item.answerable) for c in cases]
    table = question_table(feats)
    question = _fit(table, labels, QUESTION_FEATURES, c)
    oof = [0.0] * len(cases)
    for fold in folds:
        held = set(fold)
        part = _fit(
            [t for i, t in enumerate(table) if i not in held],
            [y for i, y in enumerate(labels) if i not in held],
            QUESTION_FEATURES,
            c,
        )
        for i in fold:
            oof[i] = part.probability(feats[i])
    return question, oof


def set_thresholds(
    cases: Sequence[Case], probs: Sequence[float], target: float = MAX_FALSE_ABSTENTION
) -> dict[str, float]:
    """Per set read, the highest threshold that abstains on at most `target` of its answerable
    questions."""
    sets: dict[str, list[float]] = {}
    for c, p in zip(cases, probs, strict=True):
        if c.item.answerable:
            sets.setdefault(c.index, []).append(p)
    return {name: float(sorted(ps)[int(target * len(ps))]) - 1e-9 for name, ps in sets.items()}


def abstain_threshold(cases: Sequence[Case], probs: Sequence[float]) -> float:
    """The highest threshold that keeps to MAX_FALSE_ABSTENTION on every set read (pooled, a
    library's hard questions would hide behind the same questions read against the customer's
    small index)."""
    return min(set_thresholds(cases, probs).values(), default=0.5)


def separation(
    cases: Sequence[Case], probs: Sequence[float], targets: Sequence[float] = SEPARATION_TARGETS
) -> float:
    """The mean, over the false-abstention `targets` and the sets read, of the share of uncovered
    questions abstained on at that set's own threshold for the target (set_thresholds): how well
    out-of-fold probabilities separate near the bar, not over the whole range as the AUC does."""
    uncovered: dict[str, list[float]] = {}
    for c, p in zip(cases, probs, strict=True):
        if not c.item.answerable:
            uncovered.setdefault(c.index, []).append(p)
    shares = [
        sum(p < t for p in uncovered[name]) / len(uncovered[name])
        for target in targets
        for name, t in set_thresholds(cases, probs, target).items()
        if name in uncovered
    ]
    return mean(shares) if shares else 0.0


def choose_regularisation(
    cases: Sequence[Case], grid: Sequence[float] = QUESTION_C_GRID
) -> tuple[float, Logistic, list[float], dict[float, float]]:
    """The question model's C with the best out-of-fold separation on `cases`, averaged over
    SEPARATION_DEALS (between equals, the weaker regularisation); its model, its out-of-fold
    probabilities on the sorted deal, and every C's value."""
    deals = [deal(cases, seed) for seed in SEPARATION_DEALS]
    best: tuple[float, Logistic, list[float]] | None = None
    values: dict[float, float] = {}
    for c in sorted(grid, reverse=True):
        runs = [fit_question(cases, c, d) for d in deals]
        values[c] = mean(separation(cases, oof) for _, oof in runs)
        if best is None or values[c] > values[best[0]]:
            best = (c, *runs[0])
    if best is None:
        raise ValueError("choose_regularisation needs a grid of at least one C")
    return (*best, values)


def fit(
    cases: Sequence[Case],
    settings: Any,
    meta: dict[str, Any] | None = None,
    selection: Thresholds | None = None,
    question_c: float | None = None,
) -> AnswerModel:
    """Both models and the thresholds, from `cases` alone (`selection`: keep, span, part and
    duplicate, and `question_c`: the question model's regularisation, given, not searched, as
    leave-one-document-out does to stay affordable)."""
    sentence = fit_sentence(cases)
    if question_c is None:
        question_c, question, oof, by_c = choose_regularisation(cases)
    else:
        question, oof = fit_question(cases, question_c)
        by_c = {}
    t_abstain = abstain_threshold(cases, oof)
    if meta is not None:  # which set binds the threshold, and the model's out-of-fold ranking
        meta["question_regularisation"] = question_c
        meta["separation_by_c"] = {str(k): round(v, 4) for k, v in by_c.items()}
        meta["abstain_by_set"] = {k: round(v, 4) for k, v in set_thresholds(cases, oof).items()}
        meta["question_oof"] = ranking(cases, oof)
    if selection is None:
        selection = choose_selection(cases, sentence, question, settings)
    thresholds = replace(selection, abstain=t_abstain, answer=max(t_abstain, HEDGE_BELOW))
    return AnswerModel(sentence, question, thresholds, meta or {})


def choose_selection(
    cases: Sequence[Case], sentence: Logistic, question: Logistic, settings: Any
) -> Thresholds:
    """keep and span over their grid, then part and duplicate over theirs given those, each by
    selection_value on `cases` (between equals, the larger threshold)."""

    def value(t: Thresholds) -> tuple[float, float]:
        # Chosen without abstaining: what is weighed is which sentences answer.
        model = AnswerModel(sentence, question, replace(t, abstain=0.0, answer=0.0))
        return selection_value(figures(cases, model, settings))

    spans = sorted({round(share * settings.answer_chars) for share in SPAN_SHARES})
    _, _, keep, span = max(
        (*value(Thresholds(keep=k, span=s)), k, s) for s in spans for k in KEEP_GRID
    )
    _, _, part, duplicate = max(
        (*value(Thresholds(keep=keep, span=span, part=p, duplicate=d)), p, d)
        for p in PART_GRID
        for d in DUPLICATE_GRID
    )
    return Thresholds(keep=keep, span=span, part=part, duplicate=duplicate)


def selection_value(m: Mapping[str, Any]) -> tuple[float, float]:
    """What keep, span, part and duplicate are chosen for: the three judged answer figures
    (measuring-answers.md), key facts, answers citing the evidence and citation precision, each
    counted once; between equals, the shorter answers. More sentences raise the first two and
    lower the third; a wider span (one quote) raises the first two without lowering it, and costs
    length.
    """
    value = (m["facts"] or 0.0) + (m["cited"] or 0.0) + (m["cite_prec"] or 0.0)
    return value, -(m["chars"] or 0.0)


def question_probabilities(cases: Sequence[Case], model: AnswerModel) -> list[float]:
    """The question model's probability for each case, as `respond` computes it."""
    return [model.question.probability(r) for r in _question_rows(cases, model.sentence)]


def leave_one_group_out(
    cases: Sequence[Case], settings: Any, selection: Thresholds, question_c: float = REGULARISATION
) -> dict[str, Any]:
    """Refit both models and the abstain threshold without each document group in turn and judge
    that group; figures over all of them (keep, span, part, duplicate and the question model's
    regularisation as fitted on tune)."""
    records = []
    for g in sorted({c.item.group for c in cases}):
        held = [c for c in cases if c.item.group == g]
        rest = [c for c in cases if c.item.group != g]
        model = fit(rest, settings, selection=selection, question_c=question_c)
        records += [
            judge_answer(c.item, respond(c.reading, model, settings, c.item.history)) for c in held
        ]
    return answer_metrics(records)


def fit_words_only(
    model: AnswerModel,
    library: Assistant,
    data: Mapping[str, Sequence[QAItem]],
    home: Assistant | None = None,
) -> tuple[AnswerModel, str]:
    """`model` with its lexical variant: the sentence and question models and the abstain
    threshold fitted again on the same questions read without an embedder (other passages, no
    dense features), keep, span, part and duplicate as `model` has them; and its report."""
    sets = read_sets(library.without_embedder(), data, home.without_embedder() if home else None)
    meta: dict[str, Any] = {}
    settings = library.settings
    words = fit(tuning(sets), settings, meta, selection=model.thresholds)
    rows = {name: figures(cases, words, settings) for name, cases in sets.items() if cases}
    # What a deployment without an embedder got before: the dense model, dense features missing.
    rows |= {
        f"{name}, the dense model": figures(sets[name], model, settings)
        for name in ("tune", "test")
        if sets.get(name)
    }
    fitted = {
        **{k: meta[k] for k in ("question_regularisation", "abstain_by_set", "question_oof")},
        **{f"{name}_figures": rounded(f) for name, f in rows.items() if name in ("tune", "test")},
    }
    report = (
        "without an embedder (the same questions read by their words alone; the lexical models,"
        f" abstain {words.thresholds.abstain:.3f}, question model's C"
        f" {meta['question_regularisation']}):\n{table(rows)}\n"
    )
    return replace(model, lexical=words, meta={**model.meta, "lexical": fitted}), report


def run(
    library: Assistant,
    data: Mapping[str, Sequence[QAItem]],
    home: Assistant | None = None,
    extra: Mapping[str, tuple[Assistant, Sequence[QAItem]]] | None = None,
    lodo: bool = True,
) -> tuple[AnswerModel, str]:
    """Fit on `data["tune"]` (+ `data["public_tune"]`); report every split, the extra sets and
    leave-one-document-out. With `home` (an index of corpus/ alone) the customer's own questions
    are read against it as well, so the model knows both a small and a large library."""
    # The follow-up decision comes first: it changes how follow-ups are read.
    lean_items = [i for name, items in data.items() if "tune" in name for i in items]
    followup, lexical = fit_followup(library, lean_items)
    for bot in [library, home, *(b for b, _ in (extra or {}).values())]:
        if bot is not None:
            bot.model = replace(bot.model, followup=followup, followup_lexical=lexical)
    sets = read_sets(library, data, home)
    fitting = tuning(sets)
    meta = {
        "version": 1,
        "fitted": datetime.date.today().isoformat(),
        "tune_questions": len(fitting),
        "tune_sentences": sum(len(c.reading.pool) for c in fitting if c.item.answerable),
        "embedder": library.embedder.name if library.embedder is not None else "none",
    }
    model = replace(
        fit(fitting, library.settings, meta), followup=followup, followup_lexical=lexical
    )
    model, words_report = fit_words_only(model, library, data, home)
    rows = {name: figures(cases, model, library.settings) for name, cases in sets.items() if cases}
    for name, (bot, items) in (extra or {}).items():
        rows[name] = figures(read_cases(bot, items), model, bot.settings)
    if lodo:
        everything = [c for cases in sets.values() for c in cases]
        rows["leave-one-document-out"] = leave_one_group_out(
            everything,
            library.settings,
            model.thresholds,
            model.meta.get("question_regularisation", REGULARISATION),
        )
    leans, plain = {}, {}
    for name, items in data.items():
        leans[name], plain[name] = lean_figures(library, items, (followup, lexical))
    ranks = {"tune sets, out of fold": model.meta.get("question_oof", {})}
    ranks |= {
        name: ranking(cases, question_probabilities(cases, model)) for name, cases in sets.items()
    }
    model.meta["test_ranking"] = ranks.get("test", {})
    for name in ("tune", "test"):
        if name in rows:
            model.meta[f"{name}_figures"] = rounded(rows[name])
            model.meta[f"{name}_followups"] = leans[name]
    report = summary(rows, model, ranks, words_report, followup, leans, plain)
    return model, report
