"""Two or three questions to offer after an answer: what the visitor may ask next.

They come from the headings of the passages the answer cites, then of the related passages, then
from the start screen's suggested questions, each phrased as a question the way the start screen
phrases headings. A candidate that is (nearly) the question just asked, or one asked earlier in
the conversation, is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .feedback import NEAR_DUPLICATE_JACCARD, bigrams, jaccard
from .routes.pages import as_question, heading_phrase
from .schemas import AskResponse

FOLLOW_UPS = 3


def _heading_questions(title: str, heading: Sequence[str]) -> Iterable[str]:
    """The question for the most specific usable heading of a passage (at most one)."""
    for h in reversed(list(heading)):
        phrase = heading_phrase(h, title)
        if phrase:
            yield as_question(phrase, title)
            return


def follow_up_questions(
    body: AskResponse,
    asked: Sequence[str],
    suggestions: Sequence[str] = (),
    limit: int = FOLLOW_UPS,
) -> list[str]:
    """Up to `limit` questions, none a near-duplicate of `asked` (this question and earlier ones)."""
    candidates: list[str] = []
    for c in body.citations:
        candidates.extend(_heading_questions(c.source.title, c.source.heading))
    for hit in body.related:
        candidates.extend(_heading_questions(hit.source.title, hit.source.heading))
    candidates.extend(suggestions)
    taken = [bigrams(q) for q in asked if q.strip()]
    out: list[str] = []
    for q in candidates:
        q = q.strip()
        if not q or not q.endswith(("？", "?")) or q in out:
            continue
        grams = bigrams(q)
        if any(jaccard(grams, t) >= NEAR_DUPLICATE_JACCARD for t in taken):
            continue
        out.append(q)
        taken.append(grams)
        if len(out) == limit:
            break
    return out
