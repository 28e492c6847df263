"""Structure and chunking: headings, boundaries, offsets, coverage."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.ingest.chunk import chunk_document
from assistant.models import Document, PageSpan
from assistant.text.structure import analyse, sentences

LAW = "\n".join(
    [
        "中华人民共和国土地管理法",
        "第一章 总则",
        "第一条 为了加强土地管理，维护土地社会主义公有制，制定本法。",
        "第二条 中华人民共和国实行土地的社会主义公有制。" + "全民所有制和劳动群众集体所有制。" * 30,
        "第二章 土地的所有权和使用权",
        "第九条 城市市区的土地属于国家所有。",
    ]
)


def doc(text: str, title: str = "", pages: list[PageSpan] | None = None) -> Document:
    return Document(
        id="d",
        title=title,
        source="s",
        doc_type="txt",
        text=text,
        content_hash="h" * 8,
        pages=pages or [],
    )


def test_law_articles_never_share_a_chunk_and_carry_their_chapter() -> None:
    chunks = chunk_document(doc(LAW, "中华人民共和国土地管理法"), target=200)
    for c in chunks:
        assert len(re.findall(r"(?:^|\n)第[一二三四五六七八九十]+条", c.text)) <= 1, c.text
    first = next(c for c in chunks if "第一条" in c.text)
    assert first.heading_path == ["第一章 总则", "第一条"]
    ninth = next(c for c in chunks if "第九条" in c.text)
    assert ninth.heading_path[0] == "第二章 土地的所有权和使用权"


def test_long_article_is_split_at_sentences_with_overlap() -> None:
    chunks = [c for c in chunk_document(doc(LAW), target=200, overlap=1) if "第二条" in c.heading]
    assert len(chunks) > 1
    for c in chunks:
        assert c.text.endswith("。")
    # one sentence repeated from the previous chunk
    assert chunks[1].start < chunks[0].end


def test_policy_numbering_builds_a_heading_path() -> None:
    text = "一、总体要求\n（一）指导思想。坚持节约集约用地。\n（二）基本原则。项目跟着规划走。\n二、主要任务\n1.盘活存量。清理批而未供土地。"
    chunks = chunk_document(doc(text), target=500)

    def path_of(phrase: str) -> list[str]:
        return next(c.heading_path for c in chunks if phrase in c.text)

    assert path_of("项目跟着规划走") == ["一、总体要求", "（二）基本原则"]
    assert path_of("清理批而未供土地") == ["二、主要任务", "1.盘活存量"]
    # a heading with no body of its own leads into the next section instead of standing alone
    assert all(c.text != "二、主要任务" for c in chunks)


def test_numbered_items_of_an_article_stay_in_the_article() -> None:
    text = "\n".join(
        [
            "第三章 补偿",
            "第十七条 作出房屋征收决定的市、县级人民政府对被征收人给予的补偿包括：",
            "(一)被征收房屋价值的补偿；",
            "(二)因征收房屋造成的搬迁、临时安置的补偿；",
            "(三)因征收房屋造成的停产停业损失的补偿。",
            "第十八条 征收个人住宅，被征收人符合住房保障条件的，应当优先给予住房保障。",
            "第四章 法律责任",
            "（一）以下不是条文的项",  # after a chapter heading, numbering is a heading again
            "违反本条例的，依法处理。",
        ]
    )
    chunks = chunk_document(doc(text), target=400)
    art17 = next(c for c in chunks if "第十七条" in c.text)
    assert "停产停业损失的补偿" in art17.text and "搬迁、临时安置" in art17.text
    assert art17.heading_path == ["第三章 补偿", "第十七条"]
    art18 = next(c for c in chunks if "第十八条" in c.text)
    assert art18.heading_path == ["第三章 补偿", "第十八条"]
    last = next(c for c in chunks if "依法处理" in c.text)
    assert last.heading_path == ["第四章 法律责任", "（一）以下不是条文的项"]


def test_newsletter_title_and_subtitle_merge_and_bylines_are_not_headings() -> None:
    text = "以“有限空间”赢得“无限发展”\n平湖创新机制高效抓实项目用地保障\n记者 汤智娟 通讯员 时逸\n土地是发展之本。"
    lines = analyse(text)
    assert lines[0].heading == "以“有限空间”赢得“无限发展” 平湖创新机制高效抓实项目用地保障"
    assert lines[1].heading is None


def test_chunk_pages_and_offsets() -> None:
    text = "第一段很长的内容。" * 30 + "\n" + "第二段内容。" * 30
    split = text.index("\n") + 1
    d = doc(text, pages=[PageSpan(1, 0, split), PageSpan(2, split, len(text))])
    chunks = chunk_document(d, target=120)
    assert {p for c in chunks for p in c.pages} == {1, 2}
    for c in chunks:
        assert d.text[c.start : c.end] == c.text


def test_embed_text_has_title_and_heading_prefix() -> None:
    chunks = chunk_document(doc(LAW, "中华人民共和国土地管理法"), target=300)
    assert chunks[0].embed_text.startswith("中华人民共和国土地管理法 > 第一章 总则 > 第一条\n")
    assert chunks[0].embed_text.endswith(chunks[0].text)


TEXT = st.text(
    alphabet=st.sampled_from(
        list("土地管理配套设施比例平湖项目。！？；，、“”（）\n 第一条章一、（一）1.abc0123456789%")
    ),
    max_size=1500,
)


@settings(max_examples=150, deadline=None)
@given(TEXT, st.integers(min_value=20, max_value=600), st.integers(min_value=0, max_value=2))
def test_every_sentence_lands_in_a_chunk_and_offsets_are_exact(
    text: str, target: int, overlap: int
) -> None:
    d = doc(text)
    chunks = chunk_document(d, target=target, overlap=overlap)
    for c in chunks:
        assert d.text[c.start : c.end] == c.text
        assert c.text.strip() == c.text
    covered = [(c.start, c.end) for c in chunks]
    for a, b in sentences(text, 0, len(text)):
        assert any(s <= a and b <= e for s, e in covered) or any(
            # a sentence over the hard limit is cut into pieces that each land in a chunk
            s <= a < e
            for s, e in covered
        ), (text[a:b], covered)
    # every non-space character of the document is in some chunk
    inside = set()
    for s, e in covered:
        inside.update(range(s, e))
    assert all(i in inside for i, ch in enumerate(text) if not ch.isspace())


def test_page_at_maps_offsets_inside_a_chunk_that_spans_pages() -> None:
    text = "第一页的句子。" * 5 + "第二页的句子。" * 5
    split = len("第一页的句子。") * 5
    d = doc(text, pages=[PageSpan(7, 0, split), PageSpan(8, split, len(text))])
    (chunk,) = chunk_document(d, target=500)
    assert chunk.pages == [7, 8] and chunk.page_breaks == [split]
    assert chunk.page_at(0) == 7
    assert chunk.page_at(split - 1) == 7
    assert chunk.page_at(split) == 8
    assert doc(text).pages == [] and chunk_document(doc(text), target=500)[0].page_at(3) is None
