"""The fitted answer models: three logistic regressions and their thresholds, read from one data file.

`assistant/data/answer_model.json` is written by `policy-assistant tune` (see assistant/eval/tune.py),
which fits it on the `tune` split of the blind question sets and prints the held-out figures.
Every weight there has the name of the feature it multiplies; nothing here is hand-set.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.errors import InvalidInput

MODEL_PATH = Path(__file__).resolve().parent.parent / "data" / "answer_model.json"


@dataclass(frozen=True)
class Logistic:
    """A logistic regression over named, standardised features."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def logit(self, values: Mapping[str, float]) -> float:
        z = self.intercept
        for name, w, m, s in zip(self.features, self.coef, self.mean, self.scale, strict=True):
            z += w * (values.get(name, m) - m) / s
        return z

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.logit(values)
        return 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0

    def contributions(self, values: Mapping[str, float]) -> dict[str, float]:
        """Each feature's share of the logit: why the model decided as it did."""
        return {
            name: round(w * (values.get(name, m) - m) / s, 3)
            for name, w, m, s in zip(self.features, self.coef, self.mean, self.scale, strict=True)
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "coef": [round(c, 6) for c in self.coef],
            "intercept": round(self.intercept, 6),
            "mean": [round(m, 6) for m in self.mean],
            "scale": [round(s, 6) for s in self.scale],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Logistic:
        return cls(
            tuple(data["features"]),
            tuple(float(x) for x in data["coef"]),
            float(data["intercept"]),
            tuple(float(x) for x in data["mean"]),
            tuple(float(x) or 1.0 for x in data["scale"]),
        )


@dataclass(frozen=True)
class Thresholds:
    """keep: a sentence's probability to join the answer; abstain/answer: the question's
    probability below which the assistant abstains, and below which an answer is hedged."""

    keep: float = 0.5
    abstain: float = 0.3
    answer: float = 0.5
    span: int = 0  # characters each chosen sentence may grow to with its neighbours in its passage
    # A sub-question whose best sentence another part took brings its next best at this (1: never).
    part: float = 1.0
    # Share of the shorter sentence's character bigrams found in a chosen one that leaves it out.
    duplicate: float = 0.6


@dataclass(frozen=True)
class AnswerModel:
    """Sentence selection, abstention and the follow-up decision, fitted together; `meta` records
    how and on what. Without `followup` (an older file) a rule decides what leans on the history;
    `followup_lexical` is the same decision fitted without the dense similarity, and `lexical` the
    sentence and question models with their thresholds fitted on questions read without an
    embedder (None in an older file: the dense features are then read at their means)."""

    sentence: Logistic
    question: Logistic
    thresholds: Thresholds
    meta: dict[str, Any] = field(default_factory=dict)
    followup: Logistic | None = None
    followup_lexical: Logistic | None = None
    lexical: AnswerModel | None = None

    def followup_for(self, dense: bool) -> Logistic | None:
        """The follow-up model for a search with (`dense`) or without an embedder."""
        if dense or self.followup_lexical is None:
            return self.followup
        return self.followup_lexical

    def for_search(self, dense: bool) -> AnswerModel:
        """The models for a search with (`dense`) or without an embedder: without one, the
        passages and the features differ, and so do the weights and the abstain threshold."""
        if dense or self.lexical is None:
            return self
        return replace(self.lexical, followup=self.followup, followup_lexical=self.followup_lexical)

    def sentence_probabilities(self, rows: Sequence[Mapping[str, float]]) -> list[float]:
        return [self.sentence.probability(r) for r in rows]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.meta.get("version", 1),
            **self._fitted(),
            **({"followup": self.followup.to_json()} if self.followup is not None else {}),
            **(
                {"followup_lexical": self.followup_lexical.to_json()}
                if self.followup_lexical is not None
                else {}
            ),
            **({"lexical": self.lexical._fitted()} if self.lexical is not None else {}),
            "meta": self.meta,
        }

    def _fitted(self) -> dict[str, Any]:
        """The sentence and question models and the thresholds (what a lexical variant has)."""
        t = self.thresholds
        return {
            "sentence": self.sentence.to_json(),
            "question": self.question.to_json(),
            "thresholds": {
                "keep": round(t.keep, 4),
                "abstain": round(t.abstain, 4),
                "answer": round(t.answer, 4),
                "span": t.span,
                "part": round(t.part, 4),
                "duplicate": round(t.duplicate, 4),
            },
        }

    @classmethod
    def _from_fitted(cls, data: Mapping[str, Any]) -> AnswerModel:
        return cls(
            Logistic.from_json(data["sentence"]),
            Logistic.from_json(data["question"]),
            Thresholds(**data["thresholds"]),
        )

    def save(self, path: Path = MODEL_PATH) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n", "utf-8")

    @classmethod
    def untrained(cls) -> AnswerModel:
        """A model that knows nothing yet: what `tune` starts from (it never reads the file)."""
        from assistant.answer.features import QUESTION_FEATURES, SENTENCE_FEATURES

        def flat(names: Sequence[str]) -> Logistic:
            n = len(names)
            return Logistic(tuple(names), (0.0,) * n, 0.0, (0.0,) * n, (1.0,) * n)

        return cls(flat(SENTENCE_FEATURES), flat(QUESTION_FEATURES), Thresholds())

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> AnswerModel:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return replace(
                cls._from_fitted(data),
                meta=dict(data.get("meta", {})),
                followup=Logistic.from_json(data["followup"]) if "followup" in data else None,
                followup_lexical=(
                    Logistic.from_json(data["followup_lexical"])
                    if "followup_lexical" in data
                    else None
                ),
                lexical=cls._from_fitted(data["lexical"]) if "lexical" in data else None,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"cannot read the answer model {path}: {exc}") from exc
