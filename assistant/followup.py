"""Turn a follow-up question into a stand-alone query using the earlier turns (stateless)."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Words that lean on an earlier turn: pronouns, demonstratives and elliptical openings.
ANAPHORA = re.compile(r"(这个|那个|这些|那些|这项|该|此|它|其|他们|它们|上述|前面|刚才|还有呢|还有吗|那么|^那|^还有|^另外|^再|呢[？?]?$)")
SHORT_QUESTION = 14
# Quoted names, names with a project/company suffix and figures carry the reference forward.
ENTITY = re.compile(
    r"“[^”]{2,20}”|[\u4e00-\u9fffA-Za-z0-9]{2,16}(?:项目|工厂|集团|公司|中心|园|港|镇|街道|政策|业务|方案|工程)"
)


def needs_context(question: str) -> bool:
    q = question.strip()
    return bool(ANAPHORA.search(q)) or len(q) <= SHORT_QUESTION


def resolve(question: str, history: Sequence[str], answers: Sequence[str] = ()) -> str:
    """The question plus what it refers to from the latest turns, or the question unchanged."""
    if not history or not needs_context(question):
        return question
    context = [history[-1]]
    if answers:
        context.extend(ENTITY.findall(answers[-1])[:4])
    if len(history) > 1 and len(history[-1]) <= SHORT_QUESTION:
        context.insert(0, history[-2])
    return " ".join([question, *context])
