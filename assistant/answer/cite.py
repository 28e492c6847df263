"""Citation checks: every [n] marker must point at a passage that really supports its sentence.

Pure functions. `verify` re-checks a finished draft (quotes verbatim, markers ↔ citations);
`ground` turns free text with [n] markers (an LLM's reply) into a draft whose markers are kept
only where the passage supports the sentence, repaired to another passage that does, or dropped,
with a sentence that no passage supports dropped altogether.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answer.evidence import flat
from assistant.answer.sentences import Draft, Unit, cite, split_sentences
from assistant.models import Citation, Hit
from assistant.text.zh import CLOSERS, SENTENCE_MARKS

MARKER = re.compile(r"\[(\d{1,3})\]")
# A claim ends at a stop mark; markers right after the mark belong to the claim before it.
CLAIM_END = re.compile(
    rf"[{SENTENCE_MARKS}\n]+[{re.escape(CLOSERS)}]*"
)  # a closing quote belongs to its sentence
FIGURE = re.compile(r"\d+(?:[.,]\d+)*")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Share of a claim's character pairs a passage must contain to support it.
MIN_SUPPORT = 0.5


@dataclass
class Claim:
    """One sentence of generated text and the passage numbers it cites."""

    text: str
    markers: list[int]


def claims(text: str) -> list[Claim]:
    """Split generated text into sentences, each with the [n] markers inside or right after it."""
    out: list[Claim] = []
    pos = 0
    for m in CLAIM_END.finditer(text):
        end = m.end()
        tail = re.match(r"(?:\s*\[\d{1,3}\])+", text[end:])
        if tail:
            end += tail.end()
        _claim(text[pos:end], out)
        pos = end
    _claim(text[pos:], out)
    return out


def _claim(piece: str, out: list[Claim]) -> None:
    markers = [int(n) for n in MARKER.findall(piece)]
    body = MARKER.sub("", piece).strip()
    if body.strip("。！？；!?;，, "):
        out.append(Claim(body, list(dict.fromkeys(markers))))


def bigrams(text: str) -> set[str]:
    t = flat(MARKER.sub("", text))
    return {t[i : i + 2] for i in range(len(t) - 1) if CJK.match(t[i]) or CJK.match(t[i + 1])}


def support(claim: str, passage: str) -> float:
    """How much of a claim a passage holds: 0 if any figure is missing, else the share of its character pairs."""
    p = flat(passage)
    if any(
        f.replace(",", "") not in p.replace(",", "")
        for f in FIGURE.findall(flat(MARKER.sub("", claim)))
    ):
        return 0.0
    pairs = bigrams(claim)
    if not pairs:
        return 0.0
    return sum(1 for b in pairs if b in p) / len(pairs)


def best_span(claim: str, hit: Hit, rank: int) -> Unit:
    """The sentences of a passage that back a claim: the best-matching one, widened to hold its figures."""
    spans = split_sentences(hit.chunk.text)
    scored = [(support_loose(claim, hit.chunk.text[a:b]), i) for i, (a, b) in enumerate(spans)]
    _, best = max(scored, key=lambda x: (x[0], -x[1]))
    lo = hi = best
    for f in FIGURE.findall(flat(claim)):
        for i, (a, b) in enumerate(spans):
            if f in flat(hit.chunk.text[a:b]):
                lo, hi = min(lo, i), max(hi, i)
                break
    return Unit(hit, rank, spans[lo][0], spans[hi][1])


def support_loose(claim: str, sentence: str) -> float:
    pairs = bigrams(claim)
    s = flat(sentence)
    return sum(1 for b in pairs if b in s) / len(pairs) if pairs else 0.0


def ground(text: str, hits: Sequence[Hit], min_support: float = MIN_SUPPORT) -> Draft:
    """Keep supported markers, repair unsupported ones to a passage that does support, drop the rest.

    Marker n refers to hits[n-1]. A sentence with no supporting passage is dropped; the citations
    are renumbered in order of first use and each quote is a verbatim span of its chunk.
    """
    chosen: list[Unit] = []
    parts: list[str] = []
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    for c in claims(text):
        cited = [
            n
            for n in c.markers
            if 1 <= n <= len(hits) and support(c.text, hits[n - 1].chunk.text) >= min_support
        ]
        if not cited:
            ranked = sorted(range(len(hits)), key=lambda i: -support(c.text, hits[i].chunk.text))
            cited = (
                [ranked[0] + 1]
                if ranked and support(c.text, hits[ranked[0]].chunk.text) >= min_support
                else []
            )
        if not cited:
            continue
        marks = []
        for n in cited:
            unit = best_span(c.text, hits[n - 1], n - 1)
            k = numbers.get(unit.key)
            if k is None:
                k = numbers[unit.key] = len(citations) + 1
                citations.append(cite(unit, k))
                chosen.append(unit)
            marks.append(f"[{k}]")
        parts.append(c.text + "".join(dict.fromkeys(marks)))
    return Draft("".join(parts), citations, chosen)


def verify(draft: Draft) -> Draft:
    """Drop any citation whose quote is not its chunk's text at its offsets, and markers without a citation."""
    good: list[Citation] = []
    by_chunk = {u.hit.chunk.id: u.hit.chunk for u in draft.units}
    for c in draft.citations:
        chunk = by_chunk.get(c.chunk_id)
        if (
            chunk is None
            or chunk.text[c.start - chunk.start : c.end - chunk.start] != c.quote
            or not c.quote
        ):
            continue
        good.append(c)
    valid = {c.number for c in good}
    text = MARKER.sub(lambda m: m.group() if int(m.group(1)) in valid else "", draft.text)
    return Draft(text, good, draft.units)


def uncited_sentences(text: str) -> list[str]:
    """Sentences of an answer that carry no [n] marker (should be none)."""
    return [c.text for c in claims(text) if not c.markers]


__all__ = ["Claim", "claims", "ground", "support", "uncited_sentences", "verify"]
