"""Routes: precedent cards, the concrete cases the documents tell (see assistant/precedents/).

GET /api/precedents?measure=&place=&year=&document_id= returns the cards that pass every filter
given, and the facets (measures, places, years, with counts over all cards) the staff page's
filters are built from. Open like search (PA_OPEN_API_KEY closes it).
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from assistant.answer.provenance import shown
from assistant.precedents import Precedent, matches
from assistant.service import Assistant

from ..deps import AssistantDep, Reader
from ..openapi import OPEN
from ..schemas import ERROR_RESPONSES, DocumentFacts

router = APIRouter(tags=["precedents"])


class CardMeasure(BaseModel):
    name: str = Field(description="The measure's name (data/measures.tsv, or the quoted wording).")
    text: str = Field(description="How the document words it, verbatim.")
    start: int = Field(description="Document offset of the wording.")
    end: int


class CardSource(BaseModel):
    """Where the case is told: the document, the case's span, and its key sentence verbatim."""

    document_id: str
    title: str
    heading: list[str]
    start: int
    end: int
    quote: str
    quote_start: int
    quote_end: int


class PrecedentCard(BaseModel):
    id: str
    subject: str = Field(description="The enterprise, project or event the case is about.")
    subject_kind: str = Field(description="project, enterprise or event")
    parties: list[str] = Field(description="Other enterprises the case names.")
    headline: str = Field(description="The headline of the article telling it.")
    place: str = Field(description="The most local place named, else the document's own place.")
    places: list[str]
    date: str | None = Field(description="YYYY, YYYY-MM or YYYY-MM-DD; null when unknown.")
    date_label: str = Field(description="The date in words: 2022年6月, or 日期不详.")
    date_text: str = Field(description="The date as the text words it: 今年6月, 近日.")
    date_resolved: bool = Field(
        description="The year comes from the document's date, not from the words themselves."
    )
    year: str | None
    measures: list[CardMeasure]
    figures: list[str]
    source: CardSource
    document: DocumentFacts

    @classmethod
    def of(cls, card: Precedent, facts: dict[str, str]) -> PrecedentCard:
        return cls(
            id=card.id,
            subject=card.subject,
            subject_kind=card.subject_kind,
            parties=card.parties,
            headline=card.headline,
            place=card.place,
            places=card.places,
            date=card.date or None,
            date_label=shown(card.date) if card.date else "日期不详",
            date_text=card.date_text,
            date_resolved=card.date_resolved,
            year=card.year or None,
            measures=[
                CardMeasure(name=m.name, text=m.text, start=m.start, end=m.end)
                for m in card.measures
            ],
            figures=card.figures,
            source=CardSource(
                document_id=card.document_id,
                title=card.title,
                heading=card.heading,
                start=card.start,
                end=card.end,
                quote=card.quote,
                quote_start=card.quote_start,
                quote_end=card.quote_end,
            ),
            document=DocumentFacts.of(facts),
        )


class Facet(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    measures: list[Facet]
    places: list[Facet]
    years: list[Facet]


class PrecedentList(BaseModel):
    precedents: list[PrecedentCard]
    total: int = Field(description="Cards before filtering.")
    facets: Facets = Field(description="Every measure, place and year over all cards, with counts.")


def all_cards(bot: Assistant) -> list[Precedent]:
    return bot.precedents()


def facet(values: list[str]) -> list[Facet]:
    counts = Counter(values)
    return [
        Facet(value=v, count=n) for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


Filter = Annotated[str, Query(max_length=100)]


@router.get(
    "/api/precedents",
    summary="Precedent cards: cases the documents tell, filtered by measure, place and year",
    dependencies=Reader,
    openapi_extra=OPEN,
    responses=ERROR_RESPONSES,
)
def precedents(
    bot: AssistantDep,
    measure: Filter = "",
    place: Filter = "",
    year: Annotated[str, Query(pattern=r"^(\d{4})?$")] = "",
    document_id: Filter = "",
) -> PrecedentList:
    # A plain `def`: extraction reads documents and runs jieba, so it runs in the threadpool.
    cards = all_cards(bot)
    facts = bot.document_facts()
    kept = [
        c
        for c in cards
        if (not document_id or c.document_id == document_id)
        and matches(c, measure.strip(), place.strip(), year, bot.gazetteer)
    ]
    return PrecedentList(
        precedents=[PrecedentCard.of(c, facts.get(c.document_id, {})) for c in kept],
        total=len(cards),
        facets=Facets(
            measures=facet([n for c in cards for n in c.measure_names]),
            places=facet([p for c in cards for p in dict.fromkeys(c.places)]),
            years=sorted(
                facet([c.year for c in cards if c.year]), key=lambda f: f.value, reverse=True
            ),
        ),
    )
