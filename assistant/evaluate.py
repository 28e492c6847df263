"""Evaluation on a QA set: retrieval recall and MRR per question type."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

from .errors import InvalidInput
from .models import Hit

WS = re.compile(r"\s+")
TYPES = ("fact", "process", "case", "multihop", "followup", "unanswerable")


@dataclass
class QAItem:
    id: str
    type: str
    question: str
    history: list[str] = field(default_factory=list)
    answer: str = ""
    must_include: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


def load_qa(path: Path) -> list[QAItem]:
    items = []
    try:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                data = json.loads(line)
                items.append(QAItem(**{k: data[k] for k in QAItem.__dataclass_fields__ if k in data}))
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidInput(f"cannot read QA set {path}: {exc}") from exc
    return items


def squash(text: str) -> str:
    return WS.sub("", text)


def first_hit_rank(hits: Sequence[Hit], evidence: Sequence[str]) -> int | None:
    """1-based rank of the first hit containing any evidence string (whitespace ignored)."""
    wanted = [squash(e) for e in evidence if e.strip()]
    for rank, hit in enumerate(hits, 1):
        text = squash(hit.chunk.text)
        if any(e in text for e in wanted):
            return rank
    return None


def retrieval_metrics(ranks: Sequence[int | None]) -> dict[str, float]:
    """Recall@1/3/5 and MRR (over the ranks given, None meaning not found)."""
    if not ranks:
        return {"n": 0, "r@1": 0.0, "r@3": 0.0, "r@5": 0.0, "mrr": 0.0}
    return {
        "n": len(ranks),
        "r@1": mean(r is not None and r <= 1 for r in ranks),
        "r@3": mean(r is not None and r <= 3 for r in ranks),
        "r@5": mean(r is not None and r <= 5 for r in ranks),
        "mrr": mean(1.0 / r if r else 0.0 for r in ranks),
    }


def evaluate_retrieval(items: Sequence[QAItem], search: Callable[[QAItem], Sequence[Hit]]) -> dict[str, Any]:
    """Per-type and overall retrieval figures over the answerable questions."""
    by_type: dict[str, list[int | None]] = defaultdict(list)
    misses = []
    for item in items:
        if not item.answerable:
            continue
        rank = first_hit_rank(search(item), item.evidence)
        by_type[item.type].append(rank)
        if rank is None or rank > 5:
            misses.append(item.id)
    report: dict[str, Any] = {t: retrieval_metrics(r) for t, r in by_type.items()}
    report["answerable"] = retrieval_metrics([r for rs in by_type.values() for r in rs])
    report["misses@5"] = misses
    return report


def format_table(report: dict[str, Any], columns: Sequence[str]) -> str:
    rows = [k for k in (*TYPES, "answerable", "all") if k in report and isinstance(report[k], dict)]
    out = ["type".ljust(13) + "".join(c.rjust(9) for c in columns)]
    for key in rows:
        vals = report[key]
        out.append(key.ljust(13) + "".join(_fmt(vals.get(c)).rjust(9) for c in columns))
    return "\n".join(out)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return "-" if v is None else str(v)
