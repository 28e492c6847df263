"""The library's front door: one object holding the index, the embedder and the retriever."""

from __future__ import annotations

import copy
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, cast

from assistant.answer.evidence import Vocabulary
from assistant.answer.generate import Generator, make_generator
from assistant.answer.model import AnswerModel
from assistant.errors import IndexNotReady, NotFound
from assistant.index.embed import Embedder, make_embedder
from assistant.index.snapshot import Segment
from assistant.index.store import DocumentRecord, Index, Snapshot, exists, other_embedders
from assistant.ingest.metadata import FACTS, DocumentFilter, Edits, derive, merged, versions
from assistant.ingest.pipeline import (
    IngestReport,
    build_document,
    fill_vectors,
    index_document,
    ingest_paths,
)
from assistant.models import Answer, Hit
from assistant.precedents import Casebook, Extractor, Precedent
from assistant.retrieve.retriever import Filters, Retriever
from assistant.settings import Settings, get_settings
from assistant.text.analyzer import Analyzer
from assistant.text.places import Gazetteer, Jurisdictions

T = TypeVar("T")
# A question that asks for an older version is answered from it too ("修订前", "旧版", "2012年版").
OLD_VERSION = re.compile(r"修订前|修正前|修改前|旧版|老版|原来的规定|以前的规定|\d{4}年版")
EDITS_FILE = "document_facts.json"
NO_DOCUMENT = "\x00none"  # a document id no index holds: a filter that lets nothing through


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
        self.analyzer = Analyzer(self.settings.userdict_path, self.settings.synonyms_path)
        self.index = Index(self.settings, name, self.analyzer.tokenize)
        # A folder listing first: the index itself is read only when another embedder built one.
        others = [] if create else other_embedders(self.settings, name)
        if others and not self.index.snapshot.documents:
            raise IndexNotReady(
                f"the index at {self.settings.index_dir} has no documents for the embedder"
                f" {name}; it was built with {', '.join(others)}: set PA_EMBEDDER to that,"
                " or ingest again with this one"
            )
        self.retriever = Retriever(self.index, self.embedder, self.settings, self.analyzer)
        self.generator: Generator | None = (
            make_generator(self.settings) if isinstance(generator, str) else generator
        )
        self.model = model or AnswerModel.load(self.settings.answer_model_path)
        self.gazetteer = Gazetteer.load()
        self.edits = Edits(self.settings.index_dir / EDITS_FILE)
        # Views of the index renewed when it or the edits change: name → (version, value).
        self._views: dict[str, tuple[tuple[str, float], Any]] = {}
        self._per_document: dict[str, dict[str, Any]] = {}
        self._casebook: Casebook | None = None
        self._casebook_lock = threading.Lock()

    def without_embedder(self) -> Assistant:
        """The same index, searched and answered by its words alone: what a deployment without an
        embedder reads (the tune command fits the lexical models on it)."""
        lexical = copy.copy(self)
        lexical.embedder = None
        lexical.retriever = Retriever(self.index, None, self.settings, self.analyzer)
        lexical._views = {}  # its own answers: the cache of recent answers is one of the views
        return lexical

    def view(self, name: str, build: Callable[[Snapshot], T]) -> T:
        """`build(snapshot)` under `name`, computed again only when the index or an edit changes
        (the document facts, the suggested questions …)."""
        snap = self.index.snapshot
        version = (snap.generation, self.edits.version)
        cached = self._views.get(name)
        if cached is None or cached[0] != version:
            cached = (version, build(snap))
            self._views[name] = cached
        return cast(T, cached[1])

    def document_facts(self) -> dict[str, dict[str, str]]:
        """Each document's date, issuer, jurisdiction, kind and status.

        An admin's edit wins, then the document's metadata (its sidecar and what ingest read off
        its text), then what its title and file name show; a key is absent when unknown. Of two
        dated versions of one regulation the older is `superseded`, with `replaced_by` the newer.
        """

        def build(snap: Snapshot) -> dict[str, dict[str, str]]:
            edits = self.edits.all()
            facts = {
                rec.id: {
                    **merged(
                        {k: rec.metadata.get(k, "") for k in FACTS},
                        derive(rec.title, "", Path(rec.source).name, self.gazetteer),
                    ),
                    **edits.get(rec.id, {}),
                }
                for rec in snap.documents.values()
            }
            titles = {rec.id: rec.title for rec in snap.documents.values()}
            newer = versions(titles, facts)
            for doc_id, f in facts.items():
                if "status" not in f:
                    f["status"] = "superseded" if doc_id in newer else "current"
                if f["status"] == "superseded" and doc_id in newer:
                    f["replaced_by"] = newer[doc_id]
            return facts

        return self.view("facts", build)

    def precedents(self) -> list[Precedent]:
        """Every concrete case the documents tell (assistant/precedents/); a document is read
        again only when its content or its facts change."""
        with self._casebook_lock:
            if self._casebook is None:
                self._casebook = Casebook(Extractor(self.analyzer))
            book = self._casebook
        docs = [(r.id, r.title, r.content_hash) for r in self.documents()]
        return book.cards(docs, self.document_facts(), lambda doc_id: self.document(doc_id)[1])

    def edit_document(self, doc_id: str, edit: dict[str, str | None]) -> dict[str, str]:
        """Correct a document's facts (None clears a correction); returns its facts after."""
        if self.index.record(doc_id) is None:
            raise NotFound(f"no document with id {doc_id!r}")
        self.edits.update(doc_id, edit)
        return self.document_facts().get(doc_id, {})

    def restrict(
        self, where: DocumentFilter, document_ids: Sequence[str] = (), heading: str = ""
    ) -> Filters:
        """Retrieval filters for the documents `where` lets through (and among `document_ids`,
        when given); no document left gives an id that matches nothing."""
        facts = self.document_facts()
        if not document_ids and all(where.matches(f, self.gazetteer) for f in facts.values()):
            return Filters(heading=heading)
        wanted = set(document_ids)
        allowed = [
            doc_id
            for doc_id, f in facts.items()
            if (not wanted or doc_id in wanted) and where.matches(f, self.gazetteer)
        ]
        return Filters(allowed or [NO_DOCUMENT], heading)

    def answer_filters(
        self, question: str, where: DocumentFilter | None = None, document_ids: Sequence[str] = ()
    ) -> Filters:
        """What an answer may draw on: the filter's documents, current versions only, or the
        superseded ones when the question asks for an older version ("修订前", "旧版")."""
        where = where or DocumentFilter()
        if not where.status:
            # A question about an older version is answered from the older versions loaded.
            old = OLD_VERSION.search(question) is not None
            facts = self.document_facts().values()
            if not old or any(f.get("status") == "superseded" for f in facts):
                where = replace(where, status="superseded" if old else "current")
        return self.restrict(where, document_ids)

    def jurisdictions(self) -> Jurisdictions:
        """Whose rule each document is, renewed with the index."""

        def build(_: Snapshot) -> Jurisdictions:
            facts = self.document_facts()
            by_document = {doc_id: f.get("jurisdiction", "") for doc_id, f in facts.items()}
            return Jurisdictions(self.gazetteer, by_document, self.settings.home_place, facts)

        return self.view("jurisdictions", build)

    def vocabulary(self) -> Vocabulary:
        """The index's characters (to tell a word no document can hold), renewed with the index."""

        def build(snap: Snapshot) -> Vocabulary:
            return Vocabulary(frozenset().union(*(s.chars for s in snap.segments)))

        return self.view("vocabulary", build)

    def per_document(self, name: str, snap: Snapshot, build: Callable[[Segment], T]) -> list[T]:
        """`build(segment)` for each document version of `snap`, in chunk order, kept across index
        versions: after a change only the changed documents are computed (and held) anew."""
        old = self._per_document.get(name, {})
        new = {s.key: old[s.key] if s.key in old else build(s) for s in snap.segments}
        self._per_document[name] = new
        return [new[s.key] for s in snap.segments]

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
        self,
        data: bytes,
        name: str,
        metadata: dict[str, str] | None = None,
        on_searchable: Callable[[DocumentRecord], None] = lambda r: None,
        tick: Callable[[int], None] = lambda n: None,
    ) -> tuple[str, str, int]:
        """Ingest one uploaded file; returns (document id, status, chunks).

        `on_searchable` is told when the document answers searches by its words; `tick` counts the
        chunks whose vectors are computed after that.
        """
        doc = build_document(data, name, self.settings, metadata, gazetteer=self.gazetteer)
        status, n = index_document(
            doc, self.index, self.embedder, self.settings, tick, on_searchable=on_searchable
        )
        return doc.id, status, n

    def fill_pending(self) -> tuple[int, int]:
        """Store the vectors of documents left searchable by their words only; (documents, chunks)."""
        if self.embedder is None:
            return 0, 0
        done = chunks = 0
        for record in self.index.pending():
            if fill_vectors(record, self.index, self.embedder, self.settings):
                done += 1
                chunks += record.chunks
        return done, chunks

    def search(
        self,
        query: str,
        top_k: int | None = None,
        filters: Filters | None = None,
        where: DocumentFilter | None = None,
    ) -> list[Hit]:
        """Passages for a query, best first; `where` keeps only some kinds of document."""
        if where:
            filters = filters or Filters()
            filters = self.restrict(where, filters.document_ids, filters.heading)
        hits = self.retriever.search(query, top_k, filters)
        facts = self.document_facts()
        for h in hits:
            h.document = dict(facts.get(h.chunk.document_id, {}))
        return hits

    def documents(self) -> list[DocumentRecord]:
        return sorted(self.index.snapshot.documents.values(), key=lambda r: r.title)

    def document(self, doc_id: str) -> tuple[DocumentRecord, str]:
        return self.index.document(doc_id)

    def delete(self, doc_id: str) -> None:
        self.index.delete(doc_id)

    def ask(
        self,
        question: str,
        history: Sequence[str] = (),
        answers: Sequence[str] = (),
        where: DocumentFilter | None = None,
        document_ids: Sequence[str] = (),
    ) -> Answer:
        """A cited answer; `history` holds earlier user questions and `answers` earlier replies,
        oldest first; `where` keeps only some kinds of document (current versions by default)."""
        from assistant.answer import answer

        # An extractive answer is a function of the question and the index version: kiosk
        # suggestions are asked again and again. (A generated one is not cached: it may vary.)
        cache = self.view("answers", lambda snap: _Recent(self.settings.answer_cache_size))
        key = (
            question,
            tuple(history),
            tuple(answers),
            repr(where),
            tuple(document_ids),
            date.today(),
        )
        if self.generator is None and (hit := cache.get(key)) is not None:
            return replace(hit, timings={**hit.timings, "cached": 1.0})
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
            filters=self.answer_filters(question, where, document_ids),
        )
        if self.generator is None:
            cache.put(key, replace(result))
        return result


class _Recent:
    """A small LRU map, safe across request threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: Any, value: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
