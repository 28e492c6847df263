"""Ingest and index: idempotence, updates, removal, atomic visibility, filters, failures."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import NotFound
from assistant.index.rows import pack, unpack
from assistant.ingest.pipeline import document_id
from assistant.retrieve.fuse import weighted
from assistant.retrieve.retriever import Filters
from assistant.service import Assistant
from assistant.settings import get_settings
from assistant.text.structure import sentences
from tests.conftest import CORPUS

LAW = "中华人民共和国测试法\n第一章 总则\n第一条 宅基地使用权人依法对集体所有的土地享有占有和使用的权利。\n第二条 建设用地使用权可以在土地的地表、地上或者地下分别设立。\n"
NOTICE = "关于做好二手房带押过户工作的通知\n一、办理流程\n（一）买卖双方共同申请转移登记和抵押权变更登记。\n（二）银行发放新的贷款。\n"


@pytest.fixture
def lexical_bot(tmp_path: Path) -> Assistant:
    """A lexical-only assistant: these tests are about bookkeeping, not semantics."""
    return Assistant(get_settings(index_dir=tmp_path / "ix", embedder="none"))


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def test_reingest_skips_unchanged_updates_changed_removes_deleted(
    lexical_bot: Assistant, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    write(docs, "law.txt", LAW)
    write(docs, "notice.md", NOTICE)
    first = lexical_bot.ingest([docs])
    assert sorted(first.added) == ["law.txt", "notice.md"] and not first.failed
    chunks_before = len(lexical_bot.index.snapshot.chunks)

    again = lexical_bot.ingest([docs])
    assert (
        sorted(again.skipped) == ["law.txt", "notice.md"] and not again.added and not again.updated
    )
    assert len(lexical_bot.index.snapshot.chunks) == chunks_before

    write(docs, "law.txt", LAW + "第三条 新增的条款内容关于耕地保护。\n")
    (docs / "notice.md").unlink()
    third = lexical_bot.ingest([docs])
    assert third.updated == ["law.txt"] and third.removed and not third.added
    titles = {d.title for d in lexical_bot.documents()}
    assert titles == {"中华人民共和国测试法"}
    assert lexical_bot.search("耕地保护")[0].chunk.document_id == document_id("law.txt")
    assert lexical_bot.search("带押过户") == [] or all(
        h.chunk.document_id == document_id("law.txt") for h in lexical_bot.search("带押过户")
    )
    # no chunk of an old version survives
    assert all(
        c.id.startswith(f"{document_id('law.txt')}-") for c in lexical_bot.index.snapshot.chunks
    )


def test_one_broken_file_never_stops_the_others(lexical_bot: Assistant, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write(docs, "good.txt", LAW)
    (docs / "empty.txt").write_bytes(b"")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (docs / "noise.docx").write_bytes(bytes(range(256)) * 10)
    report = lexical_bot.ingest([docs])
    assert report.added == ["good.txt"]
    failed = dict(report.failed)
    assert set(failed) == {"empty.txt", "broken.pdf", "noise.docx"}
    assert all(reason for reason in failed.values())
    assert "failed" in report.summary()


def test_half_written_document_is_invisible_and_a_rerun_completes_it(
    lexical_bot: Assistant, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    write(docs, "law.txt", LAW)
    lexical_bot.ingest([docs])
    index = lexical_bot.index
    (good,) = index.snapshot.documents.values()
    # Simulate a crash between writing chunks and the document record: chunks of a new version, no record.
    index._chunks.upsert(
        ids=["orphan-1"],
        embeddings=[[1.0]],
        documents=["孤儿片段：不应被检索到的内容"],
        metadatas=[
            {
                "doc_id": good.id,
                "hash": "new-version",
                "title": "t",
                "heading": "[]",
                "pages": "[]",
                "start": 0,
                "end": 1,
                "ocr": False,
                "embed_text": "孤儿片段",
            }
        ],
    )
    index.refresh(force=True)
    assert all(h.chunk.id != "orphan-1" for h in lexical_bot.search("孤儿片段"))
    assert index.collect_garbage() == 1
    assert lexical_bot.ingest([docs]).skipped == ["law.txt"]


def test_delete_and_unknown_document(lexical_bot: Assistant, tmp_path: Path) -> None:
    path = write(tmp_path, "notice.txt", NOTICE)
    lexical_bot.ingest([path])
    doc_id = document_id("notice.txt")
    record, text = lexical_bot.document(doc_id)
    assert record.title == "关于做好二手房带押过户工作的通知" and "转移登记" in text
    lexical_bot.delete(doc_id)
    assert lexical_bot.search("转移登记") == []
    with pytest.raises(NotFound):
        lexical_bot.delete(doc_id)
    with pytest.raises(NotFound):
        lexical_bot.document("nope")


def test_filters_by_document_and_heading(lexical_bot: Assistant, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write(docs, "law.txt", LAW)
    write(docs, "notice.txt", NOTICE)
    lexical_bot.ingest([docs])
    law_id = document_id("law.txt")
    hits = lexical_bot.search("土地 登记", filters=Filters(document_ids=[law_id]))
    assert hits and all(h.chunk.document_id == law_id for h in hits)
    hits = lexical_bot.search("登记", filters=Filters(heading="办理流程"))
    assert hits and all("办理流程" in h.chunk.heading for h in hits)


def test_sidecar_metadata_and_chunk_provenance(seed_assistant: Assistant) -> None:
    (record,) = seed_assistant.documents()
    assert record.metadata["issuer"] == "平湖市自然资源和规划局"
    assert record.metadata["date"] == "2022"  # the sidecar's, with its reason
    assert "2022" in record.metadata["date_note"]
    assert "source_date" not in record.metadata  # unknown fields are left out, never invented
    _, text = seed_assistant.document(record.id)
    for chunk in seed_assistant.index.snapshot.chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.embed_text.startswith(record.title)


def test_dense_and_lexical_both_contribute(seed_assistant: Assistant) -> None:
    hits = seed_assistant.search("房子还有贷款没还清能直接卖吗", top_k=3)
    assert "带押过户" in hits[0].chunk.text
    assert hits[0].dense is not None and hits[0].lexical is not None
    vec = seed_assistant.embedder.embed(["带押过户"], query=True)  # type: ignore[union-attr]
    assert vec.shape == (1, 384) and np.isclose(np.linalg.norm(vec), 1.0, atol=1e-3)


def test_index_reopens_from_disk(seed_index_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(seed_index_dir, copy)
    bot = Assistant(get_settings(index_dir=copy), create=False)
    assert len(bot.index.snapshot.chunks) > 10
    assert "15%" in bot.search("战略性新兴产业用地配套设施比例")[0].chunk.text


def test_corpus_has_the_seed_with_a_sidecar() -> None:
    files = sorted(p.name for p in CORPUS.iterdir())
    assert any(f.endswith(".txt") for f in files) and any(f.endswith(".meta.json") for f in files)


def test_a_restarted_reader_rebuilds_the_same_view_from_its_segment_files_or_the_store(
    tmp_path: Path,
) -> None:
    """Documents staged (searchable by their words, vectors pending), one with some vectors stored
    already, and documents written whole: a fresh reader sees each exactly once, whether it loads
    segment files, reads each document, or reads the whole store at once."""

    from assistant.index.rows import put_chunks
    from assistant.index.snapshot import MAGIC
    from assistant.index.store import FETCH_ONE_BY_ONE, Index
    from assistant.ingest.chunk import chunk_document
    from assistant.ingest.pipeline import build_document
    from assistant.models import Chunk
    from assistant.text.analyzer import Analyzer

    settings = get_settings(index_dir=tmp_path / "ix", embedder="none", ocr=False)
    tok = Analyzer(settings.userdict_path).tokenize
    index = Index(settings, "none", tok)
    count = FETCH_ONE_BY_ONE + 3  # enough for the one-read-of-everything path
    for i in range(count):
        text = f"关于第{i}号示范地块的通知\n\n第一条 第{i}号地块出让年限为{i + 30}年。\n\n第二条 受让人应当按期开工。\n"
        doc = build_document(text.encode(), f"通知{i}.md", settings)
        chunks = chunk_document(doc, settings.chunk_size, settings.chunk_overlap)
        if i % 2:
            index.write(doc, chunks, None, refresh=False)
        else:
            record = index.stage(doc, chunks, refresh=False)
            if i == 0:  # a fill that stopped part way: one chunk's vector stored
                put_chunks(index._chunks, chunks[:1], doc.content_hash, np.ones((1, 1)))
            assert record.dense_pending
    index.refresh()

    def view(ix: Index) -> list[Chunk]:
        return list(ix.snapshot.chunks)  # every field compared

    expected = view(index)
    records = index.records()
    assert len(records) == count and sum(r.chunks for r in records.values()) == len(expected)
    assert len({c.id for c in expected}) == len(expected)
    assert view(Index(settings, "none", tok)) == expected  # from the segment files
    chars = [s.chars for s in index.snapshot.segments]
    assert [s.chars for s in Index(settings, "none", tok).snapshot.segments] == chars
    assert all(c and "号" in c and " " not in c for c in chars)
    files = sorted((tmp_path / "ix" / "lexical").rglob("*.seg"))
    assert len(files) == count
    files[0].write_bytes(MAGIC + b"\x00garbage")  # a damaged file is only a cache miss
    files[1].write_bytes(b"")
    assert view(Index(settings, "none", tok)) == expected
    assert all(len(f.read_bytes()) > 100 for f in files[:2])  # rebuilt and saved again
    shutil.rmtree(tmp_path / "ix" / "lexical")
    assert view(Index(settings, "none", tok)) == expected  # from the store, all at once
    top = index.snapshot.bm25.top(tok("第4号地块出让年限"), 1)
    assert "第4号地块" in index.snapshot.chunks[top[0][0]].text


def test_a_question_asked_again_is_answered_from_the_cache_until_the_index_changes(
    lexical_bot: Assistant, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    write(docs, "law.txt", LAW)
    lexical_bot.ingest([docs])
    question = "建设用地使用权可以在哪里设立？"
    first = lexical_bot.ask(question)
    again = lexical_bot.ask(question)
    assert not first.timings.get("cached") and again.timings.get("cached")
    assert again.text == first.text and again.citations == first.citations
    assert not lexical_bot.ask(question, history=["宅基地"]).timings.get("cached")

    write(docs, "law.txt", LAW.replace("地表、地上或者地下", "地表或者地上"))
    lexical_bot.ingest([docs])
    changed = lexical_bot.ask(question)
    assert not changed.timings.get("cached")
    assert "地下" not in changed.text and "地表或者地上" in changed.text


def test_dense_search_returns_what_the_store_holds(tmp_path: Path) -> None:
    """Nearest chunks without counting the collection first: nothing from an empty store, every
    chunk when more are asked for than it holds, and only the documents a filter names."""
    from assistant.index.store import Index
    from assistant.ingest.chunk import chunk_document
    from assistant.ingest.pipeline import build_document
    from assistant.text.analyzer import Analyzer

    settings = get_settings(index_dir=tmp_path / "ix", embedder="none", ocr=False)
    index = Index(settings, "two-dimensions", Analyzer(settings.userdict_path).tokenize)
    assert index.dense(np.array([1.0, 0.0], dtype=np.float32), 5) == []
    ids = []
    for i, vector in enumerate(([1.0, 0.0], [0.0, 1.0])):
        doc = build_document(f"第{i}号通知\n\n第一条 地块{i}。\n".encode(), f"通知{i}.md", settings)
        chunks = chunk_document(doc, settings.chunk_size, settings.chunk_overlap)
        index.write(doc, chunks, np.array([vector] * len(chunks), dtype=np.float32))
        ids.append(doc.id)
    got = index.dense(np.array([1.0, 0.0], dtype=np.float32), 50)
    assert len(got) == len(index.snapshot.chunks) and got[0][1] == pytest.approx(1.0)
    only = index.dense(np.array([1.0, 0.0], dtype=np.float32), 50, [ids[1]])
    assert only and all(
        index.snapshot.chunks[index.snapshot.by_id[c]].document_id == ids[1] for c, _ in only
    )


def test_dense_search_explores_as_many_neighbours_as_settings_say(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The chunks' HNSW explores `ef_search` neighbours (at Chroma's 100 a library missed some of a
    question's nearest chunks, different ones after a restart); an index made with another value
    is brought to the setting when it is opened, as other processes then read it."""
    from assistant.index.store import Index, collection_prefix, make_client
    from assistant.text.analyzer import Analyzer

    def opened(ef: int) -> int:
        settings = get_settings(index_dir=tmp_path / "ix", embedder="none", ef_search=ef)
        Index(settings, "two-dimensions", Analyzer(settings.userdict_path).tokenize)
        name = f"{collection_prefix(settings, 'two-dimensions')}-chunks"
        client = make_client(settings)
        hnsw = client.get_collection(name).configuration_json["hnsw"]
        assert hnsw["space"] == "cosine"
        records = client.get_collection(name.replace("-chunks", "-docs"))
        assert records.configuration_json["hnsw"]["sync_threshold"] == 10  # persisted often
        return int(hnsw["ef_search"])

    assert get_settings().ef_search == 500
    assert opened(100) == 100
    assert opened(300) == 300
    assert opened(300) == 300
    assert "cannot set" not in caplog.text  # nothing failed, and nothing was rewritten at reopening


