"""What a precedent card holds (a case's subject, date, measures, figures and source), and the
staff page's filters over cards."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from assistant.settings import DATA_DIR
from assistant.text.places import Gazetteer

MEASURES_PATH = DATA_DIR / "measures.tsv"


@dataclass(frozen=True)
class Measure:
    """A measure of a case: its name, and where the text says it (document offsets)."""

    name: str
    text: str
    start: int
    end: int
    how: str = "table"  # "table" (data/measures.tsv) or "quoted" (an action verb and a quote)


@dataclass(frozen=True)
class Subject:
    name: str
    kind: str  # project, enterprise or event
    start: int
    end: int


@dataclass(frozen=True)
class DateMention:
    text: str  # as written: 今年6月
    date: str  # resolved: 2022-06, "" when the document's date cannot tell
    start: int
    resolved: bool  # the text's own words did not give the year


@dataclass
class Precedent:
    """One case, as a card."""

    id: str
    document_id: str
    title: str
    heading: list[str]
    headline: str
    subject: str
    subject_kind: str
    parties: list[str]
    place: str
    places: list[str]
    date: str  # YYYY, YYYY-MM or YYYY-MM-DD; "" unknown
    date_text: str
    date_resolved: bool
    measures: list[Measure]
    figures: list[str]
    start: int
    end: int
    quote: str
    quote_start: int
    quote_end: int

    @property
    def year(self) -> str:
        return self.date[:4]

    @property
    def measure_names(self) -> list[str]:
        return list(dict.fromkeys(m.name for m in self.measures))


@dataclass(frozen=True)
class MeasureTable:
    """Measure name → compiled patterns, from data/measures.tsv."""

    entries: tuple[tuple[str, re.Pattern[str]], ...] = ()

    @classmethod
    def load(cls, path: Path = MEASURES_PATH) -> MeasureTable:
        entries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, _, patterns = line.partition("\t")
            if name.strip() and patterns.strip():
                entries.append((name.strip(), re.compile(patterns.strip())))
        return cls(tuple(entries))


@dataclass
class Section:
    """A stretch of a document under one heading (chunk.sections gives them)."""

    heading: list[str]
    start: int
    end: int
    heading_end: int = -1


def matches(
    card: Precedent,
    measure: str = "",
    place: str = "",
    year: str = "",
    gazetteer: Gazetteer | None = None,
) -> bool:
    """Whether a card passes the filters (each empty filter passes everything).

    measure: a substring of one of its measures' names or wording; place: a substring of one of
    its places either way, or (with a gazetteer) a place containing one of them (浙江 → 平湖市);
    year: the year of its date.
    """
    if measure and not any(measure in m.name or measure in m.text for m in card.measures):
        return False
    if year and card.year != year:
        return False
    if place:
        if any(place in p or p in place for p in card.places):
            return True
        if gazetteer is None:
            return False
        wanted = gazetteer.find(place)
        held = [p for name in card.places for p in gazetteer.find(name)]
        return any(gazetteer.within(h, w) for h in held for w in wanted)
    return True
