"""Answer, hedge, abstain or ask again: the fitted question model's probability and its reasons.

* `clarify`: the question has no content word (emoji, 哈哈, punctuation, a greeting): never answered;
* `abstain`: the probability that the passages answer the question is below the fitted `abstain`
  threshold (chosen on the tune split for at most 3% false abstention);
* `hedge`: below the `answer` threshold: the most related passage is quoted as such, still cited;
* `answer`: otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.answer.evidence import Gap
from assistant.answer.model import AnswerModel
from assistant.text.question import QuestionInfo

GREETINGS = frozenset(
    "你好 您好 你们好 大家好 哈喽 嗨 哈哈 哈哈哈 嘿嘿 呵呵 谢谢 谢谢你 多谢 好的 好 嗯 嗯嗯 在吗 在不在 再见 拜拜 ok OK hello hi".split()
)


@dataclass
class Verdict:
    """The outcome, the probability behind it, and the reasons a person can read."""

    outcome: str
    probability: float
    gaps: list[Gap] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    contributions: dict[str, float] = field(default_factory=dict)

    @property
    def abstained(self) -> bool:
        return self.outcome in ("abstain", "clarify")

    @property
    def hedged(self) -> bool:
        return self.outcome == "hedge"

    def reasons(self) -> dict[str, Any]:
        """What `/api/ask` and `ask --explain` show: outcome, gaps and feature values."""
        return {
            "outcome": self.outcome,
            "probability": round(self.probability, 4),
            "gaps": [{"kind": g.kind, "detail": g.detail} for g in self.gaps],
            "features": {k: round(v, 4) for k, v in self.features.items()},
            "contributions": dict(
                sorted(self.contributions.items(), key=lambda kv: -abs(kv[1]))[:6]
            ),
        }


def has_content(info: QuestionInfo) -> bool:
    """Whether the question names anything to look up (a greeting or emoji alone does not)."""
    words = [t.text for t in info.terms if t.text not in GREETINGS]
    return bool(words or info.numbers)


def decide(
    info: QuestionInfo,
    model: AnswerModel,
    features: Mapping[str, float],
    found: Sequence[Gap],
) -> Verdict:
    """The outcome for a question whose passages have been read."""
    if not has_content(info):
        return Verdict("clarify", 0.0, [], dict(features))
    p = model.question.probability(features)
    t = model.thresholds
    outcome = "abstain" if p < t.abstain else "hedge" if p < t.answer else "answer"
    return Verdict(outcome, p, list(found), dict(features), model.question.contributions(features))
