"""Request and response models of the HTTP API, kept apart from the library's dataclasses.

Limits that come from settings (question length, history turns, top_k) are checked in the routes,
so the same app honours whatever PA_* values it was started with; the bounds written here are only
hard ceilings that no configuration can lift.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.index.store import DocumentRecord
from assistant.ingest.metadata import DATE_FORM, DocumentFilter
from assistant.models import Answer, Hit

DATE_OR_EMPTY = f"^({DATE_FORM})?$"
# Hard ceilings (settings may be stricter, never looser).
MAX_TEXT_CHARS = 20_000
MAX_MESSAGES = 200


def clean_text(value: str) -> str:
    """Drop what no tokenizer should see: lone surrogates and control characters (tabs and newlines stay)."""
    return "".join(
        ch for ch in value if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )


# ----- errors ------------------------------------------------------------------------------


class ErrorResponse(BaseModel):
    """The one envelope every error is returned in."""

    ok: Literal[False] = False
    error: str = Field(description="What went wrong, in one sentence.")
    status: int = Field(
        description="The HTTP status code, repeated for clients that only see the body."
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        401: "Missing or wrong bearer key",
        413: "Request too large",
        422: "Invalid request",
        429: "Too many requests",
        503: "Index not ready",
    }.items()
}


# ----- health -------------------------------------------------------------------------------


class Health(BaseModel):
    ok: bool = True


class Ready(BaseModel):
    ok: bool = True
    documents: int
    chunks: int
    embedder: str
    jobs_pending: int = 0
    vectors_pending: int = Field(
        0, description="Documents searchable by their words whose vectors are still computed."
    )


# ----- search -------------------------------------------------------------------------------


class SearchFilters(BaseModel):
    document_ids: list[str] = Field(
        default_factory=list, max_length=100, description="Only these documents."
    )
    heading: str = Field(
        "", max_length=200, description="Only passages whose heading path contains this."
    )
    jurisdiction: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Only documents of these places (a province takes its cities' too) or 全国.",
    )
    kind: list[str] = Field(
        default_factory=list, max_length=20, description="Only these kinds (法律, 工作简报 …)."
    )
    date_from: str = Field(
        "",
        pattern=DATE_OR_EMPTY,
        description="Dated on or after (YYYY[-MM[-DD]]).",
    )
    date_to: str = Field(
        "",
        pattern=DATE_OR_EMPTY,
        description="Dated on or before (YYYY[-MM[-DD]]).",
    )
    status: Literal["", "current", "superseded"] = Field(
        "",
        description="current or superseded versions; empty: any for search, current for ask "
        "(unless the question asks for an older version).",
    )

    def where(self) -> DocumentFilter:
        return DocumentFilter(
            list(self.jurisdiction), list(self.kind), self.date_from, self.date_to, self.status
        )


class SearchRequest(BaseModel):
    query: str = Field(
        min_length=1, max_length=MAX_TEXT_CHARS, pattern=r"\S", description="What to look for."
    )
    top_k: int | None = Field(
        None, ge=1, description="How many passages (default from settings, at most max_top_k)."
    )
    filters: SearchFilters | None = None

    @field_validator("query")
    @classmethod
    def _clean(cls, v: str) -> str:
        return clean_text(v)


class Source(BaseModel):
    """Where a passage sits: its document, heading path, first page and character offsets in the cleaned text."""

    document_id: str
    title: str
    heading: list[str]
    page: int | None
    start: int
    end: int


class DocumentFacts(BaseModel):
    """Whose rule a source is and when it was written; null where the document does not say."""

    date: str | None = Field(
        default=None,
        description="Issue, effective or last-amended date: YYYY-MM-DD, YYYY-MM or YYYY.",
    )
    issuer: str | None = None
    jurisdiction: str | None = Field(
        default=None, description="全国, or a province, city or county."
    )
    kind: str | None = Field(
        default=None, description="法律, 行政法规, 地方性法规, 司法解释, 规范性文件, 工作简报 …"
    )
    status: str | None = Field(
        default=None,
        description="current, or superseded by a newer version of the same regulation.",
    )
    replaced_by: str | None = Field(default=None, description="The newer version's document id.")

    @classmethod
    def of(cls, facts: dict[str, str]) -> DocumentFacts:
        return cls(**{k: facts.get(k) or None for k in cls.model_fields})


class FactsEdit(BaseModel):
    """Corrections to a document's facts; a field left out is unchanged, null clears a correction."""

    model_config = ConfigDict(extra="forbid")

    date: str | None = Field(default=None, pattern=DATE_OR_EMPTY)
    issuer: str | None = Field(default=None, max_length=100)
    jurisdiction: str | None = Field(default=None, max_length=100)
    kind: str | None = Field(default=None, max_length=100)
    status: Literal["current", "superseded"] | None = None