def test_a_segment_file_without_its_characters_is_read_and_saved_again(tmp_path: Path) -> None:
    """Segment files written before segments kept their characters still load; they get them once."""
    from assistant.index.snapshot import (
        Segment,
        SegmentCache,
        _chunk_arrays,
        _read_arrays,
        _write_arrays,
    )
    from assistant.models import Chunk
    from tests.conftest import ANALYZER

    chunks = [
        Chunk(
            "c1",
            "d1",
            "通知",
            "第一条 宅基地每户一处。",
            0,
            12,
            embed_text="通知\n第一条 宅基地每户一处。",
        )
    ]
    segment = Segment.build("k1", chunks, ANALYZER.tokenize)
    assert "宅" in segment.chars and "\n" not in segment.chars
    cache = SegmentCache(tmp_path / "segments")
    cache.folder.mkdir()
    _write_arrays(cache.path("k1"), {**_chunk_arrays(segment.chunks), **segment.postings.arrays()})
    assert "chars" not in _read_arrays(cache.path("k1"))
    loaded = cache.load("k1")
    assert loaded is not None and loaded.chars == segment.chars
    assert _read_arrays(cache.path("k1"))["chars"].tobytes().decode("utf-8") == segment.chars


def test_each_sentence_of_a_hit_is_scored_by_its_own_stored_vector(
    seed_assistant: Assistant,
) -> None:
    question = "房子还有贷款没还清能直接卖吗"
    retriever = seed_assistant.retriever
    prepared = retriever.prepare(question)
    hits = retriever.search_query(prepared, 3, Filters())
    assert not any(h.sentences for h in hits)  # search alone does not pay for them
    retriever.score_sentences(prepared, hits)
    embedder = seed_assistant.embedder
    assert embedder is not None
    query = embedder.embed([prepared.expanded], query=True)[0]
    for h in hits:
        spans = sentences(h.chunk.text, 0, len(h.chunk.text))
        assert sorted(h.sentences) == [a for a, _ in spans]
        fresh = embedder.embed([h.chunk.text[a:b] for a, b in spans]) @ query
        # Stored as int8: a cosine moves by about 0.001.
        assert np.allclose([h.sentences[a] for a, _ in spans], fresh, atol=0.01)
    best = max(hits[0].sentences, key=hits[0].sentences.__getitem__)
    assert "带押过户" in hits[0].chunk.text[best : best + 60]


