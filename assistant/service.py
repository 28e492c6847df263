"""The library's front door: one object holding the index, the embedder and the retriever."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from .answer.model import AnswerModel
from .embed import Embedder, make_embedder
from .errors import IndexNotReady
from .evidence import Vocabulary
from .generate import Generator, make_generator
from .index import DocumentRecord, Index, Snapshot, exists
from .ingest import IngestReport, build_document, index_document, ingest_paths
from .metadata import FACTS, derive, merged
from .models import Answer, Hit
from .places import Gazetteer, Jurisdictions
from .retrieve import Filters, Retriever
from .settings import Settings, get_settings
from .tokenize import tokenize

T = TypeVar("T")


class Assistant:
    """Search and answer over an index of policy documents.

    Build one per process and share it: it loads the embedder once and keeps the index in memory::

        from assistant import Assistant
        bot = Assistant()                    # settings from PA_* environment variables
        bot.ingest([Path("corpus")])
        hits = bot.search("配套设施比例")
    """

    def __init__(
        self,
        settings: Settings | None = None,
        embedder: Embedder | str | None = "auto",
        generator: Generator | str | None = "auto",
        create: bool = True,
        model: AnswerModel | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        if not create and not exists(self.settings):
            raise IndexNotReady(
                f"no index at {self.settings.index_dir}; build it with `policy-assistant ingest corpus/`"
            )
        self.embedder: Embedder | None = (
            make_embedder(self.settings) if isinstance(embedder, str) else embedder
        )
        name = self.embedder.name if self.embedder is not None else "none"
        self.index = Index(
            self.settings, name, partial(tokenize, userdict=self.settings.userdict_path)
        )
        self.retriever = Retriever(self.index, self.embedder, self.settings)
        self.generator: Generator | None = (
            make_generator(self.settings) if isinstance(generator, str) else generator
        )
        self.model = model or AnswerModel.load(self.settings.answer_model_path)
        self.gazetteer = Gazetteer.load()
        # Views of the index renewed when its generation changes: name → (generation, value).
        self._views: dict[str, tuple[str, Any]] = {}

    def _view(self, name: str, build: Callable[[Snapshot], T]) -> T:
        """`build(snapshot)`, computed again only when the index changes."""
        snap = self.index.snapshot
        cached = self._views.get(name)
        if cached is None or cached[0] != snap.generation:
            cached = (snap.generation, build(snap))
            self._views[name] = cached
        return cast(T, cached[1])

    def document_facts(self) -> dict[str, dict[str, str]]:
        """Each document's date, issuer, jurisdiction and kind: its metadata, else read off its
        title and file name (a key is absent when unknown), renewed with the index."""

        def build(snap: Snapshot) -> dict[str, dict[str, str]]:
            return {
                rec.id: merged(
                    {k: rec.metadata.get(k, "") for k in FACTS},
                    derive(rec.title, "", Path(rec.source).name, self.gazetteer),
                )
                for rec in snap.documents.values()
            }

        return self._view("facts", build)

    def jurisdictions(self) -> Jurisdictions:
        """Whose rule each document is, renewed with the index."""

        def build(_: Snapshot) -> Jurisdictions:
            facts = self.document_facts()
            by_document = {doc_id: f.get("jurisdiction", "") for doc_id, f in facts.items()}
            return Jurisdictions(self.gazetteer, by_document, self.settings.home_place)

        return self._view("jurisdictions", build)

    def vocabulary(self) -> Vocabulary:
        """The index's characters (to tell a word no document can hold), renewed with the index."""
        return self._view(
            "vocabulary", lambda snap: Vocabulary.of(c.embed_text for c in snap.chunks)
        )

    def ingest(
        self, paths: Sequence[Path], progress: bool = False, prune: bool = True
    ) -> IngestReport:
        """Ingest files and folders (unchanged documents are skipped)."""
        return ingest_paths(
            paths,
            self.index,
            self.embedder,
            self.settings,
            progress=progress,
            prune=prune,
            gazetteer=self.gazetteer,
        )

    def ingest_bytes(
        self, data: bytes, name: str, metadata: dict[str, str] | None = None
    ) -> tuple[str, str, int]:
        """Ingest one uploaded file; returns (document id, status, chunks)."""
        doc = build_document(data, name, self.settings, metadata, gazetteer=self.gazetteer)
        status, n = index_document(doc, self.index, self.embedder, self.settings)
        return doc.id, status, n

    def search(
        self, query: str, top_k: int | None = None, filters: Filters | None = None
    ) -> list[Hit]:
        """Passages for a query, best first."""
        return self.retriever.search(query, top_k, filters)

    def documents(self) -> list[DocumentRecord]:
        return sorted(self.index.snapshot.documents.values(), key=lambda r: r.title)

    def document(self, doc_id: str) -> tuple[DocumentRecord, str]:
        return self.index.document(doc_id)

    def delete(self, doc_id: str) -> None:
        self.index.delete(doc_id)

    def ask(
        self, question: str, history: Sequence[str] = (), answers: Sequence[str] = ()
    ) -> Answer:
        """A cited answer; `history` holds earlier user questions and `answers` earlier replies, oldest first."""
        from .answer import answer

        result = answer(
            question,
            history,
            answers,
            retriever=self.retriever,
            model=self.model,
            vocabulary=self.vocabulary(),
            generator=self.generator,
            jurisdictions=self.jurisdictions(),
            settings=self.settings,
        )
        facts = self.document_facts()
        for c in result.citations:
            c.document = dict(facts.get(c.document_id, {}))
        return result