class SearchHit(BaseModel):
    text: str
    score: float
    source: Source
    document: DocumentFacts = Field(default_factory=lambda: DocumentFacts())

    @classmethod
    def from_hit(cls, hit: Hit) -> SearchHit:
        c = hit.chunk
        return cls(
            text=c.text,
            score=float(hit.score),
            source=Source(
                document_id=c.document_id,
                title=c.document_title,
                heading=list(c.heading_path),
                page=c.pages[0] if c.pages else None,
                start=c.start,
                end=c.end,
            ),
            document=DocumentFacts.of(hit.document),
        )


class SearchResponse(BaseModel):
    hits: list[SearchHit]


# ----- ask ----------------------------------------------------------------------------------


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TEXT_CHARS)

    @field_validator("content")
    @classmethod
    def _clean(cls, v: str) -> str:
        return clean_text(v)


class AskRequest(BaseModel):
    question: str = Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        pattern=r"\S",
        description="The question (at most max_question_chars).",
    )
    history: list[Turn] = Field(
        default_factory=list,
        max_length=MAX_MESSAGES,
        description="Earlier turns, oldest first (at most max_history_turns).",
    )
    stream: bool = Field(
        False,
        strict=True,
        description="Stream server-sent events (same as `Accept: text/event-stream`).",
    )
    filters: SearchFilters | None = Field(
        None,
        description="Answer only from these documents (by id, jurisdiction, kind, date, status).",
    )

    @field_validator("question")
    @classmethod
    def _clean(cls, v: str) -> str:
        return clean_text(v)


class CitationOut(BaseModel):
    id: int = Field(description="The n of the [n] marker in the answer text.")
    quote: str = Field(description="Verbatim text of the cited passage.")
    source: Source
    document: DocumentFacts = Field(default_factory=lambda: DocumentFacts())


class AskResponse(BaseModel):
    answer: str = Field(description="Answer text with [n] citation markers.")
    citations: list[CitationOut]
    abstained: bool = Field(description="True when the documents do not answer the question.")
    hedged: bool = Field(
        False,
        description="True when the answer quotes the most related passage without claiming it answers the question.",
    )
    confidence: float = Field(
        description="Fitted probability that the passages answer the question."
    )
    reasons: dict[str, Any] = Field(
        default_factory=dict,
        description="Why: outcome (answer, hedge, abstain, clarify), probability, gaps, feature values.",
    )
    timings: dict[str, float]
    related: list[SearchHit] = Field(
        default_factory=list, description="Nearby passages, useful when abstaining."
    )
    mode: str = Field("extractive", description="How the text was written: extractive or llm.")
    question_id: str | None = Field(
        default=None,
        description="Id of this question in the question log: send it with POST /api/feedback, "
        "or fetch GET /api/answers/{question_id}/qr.svg. Null when the log could not be written.",
    )
    follow_ups: list[str] = Field(
        default_factory=list,
        description="Two or three questions a visitor may ask next, from the cited and related "
        "passages' headings and the suggested questions.",
    )

    @classmethod
    def from_answer(cls, a: Answer) -> AskResponse:
        # The library writes the JSON once (answer_json, also the CLI's --json); this validates it.
        from assistant.answer import answer_json

        return cls.model_validate(answer_json(a))


# ----- feedback and the question log -------------------------------------------------------


class FeedbackRequest(BaseModel):
    """A visitor's 👍/👎 on one answer; sending again replaces the earlier rating."""

    model_config = ConfigDict(extra="forbid")

    question_id: str = Field(
        pattern=r"^[0-9a-f]{32}$", description="The `question_id` of the ask response."
    )
    rating: Literal["up", "down"]
    reason: str = Field("", max_length=200, description="Optional: why (for 👎).")

    @field_validator("reason")
    @classmethod
    def _clean(cls, v: str) -> str:
        return clean_text(v)


