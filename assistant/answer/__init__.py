"""The answer stage: fitted sentence selection and abstention over retrieved passages.

`answer()` (pipeline.py) reads top to bottom; features.py names what the models look at,
model.py holds the fitted weights, select.py and decide.py turn probabilities into an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assistant.answer.decide import Verdict
from assistant.answer.model import AnswerModel
from assistant.answer.pipeline import Reading, answer, read, respond
from assistant.ingest.metadata import SHOWN
from assistant.models import Answer

__all__ = [
    "Answer",
    "AnswerModel",
    "Reading",
    "Verdict",
    "answer",
    "answer_json",
    "read",
    "respond",
]


def source_json(
    document_id: str, title: str, heading: Sequence[str], page: int | None, start: int, end: int
) -> dict[str, Any]:
    return {
        "document_id": document_id,
        "title": title,
        "heading": list(heading),
        "page": page,
        "start": start,
        "end": end,
    }


def answer_json(a: Answer) -> dict[str, Any]:
    """The shape the CLI prints with --json and the API serves (api/schemas.py validates this
    very dict, so the two cannot drift); timings are milliseconds."""
    return {
        "answer": a.text,
        "citations": [
            {
                "id": c.number,
                "quote": c.quote,
                "source": source_json(
                    c.document_id, c.title, c.heading_path, c.page, c.start, c.end
                ),
                "document": {k: c.document.get(k) or None for k in SHOWN},
            }
            for c in a.citations
        ],
        "abstained": a.abstained,
        "hedged": a.hedged,
        "confidence": a.confidence,
        "reasons": a.reasons,
        "timings": dict(a.timings),
        "related": [
            {
                "text": h.chunk.text,
                "score": h.score,
                "source": source_json(
                    h.chunk.document_id,
                    h.chunk.document_title,
                    h.chunk.heading_path,
                    h.chunk.pages[0] if h.chunk.pages else None,
                    h.chunk.start,
                    h.chunk.end,
                ),
                "document": {k: h.document.get(k) or None for k in SHOWN},
            }
            for h in a.related
        ],
        "mode": a.mode,
    }
