"""Tests of the clean stage: normalisation, page furniture, re-joined lines and exact page spans."""

from __future__ import annotations

import re
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest

from assistant.errors import IngestError
from assistant.ingest.clean import clean, normalize_text
from assistant.ingest.parse import parse_file
from assistant.models import Document, PageSpan, ParsedFile

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DOCS = SHARED / "external" / "policy_docs"
RADICAL_BLOCKS = re.compile(r"[\u2e80-\u2fdf]")


def shared(relative: str) -> Path:
    """A file under ../shared, or skip the test when the shared data is not there."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


@cache
def _cleaned(relative: str) -> tuple[ParsedFile, str, tuple[PageSpan, ...]]:
    parsed = parse_file(shared(relative))
    text, spans = clean(parsed)
    return parsed, text, tuple(spans)


def _pdf(*pages: str) -> ParsedFile:
    return ParsedFile(pages=list(pages), doc_type="pdf", paged=True)


def _assert_tidy(text: str) -> None:
    assert text and "\n\n" not in text and not text.startswith("\n") and not text.endswith("\n")
    for line in text.split("\n"):
        assert line == line.strip() and "  " not in line, repr(line)
    assert not re.search(r"[\u200b-\u200d\u2060\ufeff\u00ad\u3000\u00a0]", text)


# --- character normalisation ----------------------------------------------------------------


def test_radical_supplement_maps_to_standard_characters() -> None:
    assert (
        normalize_text("⺠⻓⻅⻔⻋⻢⻛⻜⻙⻚⻘⻝⻠⻤⻥⻦⻨⻩⻬⻮⻰⻳")
        == "民长见门车马风飞韦页青食饣鬼鱼鸟麦黄齐齿龙龟"
    )
    assert normalize_text("⼈⺠⽇⼯") == "人民日工"  # Kangxi radicals go through NFKC
    assigned = [chr(cp) for cp in range(0x2E81, 0x2EF4) if cp != 0x2E9A]
    assert not RADICAL_BLOCKS.search(normalize_text("".join(assigned)))


def test_nfkc_keeps_chinese_punctuation_but_folds_full_width_letters() -> None:
    assert normalize_text("ＡＢＣ１２３，：；（）！？…①") == "ABC123，：；（）！？…①"


def test_odd_spaces_and_zero_width_characters() -> None:
    parsed = ParsedFile(
        pages=["甲\u3000乙\u00a0丙\u2002丁\u200b戊\ufeff己\u00ad庚   辛\tword  two\n"],
        doc_type="txt",
    )
    assert clean(parsed)[0] == "甲 乙 丙 丁戊己庚 辛 word two"


def test_control_characters_are_removed_but_not_line_breaks() -> None:
    parsed = ParsedFile(pages=["甲\x00乙\x07丙\x1b。\f第二段\x7f。\v第三段\x9b。"], doc_type="txt")
    assert clean(parsed)[0] == "甲乙丙。\n第二段。\n第三段。"


def test_pdf_spaces_between_cjk_removed_latin_kept() -> None:
    text, _ = clean(
        _pdf(
            "中 华 人 民 共 和 国 宪 法 。\n根据 1988 年 4 月 12 日 NB/T 20513 hello world 通过。\n"
        )
    )
    assert text == "中华人民共和国宪法。\n根据1988年4月12日 NB/T 20513 hello world 通过。"


def test_space_after_article_number_is_kept() -> None:
    text, _ = clean(_pdf("第一章 总  则\n第一条 为了 贯彻 实施，制定本条例。\n"))
    assert text == "第一章 总则\n第一条 为了贯彻实施，制定本条例。"


def test_labour_regulation_pdf_has_no_radical_look_alikes() -> None:
    parsed, text, _ = _cleaned(
        "external/policy_docs/hopeuseless_labor_pdf_docx/中华人民共和国劳动合同法实施条例.pdf"
    )
    assert len(RADICAL_BLOCKS.findall("".join(parsed.pages))) > 600  # the trap is really there
    assert not RADICAL_BLOCKS.search(text)
    assert "人民" in text and "中华人民共和国劳动合同法实施条例" in text
    assert (
        "第二条 各级人民政府和县级以上人民政府劳动行政等有关部门以及工会等组织，应当采取措施，推动劳动合同法的贯彻实施，促进劳动关系的和谐。"
        in text.split("\n")
    )


# --- page furniture -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "marker",
    ["—3—", "- 3 -", "第3页", "3", " 66 ", "第 3 页 共 10 页", "3/27", "Page 3 of 10", "－3－"],
)
def test_page_number_lines_are_dropped(marker: str) -> None:
    text, spans = clean(
        _pdf(f"{marker}\n第一条 正文第一句。\n", f"第二条 正文第二句。\n{marker}\n")
    )
    assert text == "第一条 正文第一句。\n第二条 正文第二句。"
    assert spans == [PageSpan(1, 0, 10), PageSpan(2, 11, 21)]


def test_numbers_inside_a_page_are_kept() -> None:
    text, _ = clean(_pdf("第一条 甲。\n第二条 乙。\n2021\n第三条 丙。\n第四条 丁。\n"))
    assert "2021" in text.split("\n")


def test_unpaged_text_drops_only_unmistakable_page_numbers() -> None:
    text, spans = clean(
        ParsedFile(pages=["第一段。\n—3—\n第 3 页 共 10 页\n2021\n第二段。"], doc_type="txt")
    )
    assert text == "第一段。\n2021\n第二段。" and spans == []


def test_running_headers_repeated_on_most_pages_are_dropped() -> None:
    pages = [
        f"NB/T XXXXX—XXXX\n第{n}条 正文内容第{n}句。\n核电厂定期安全评价 第{n}页\n"
        for n in range(1, 6)
    ]
    pages[2] = pages[2].replace("NB/T XXXXX—XXXX\n", "")
    text, _ = clean(_pdf(*pages))
    assert "NB/T" not in text and "核电厂定期安全评价" not in text
    assert text.split("\n") == [f"第{n}条 正文内容第{n}句。" for n in range(1, 6)]


def test_lines_on_few_pages_are_not_running_headers() -> None:
    pages = ["独特标题\n正文一。\n", "正文二。\n", "正文三。\n", "正文四。\n"]
    assert clean(_pdf(*pages))[0].startswith("独特标题\n")


def test_nothing_left_is_an_error() -> None:
    with pytest.raises(IngestError, match="no text left"):
        clean(_pdf("—1—\n", " 2 \n", "3\n"))


# --- re-joining broken lines ----------------------------------------------------------------


def test_pdf_lines_join_unless_punctuated_or_structural() -> None:
    full = "这是一行因为版面宽度而被折断的很长的句子它会一直写到行末"  # 28 characters, like a printed line
    page = (
        f"第一章 总则\n第一条 {full}\n{full}\n为止。\n（一）{full}\n内容；\n二、第二部分\n"
        f"{full}\n{full}：\n第二条 又一条，{full}\n的末尾。\n附则\n本条例自公布之日起施行。\n"
    )
    text, _ = clean(_pdf(page))
    assert text.split("\n") == [
        "第一章 总则",
        f"第一条 {full}{full}为止。",
        f"（一）{full}内容；",
        "二、第二部分",
        f"{full}{full}：",
        f"第二条 又一条，{full}的末尾。",
        "附则",
        "本条例自公布之日起施行。",
    ]


def test_short_unpunctuated_pdf_line_is_a_heading() -> None:
    assert clean(_pdf("通知标题\n正文第一段。\n"))[0] == "通知标题\n正文第一段。"


def test_reference_to_an_article_mid_sentence_is_not_a_new_paragraph() -> None:
    text, _ = clean(
        _pdf(
            "用人单位应当书面通知劳动者终止劳动关系，并依照劳动合同法\n第四十七条的规定支付经济补偿。\n"
        )
    )
    assert (
        text
        == "用人单位应当书面通知劳动者终止劳动关系，并依照劳动合同法第四十七条的规定支付经济补偿。"
    )


def test_latin_words_are_joined_with_a_space() -> None:
    text, _ = clean(
        _pdf("This is a long English sentence that wraps across\ntwo lines of the page.\n")
    )
    assert text == "This is a long English sentence that wraps across two lines of the page."


def test_civil_code_article_reads_across_the_page_number() -> None:
    parsed, text, spans = _cleaned("external/policy_docs/zufang_pdf/中华人民共和国民法典.pdf")
    expected = "第三百四十四条 建设用地使用权人依法对国家所有的土地享有占有、使用和收益的权利，有权利用该土地建造建筑物、构筑物及其附属设施。"
    assert expected in text.split("\n")
    lines = text.split("\n")
    assert not [line for line in lines if re.fullmatch(r"\d+", line)]
    assert lines[0] == "中华人民共和国民法典" and "第十二章 建设用地使用权" in lines
    start = text.index(expected)
    document = Document("d", parsed.title, "s", "pdf", text, "h", pages=list(spans))
    assert document.page_at(start) == 65
    assert document.page_at(start + expected.index("享有")) == 66
    _assert_tidy(text)


def test_civil_code_page_spans_are_exact() -> None:
    parsed, text, spans = _cleaned("external/policy_docs/zufang_pdf/中华人民共和国民法典.pdf")
    assert [span.number for span in spans] == list(range(1, 235))
    assert spans[0].start == 0 and spans[-1].end == len(text)
    for before, after in pairwise(spans):
        assert before.end <= after.start and text[before.end : after.start] in ("", "\n")
    squeeze = re.compile(r"\s+")
    for span in spans:
        raw = squeeze.sub("", normalize_text(parsed.pages[span.number - 1]))
        piece = squeeze.sub("", text[span.start : span.end])
        # Every character of the span is in its page, in order (the page number is all that went).
        assert raw.endswith(piece) and len(raw) - len(piece) <= 3, span


# --- text files: paragraphs split at old page breaks ------------------------------------------

SEED_JOINS = [
    "平湖政府部门又给予了我们",
    "显得尤为关键",
    "高质量发展的重要动力",
    "汇报对接",
    "完成独山港白沙湾",
    "(2021-2025)",
]
SEED_HEADINGS = [
    "以“有限空间”赢得“无限发展”",
    "当好靠谱“店小二” 外资项目用地“优供快供”",
    "我市首笔二手房“带押过户”业务成功落地",
    "记者 汤智娟 通讯员 时逸 张巍巍",
    "我市获评全省无违建示范县(市、区)",
    "平湖8个建设用地复垦项目通过省级复检验收",
    "今年超5亿个单位",
    "通讯员 王克勤",
]


def test_seed_paragraphs_broken_at_page_breaks_are_rejoined() -> None:
    _, text, spans = _cleaned("seed/000_85e5ea34e36ba7ce.txt")
    assert spans == ()
    for joined in SEED_JOINS:
        assert joined in text, joined
    lines = text.split("\n")
    for heading in SEED_HEADINGS:
        assert heading in lines, heading
    # Every body paragraph now ends a sentence; only headings and bylines do not.
    assert all(line[-1] in "。”！？)" or line in SEED_HEADINGS or len(line) < 25 for line in lines)
    _assert_tidy(text)


def test_markdown_metadata_line_broken_inside_a_book_title_is_rejoined() -> None:
    _, text, _ = _cleaned("external/policy_docs/lawrefbook_md/土地管理法(2019-08-26).md")
    lines = text.split("\n")
    assert (
        "2019年8月26日 第十三届全国人民代表大会常务委员会第十二次会议《关于修改〈中华人民共和国土地管理法〉〈中华人民共和国城市房地产管理法〉的决定》第三次修正"
        in lines
    )
    assert "1998年8月29日 第九届全国人民代表大会常务委员会第四次会议修订" in lines
    assert lines[0] == "中华人民共和国土地管理法" and "第一章 总 则" in lines


def test_docx_paragraphs_are_never_joined() -> None:
    parsed = ParsedFile(
        pages=["表格标题没有标点，也不结束\n甲 | 乙\n一段文字，没有句号\n下一段"], doc_type="docx"
    )
    assert clean(parsed)[0].split("\n") == [
        "表格标题没有标点，也不结束",
        "甲 | 乙",
        "一段文字，没有句号",
        "下一段",
    ]


# --- every external document ----------------------------------------------------------------


def _external_files() -> list[Path]:
    if not DOCS.exists():
        return []
    return sorted(path for path in DOCS.rglob("*") if path.is_file())


@pytest.mark.slow
def test_every_external_document_parses_and_cleans() -> None:
    files = _external_files()
    if not files:
        pytest.skip(f"shared data not available: {DOCS}")
    assert len(files) >= 25
    for path in files:
        try:
            parsed, text, spans = _cleaned(str(path.relative_to(SHARED)))
        except IngestError as exc:  # allowed, as long as it says what is wrong
            assert path.name in exc.message and len(exc.message) > len(path.name) + 10
            continue
        _assert_tidy(text)
        assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 1000, path.name
        assert not RADICAL_BLOCKS.search(text), path.name
        assert (len(spans) == len(parsed.pages)) if parsed.paged else spans == (), path.name
