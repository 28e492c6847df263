"""The blind questions read against an index as the answer stage reads them, each candidate
sentence labelled by the evidence strings: what `tune` fits on and the benches measure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.answer.pipeline import Reading, read
from assistant.eval.metrics import QAItem, first_hit_rank, load_qa, squash
from assistant.service import Assistant


@dataclass
class Case:
    """One question read against the index, with the label of each candidate sentence."""

    item: QAItem
    reading: Reading
    labels: list[int]
    rank: int | None
    # The set and index it was read from: each keeps to the false-abstention bar on its own.
    index: str = ""


def evidence_in(text: str, evidence: Sequence[str]) -> bool:
    """The text shares min(10, len(e)) characters in a row with an evidence string e."""
    t = squash(text)
    for e in evidence:
        e = squash(e)
        n = min(10, len(e))
        if e and any(e[i : i + n] in t for i in range(len(e) - n + 1)):
            return True
    return False


def read_cases(bot: Assistant, items: Sequence[QAItem], index: str = "") -> list[Case]:
    """Each question read as `answer()` reads it (earlier turns sent as the history); `index`
    names the set and index they are read from."""
    out = []
    vocab = bot.vocabulary()
    for item in items:
        # Follow-ups are judged with the assistant's own earlier answers in the history.
        answers = [bot.ask(h, item.history[:i]).text for i, h in enumerate(item.history)]
        r = read(
            item.question,
            item.history,
            answers,
            bot.retriever,
            vocab,
            bot.settings,
            jurisdictions=bot.jurisdictions(),
            filters=bot.answer_filters(item.question),
            followup=bot.model.followup_for(bot.retriever.embedder is not None),
        )
        labels = [int(evidence_in(c.unit.text, item.evidence)) for c in r.pool]
        rank = first_hit_rank(r.hits, item.evidence) if item.answerable else None
        out.append(Case(item, r, labels, rank, index))
    return out


def is_home(item: QAItem) -> bool:
    """A question on the customer's own documents (corpus/), read against its own index too."""
    return item.doc.startswith("seed/")


def read_sets(
    library: Assistant, data: Mapping[str, Sequence[QAItem]], home: Assistant | None = None
) -> dict[str, list[Case]]:
    """Each named set read against the library, and with `home` its customer's own questions
    read against that index too, as "NAME (home index)"."""
    sets: dict[str, list[Case]] = {}
    for name, items in data.items():
        sets[name] = read_cases(library, items, name)
        if home is not None:
            mine = [i for i in items if is_home(i)]
            sets[name + " (home index)"] = read_cases(home, mine, name + " (home index)")
    return sets


def read_blind(
    settings: Any, index: Path, home_index: Path, data: Path, names: Sequence[str]
) -> tuple[dict[str, list[Case]], Assistant, Assistant]:
    """The named blind sets (`data`/NAME.jsonl) read by `read_sets` against the library at
    `index` and the customer's own at `home_index`, with the two assistants (for the benches)."""
    library, home = (
        Assistant(settings.model_copy(update={"index_dir": d}), create=False)
        for d in (index, home_index)
    )
    sets = read_sets(library, {n: load_qa(data / f"{n}.jsonl") for n in names}, home)
    return sets, library, home


def tuning(sets: Mapping[str, Sequence[Case]]) -> list[Case]:
    """The cases fitted on: every set whose name says tune."""
    return [c for name, cases in sets.items() if "tune" in name for c in cases]