def test_search_weighs_each_candidate_by_its_best_stored_sentence(
    seed_assistant: Assistant,
) -> None:
    retriever = seed_assistant.retriever
    prepared = retriever.prepare("房子还有贷款没还清能直接卖吗")
    lexical, dense = retriever.sides(prepared, 30)
    side = retriever.sentence_side(prepared, [*lexical, *dense])
    assert set(side) == set(lexical) | set(dense)
    hits = retriever.search_query(prepared, 5, Filters())
    fused = weighted([lexical, dense, side], [1.0, 0.75, 1.0])
    assert [h.chunk.id for h in hits] == [cid for cid, _ in fused[:5]]
    retriever.score_sentences(prepared, hits)  # from the rows the sentence side read
    for h in hits:
        assert side[h.chunk.id] == pytest.approx(max(h.sentences.values()))
    # Off, search fuses BM25 and the passages' own vectors alone.
    off = get_settings(index_dir=seed_assistant.settings.index_dir, sentence_weight=0.0)
    bare = Assistant(off, create=False).retriever
    again = bare.prepare(prepared.text)
    assert bare.sentence_side(again, list(side)) == {}
    alone = weighted([lexical, dense], [1.0, 0.75])
    assert [h.chunk.id for h in bare.search_query(again, 5, Filters())] == [
        cid for cid, _ in alone[:5]
    ]