class FeedbackSaved(BaseModel):
    ok: bool = True
    question_id: str
    rating: Literal["up", "down"]


class InsightGroup(BaseModel):
    """Near-duplicate questions counted together (character-bigram Jaccard at least the threshold)."""

    question: str = Field(description="The most frequent phrasing.")
    count: int = Field(description="How often any phrasing was asked in the period.")
    last_asked: str = Field(description="UTC time of the latest, ISO 8601.")
    variants: list[str] = Field(description="The other phrasings of the group.")
    reasons: list[str] = Field(description="Reasons given with 👎 (the 👎 list only).")


class Insights(BaseModel):
    """What visitors could not get answered over the last `days` days (0: everything kept)."""

    days: int
    since: str = Field(description="UTC start of the period, ISO 8601 (empty: no bound).")
    questions: int = Field(description="Questions logged in the period.")
    outcomes: dict[str, int] = Field(description="answered, hedged, declined and clarify counts.")
    up: int = Field(description="👍 given to questions of the period.")
    down: int = Field(description="👎 given to questions of the period.")
    declined: list[InsightGroup]
    hedged: list[InsightGroup]
    disliked: list[InsightGroup] = Field(description="Questions whose answer got 👎.")
    near_duplicate_jaccard: float


# ----- OpenAI-compatible chat ---------------------------------------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return clean_text(self.content)
        return clean_text(
            "".join(p.text or "" for p in self.content if p.type in ("text", "input_text"))
        )


class ChatRequest(BaseModel):
    """The subset of OpenAI's chat completion request we use; other fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field("policy-assistant", max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = Field(False, strict=True)


class ChatReply(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatReply
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    citations: list[CitationOut] = Field(
        description="The sources behind the [n] markers (an extension)."
    )
    abstained: bool = False


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "policy-assistant"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# ----- documents and jobs -------------------------------------------------------------------

# Metadata keys that describe the server, not the document (paths, internal file names).
PRIVATE_METADATA = {"root", "upload"}


class DocumentSummary(BaseModel):
    id: str
    title: str
    type: str
    pages: int
    chunks: int
    ingested_at: str
    hash: str
    filename: str = Field(description="The file's name as ingested or uploaded (display only).")
    ocr_pages: list[int] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    vectors_pending: bool = Field(
        False, description="Searchable by its words; its vectors are still being computed."
    )
    facts: DocumentFacts = Field(
        default_factory=lambda: DocumentFacts(),
        description="Date, issuer, jurisdiction, kind and status: an admin's edit, else the "
        "sidecar, else what the text shows; null where unknown.",
    )

    @classmethod
    def from_record(cls, r: DocumentRecord, facts: dict[str, str] | None = None) -> DocumentSummary:
        meta = {k: v for k, v in r.metadata.items() if k not in PRIVATE_METADATA}
        filename = meta.get("filename") or r.source.replace("\\", "/").rsplit("/", 1)[-1]
        return cls(
            id=r.id,
            title=r.title,
            type=r.doc_type,
            pages=r.pages,
            chunks=r.chunks,
            ingested_at=r.ingested_at,
            hash=r.content_hash,
            filename=filename,
            ocr_pages=list(r.ocr_pages),
            metadata=meta,
            vectors_pending=r.dense_pending,
            facts=DocumentFacts.of(facts or {}),
        )


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class DocumentDetail(DocumentSummary):
    text: str = Field(description="The cleaned text every citation's start/end offsets point into.")


class Deleted(BaseModel):
    ok: bool = True
    deleted: str


JobStatus = Literal["queued", "running", "done", "failed"]


class JobOut(BaseModel):
    id: str
    kind: Literal["upload", "reindex", "vectors"]
    status: JobStatus
    filename: str = ""
    document_id: str | None = None
    result: str | None = Field(
        None, description="added, updated or unchanged (uploads); a summary (reindex)."
    )
    chunks: int | None = None
    searchable: bool = Field(
        False, description="The document answers searches by its words (its vectors may follow)."
    )
    vectors_done: int | None = Field(
        None, description="Chunks whose vectors are stored, while they are computed."
    )
    error: str | None = None
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None


class JobList(BaseModel):
    jobs: list[JobOut]
