"""LangChain adapters: our retrieval as a `BaseRetriever`, our embedder as `Embeddings`."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.index.embed import Embedder
from assistant.models import Hit


class EmbedderEmbeddings(Embeddings):
    """Any `Embedder` where LangChain (e.g. langchain-chroma) expects `Embeddings`."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed([text], query=True)[0].tolist()


def hit_to_document(hit: Hit) -> LCDocument:
    c = hit.chunk
    return LCDocument(
        page_content=c.text,
        id=c.id,
        metadata={
            "document_id": c.document_id,
            "title": c.document_title,
            "heading": c.heading_path,
            "pages": c.pages,
            "start": c.start,
            "end": c.end,
            "score": hit.score,
        },
    )


class PolicyRetriever(BaseRetriever):
    """Hybrid retrieval for users' LangChain apps::

    retriever = PolicyRetriever(assistant=Assistant(), k=5)
    docs = retriever.invoke("带押过户怎么办理")
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    assistant: Any
    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        return [hit_to_document(h) for h in self.assistant.search(query, self.k)]
