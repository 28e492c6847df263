"""The library's front door: one object holding the index, the embedder and the retriever."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

from .embed import Embedder, make_embedder
from .errors import IndexNotReady
from .generate import Generator, make_generator
from .index import DocumentRecord, Index, exists
from .ingest import IngestReport, build_document, index_document, ingest_paths
from .models import Answer, Hit
from .retrieve import Filters, Retriever
from .settings import Settings, get_settings
from .tokenize import tokenize


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

    def ingest(
        self, paths: Sequence[Path], progress: bool = False, prune: bool = True
    ) -> IngestReport:
        """Ingest files and folders (unchanged documents are skipped)."""
        return ingest_paths(
            paths, self.index, self.embedder, self.settings, progress=progress, prune=prune
        )

    def ingest_bytes(
        self, data: bytes, name: str, metadata: dict[str, str] | None = None
    ) -> tuple[str, str, int]:
        """Ingest one uploaded file; returns (document id, status, chunks)."""
        doc = build_document(data, name, self.settings, metadata)
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

        return answer(
            question,
            history,
            answers,
            retriever=self.retriever,
            generator=self.generator,
            settings=self.settings,
        )