def test_sentence_vectors_follow_their_document_version(tmp_path: Path) -> None:
    bot = Assistant(get_settings(index_dir=tmp_path / "ix", ocr=False))
    docs = tmp_path / "docs"
    write(docs, "law.txt", LAW)
    bot.ingest([docs])
    index = bot.index

    def rows() -> list[dict[str, object]]:
        return list(index._sentences.get(include=["metadatas"])["metadatas"])

    assert len(rows()) == len(index.snapshot.chunks)
    write(docs, "law.txt", LAW + "第三条 耕地保护的新条款，占用耕地应当补充同等数量的耕地。\n")
    assert bot.ingest([docs]).updated == ["law.txt"]
    (record,) = index.snapshot.documents.values()
    assert {m["hash"] for m in rows()} == {record.content_hash}
    assert len(rows()) == len(index.snapshot.chunks)
    prepared = bot.retriever.prepare("占用耕地要补充吗")
    hits = bot.retriever.search_query(prepared, 3, Filters())
    bot.retriever.score_sentences(prepared, hits)
    assert hits and all(h.sentences for h in hits)
    # Rows of a version nobody committed are garbage, like its chunks.
    index._sentences.upsert(
        ids=["orphan"],
        embeddings=[[0.0]],
        documents=[pack(np.ones((1, 384)))],
        metadatas=[{"doc_id": record.id, "hash": "never-committed", "written": 0.0}],
    )
    assert index.collect_garbage() == 1 and len(rows()) == len(index.snapshot.chunks)
    bot.delete(record.id)
    assert rows() == []


