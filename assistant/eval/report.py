"""The figures `tune` prints: the judged answer figures per set, the question model's ranking,
and the tables they are shown in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import mean
from typing import Any

from assistant.answer.model import AnswerModel, Logistic
from assistant.answer.pipeline import respond
from assistant.eval.cases import Case
from assistant.eval.metrics import answer_metrics
from assistant.eval.metrics import judge as judge_answer

FALSE_RATES = (0.03, 0.05, 0.10)


def ranking(cases: Sequence[Case], probs: Sequence[float]) -> dict[str, float]:
    """How well question probabilities rank answerable questions above uncovered ones, whatever
    the threshold: the AUC, and the share of uncovered questions abstained on where each of
    FALSE_RATES of the answerable ones would be ({} without both kinds). Two question models are
    compared on this, not on figures that move with a threshold."""
    from sklearn.metrics import roc_auc_score

    yes = sorted(p for c, p in zip(cases, probs, strict=True) if c.item.answerable)
    no = [p for c, p in zip(cases, probs, strict=True) if not c.item.answerable]
    if not yes or not no:
        return {}
    labels = [int(c.item.answerable) for c in cases]
    out = {"auc": round(float(roc_auc_score(labels, list(probs))), 4)}
    for rate in FALSE_RATES:
        below = yes[int(rate * len(yes))]  # abstaining under it leaves int(rate·n) answerable out
        out[f"abstain@{rate:.2f}"] = round(sum(p < below for p in no) / len(no), 4)
    return out


def figures(cases: Sequence[Case], model: AnswerModel, settings: Any) -> dict[str, Any]:
    """The answer figures of measuring-answers.md, plus R@5 and MRR, over some cases."""
    records = [
        judge_answer(c.item, respond(c.reading, model, settings, c.item.history)) for c in cases
    ]
    out = answer_metrics(records)
    ranks = [c.rank for c in cases if c.item.answerable and not c.item.history]
    out["r@5"] = mean(r is not None and r <= 5 for r in ranks) if ranks else None
    out["mrr"] = mean(1.0 / r if r else 0.0 for r in ranks) if ranks else None
    return out


def rounded(figures: Mapping[str, Any]) -> dict[str, Any]:
    """Figures as the model file's meta keeps them: fractions to four places."""
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}


COLUMNS = ("n", "r@5", "mrr", "facts", "cited", "cite_prec", "false_abst", "abstain_ok", "hedged")


def table(rows: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of figures, one row per set."""
    out = ["| set | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, m in rows.items():
        cells = []
        for c in COLUMNS:
            v = m.get(c)
            cells.append("-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def weights(model: Logistic) -> str:
    """A model's standardised coefficients, one named line each."""
    return "\n".join(f"  {n:18s} {w:+.3f}" for n, w in zip(model.features, model.coef, strict=True))


def summary(
    rows: dict[str, dict[str, Any]],
    model: AnswerModel,
    ranks: Mapping[str, Mapping[str, float]],
    words_report: str,
    followup: Logistic,
    leans: Mapping[str, Mapping[str, Any]],
    plain: Mapping[str, Mapping[str, Any]],
) -> str:
    """The tune command's report: the figures of every set, the thresholds and how they were
    chosen, the question model's ranking, the lexical variant's table (`words_report`), the
    fitted weights, and the follow-up decision with and without the similarity (`leans`,
    `plain`)."""
    lean_table = "\n".join(
        f"  {name:12s} follow-ups read as such {f['followups']}, unrelated read as follow-ups"
        f" {f['unrelated']} (without the similarity: {plain[name]['followups']},"
        f" {plain[name]['unrelated']})"
        for name, f in leans.items()
    )
    t = model.thresholds
    report = (
        table(rows)
        + f"\n\nthresholds: keep {t.keep:.2f}, abstain {t.abstain:.3f}, answer {t.answer:.3f},"
        f" span {t.span}, part {t.part:.2f}, duplicate {t.duplicate:.2f}\n"
        "abstain threshold each set would allow (the lowest is taken): "
        + ", ".join(f"{k} {v:.3f}" for k, v in model.meta.get("abstain_by_set", {}).items())
        + "\n"
        f"question model's regularisation C {model.meta.get('question_regularisation')}"
        " (out-of-fold separation at each set's 2-5% thresholds, over eight deals, by C: "
        + ", ".join(f"{k} {v:.3f}" for k, v in model.meta.get("separation_by_c", {}).items())
        + ")\n"
        "question model's ranking, whatever the threshold (AUC; uncovered abstained on where"
        f" {', '.join(f'{r:.0%}' for r in FALSE_RATES)} of answerable ones would be):\n"
        + "\n".join(
            f"  {name:26s} " + ", ".join(f"{k} {v:.3f}" for k, v in r.items())
            for name, r in ranks.items()
            if r
        )
        + "\n"
        + words_report
        + f"sentence model (standardised coefficients):\n{weights(model.sentence)}\n"
        f"question model:\n{weights(model.question)}\n"
        f"follow-up model:\n{weights(followup)}\nfollow-up decision (unrelated: a stand-alone question"
        f" after one about another document):\n{lean_table}"
    )
    return report