def test_sentence_vectors_pack_small_and_back() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(3, 384)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    raw = pack(v)
    back = unpack(raw)
    assert back.shape == (3, 384) and np.abs(back - v).max() < 0.01
    # int8 in base64: about a third of the float32 bytes.
    assert len(raw) < 0.4 * v.nbytes


def test_chunk_and_sentence_vectors_come_a_batch_of_chunks_at_a_time(tmp_path: Path) -> None:
    from assistant.ingest.pipeline import embed_chunks
    from assistant.models import Chunk

    seen: list[str] = []

    class Counting:
        """Each text's vector says which text it is (its index in `seen`)."""

        name = "counting"

        def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
            out = np.zeros((len(texts), 4), dtype=np.float32)
            for row, t in enumerate(texts):
                seen.append(t)
                out[row, 0] = len(seen) - 1
            return out

    # Overlapping chunks share "第二句。", which is embedded once.
    texts = ["第一句。第二句。", "第二句。第三句。", "第四句。"]
    chunks = [
        Chunk(f"c{i}", "d", "t", t, 0, len(t), embed_text="标题 " + t) for i, t in enumerate(texts)
    ]
    ticks: list[int] = []
    vectors, each = embed_chunks(Counting(), chunks, 2, ticks.append)
    assert ticks == [2, 1] and vectors.shape == (3, 4)
    sentence_texts = [t for t in seen if not t.startswith("标题")]
    assert sorted(sentence_texts) == sorted(["第一句。", "第二句。", "第三句。", "第四句。"])
    for chunk, rows in zip(chunks, each, strict=True):
        spans = sentences(chunk.text, 0, len(chunk.text))
        assert [seen[int(r[0])] for r in rows] == [chunk.text[a:b] for a, b in spans]
