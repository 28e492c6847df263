"""Tests of the parse stage: every format, encodings, and the ways a file can be broken."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import zipfile
from functools import cache
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from assistant.errors import FileTooLarge, IngestError, UnsupportedFormat
from assistant.ingest.parse import parse_bytes, parse_file
from assistant.models import ParsedFile

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DOCS = SHARED / "external" / "policy_docs"
SEED = SHARED / "seed" / "000_85e5ea34e36ba7ce.txt"


def shared(relative: str) -> Path:
    """A file under ../shared, or skip the test when the shared data is not there."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


def doc(relative: str) -> Path:
    return shared(f"external/policy_docs/{relative}")


def seed_text() -> str:
    return shared("seed/000_85e5ea34e36ba7ce.txt").read_bytes().decode("utf-8")


@cache
def _parsed(relative: str) -> ParsedFile:
    return parse_file(doc(relative))


# --- dispatch and empty files ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["report.xyz", "old.doc", "sheet.xlsx", "noextension"])
def test_unsupported_extension_is_named_in_the_error(name: str) -> None:
    with pytest.raises(UnsupportedFormat) as err:
        parse_bytes(b"hello", name)
    suffix = Path(name).suffix
    assert (suffix in err.value.message) if suffix else "扩展名" in err.value.message
    assert "TXT" in err.value.message and "DOCX" in err.value.message


def test_extension_is_case_insensitive() -> None:
    parsed = parse_bytes("第一条 测试。".encode(), "NOTE.TXT")
    assert parsed.doc_type == "txt" and parsed.pages == ["第一条 测试。"]


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.pdf", "a.docx", "a.html"])
def test_zero_byte_file_is_empty(name: str) -> None:
    with pytest.raises(IngestError, match="empty file"):
        parse_bytes(b"", name)


@pytest.mark.parametrize(
    "data", [b"   \n\r\n\t ", "\ufeff  \u3000\n".encode(), "  \n".encode("utf-16")]
)
def test_whitespace_only_text_is_empty(data: bytes) -> None:
    with pytest.raises(IngestError, match="empty file"):
        parse_bytes(data, "blank.txt")


# --- text encodings -------------------------------------------------------------------------

ENCODINGS = {
    "utf-8": lambda s: s.encode("utf-8"),
    "utf-8-bom": lambda s: s.encode("utf-8-sig"),
    "gbk": lambda s: s.encode("gbk"),
    "gb18030": lambda s: s.encode("gb18030"),
    "utf-16-le-bom": lambda s: b"\xff\xfe" + s.encode("utf-16-le"),
    "utf-16-be-bom": lambda s: b"\xfe\xff" + s.encode("utf-16-be"),
    "utf-16-le": lambda s: s.encode("utf-16-le"),
    "utf-16-be": lambda s: s.encode("utf-16-be"),
    "crlf": lambda s: s.replace("\n", "\r\n").encode("utf-8"),
    "cr": lambda s: s.replace("\n", "\r").encode("utf-8"),
    "gbk-crlf": lambda s: s.replace("\n", "\r\n").encode("gbk"),
}


@pytest.mark.parametrize("variant", sorted(ENCODINGS))
def test_seed_text_decodes_identically_in_every_encoding(variant: str) -> None:
    text = seed_text()
    parsed = parse_bytes(ENCODINGS[variant](text), "seed.txt")
    assert parsed.pages == [text]
    assert parsed.doc_type == "txt" and not parsed.paged
    assert parsed.metadata["encoding"]


def test_cut_off_or_slightly_damaged_utf8_text_still_decodes() -> None:
    data = seed_text().encode("utf-8")
    cut = next(i for i in range(len(data) // 2, len(data)) if 0x80 <= data[i] < 0xC0)
    parsed = parse_bytes(data[:cut], "cut.txt")
    assert parsed.pages[0].endswith("\ufffd") and parsed.pages[0].count("\ufffd") == 1
    assert parsed.pages[0].startswith(seed_text()[:200])
    assert "damaged" in parsed.metadata["encoding"]
    stray_nul = data[:1000] + b"\x00" + data[1000:]
    assert parse_bytes(stray_nul, "nul.txt").pages[0].replace("\x00", "") == seed_text()


def test_gb18030_characters_outside_gbk_survive() -> None:
    text = "㐀䶵𠀀是扩展区汉字，€也在GB18030里。" * 3
    assert parse_bytes(text.encode("gb18030"), "ext.txt").pages == [text]


@pytest.mark.parametrize("name", ["noise.txt", "noise.md"])
def test_random_bytes_are_reported_as_binary(name: str) -> None:
    data = random.Random(7).randbytes(4096)
    with pytest.raises(IngestError, match="binary"):
        parse_bytes(data, name)


def test_png_named_txt_is_binary() -> None:
    noise = Image.frombytes("L", (64, 64), random.Random(3).randbytes(64 * 64))
    buf = io.BytesIO()
    noise.save(buf, "PNG")
    with pytest.raises(IngestError, match="binary"):
        parse_bytes(buf.getvalue(), "picture.txt")


# --- Markdown -------------------------------------------------------------------------------


def test_markdown_markup_is_stripped_but_text_kept() -> None:
    md = "# 某某条例\n\n发布日期\n\n<!-- INFO END -->\n\n## 第一章 总则\n\n**第一条** 为了规范管理，制定本条例。\n\n- 列表一项\n* 列表二项\n1. 编号项\n\n[链接文字](http://x.y)\n"
    parsed = parse_bytes(md.encode(), "rule.md")
    lines = [line for line in parsed.pages[0].split("\n") if line.strip()]
    assert parsed.title == "某某条例" and parsed.doc_type == "md"
    assert lines == [
        "某某条例",
        "发布日期",
        "第一章 总则",
        "第一条 为了规范管理，制定本条例。",
        "列表一项",
        "列表二项",
        "1. 编号项",
        "链接文字",
    ]


def test_lawrefbook_markdown_file() -> None:
    parsed = parse_file(doc("lawrefbook_md/土地管理法(2019-08-26).md"))
    text = parsed.pages[0]
    assert parsed.title == "中华人民共和国土地管理法"
    assert "INFO END" not in text and "<!--" not in text and "#" not in text
    assert "\n第一章  总 则\n" in text
    assert (
        "第二条 中华人民共和国实行土地的社会主义公有制，即全民所有制和劳动群众集体所有制。" in text
    )


def test_pkulaw_txt_with_crlf() -> None:
    parsed = parse_file(
        doc(
            "policy_text_frenq_txt/阿坝州人民政府办公室关于印发《阿坝州政务数...(FBM-CLI.12.4792728).txt"
        )
    )
    text = parsed.pages[0]
    assert "\r" not in text and parsed.metadata["encoding"] == "utf-8"
    assert "阿府办发〔2021〕21号" in text
    # pkulaw indents with an en space and an ideographic space; parse keeps both for clean.
    assert "第二条\u2002\u3000阿坝州行政区域内政务数据资源的采集" in text


# --- PDF ------------------------------------------------------------------------------------


def test_civil_code_pdf_pages_and_title() -> None:
    parsed = _parsed("zufang_pdf/中华人民共和国民法典.pdf")
    assert parsed.paged and parsed.doc_type == "pdf" and len(parsed.pages) == 234
    # The /Title is GBK written as a hex string; it decodes to the real name.
    assert parsed.title == "中华人民共和国民法典"
    assert parsed.ocr_pages == []
    assert parsed.pages[64].rstrip().endswith("国家所有的土地")
    assert parsed.pages[65].lstrip().startswith("66\n享有占有、使用和收益的权利")


def test_pdf_metadata_title_from_a_template_is_ignored() -> None:
    parsed = parse_file(doc("hopeuseless_labor_pdf_docx/中华人民共和国劳动合同法.pdf"))
    assert parsed.title == ""  # its /Title is "法规修改决定电子报备格式标准及示例"
    assert len(parsed.pages) == 27 and parsed.pages[0].startswith("—1—")


def test_truncated_pdf_is_reported() -> None:
    data = doc("zufang_pdf/《中华人民共和国宪法》.pdf").read_bytes()
    with pytest.raises(IngestError, match="damaged or truncated"):
        parse_bytes(data[: len(data) // 2], "half.pdf")


@pytest.mark.parametrize("name", ["noise.pdf", "noise.docx"])
def test_random_bytes_in_binary_formats(name: str) -> None:
    data = random.Random(11).randbytes(5000)
    with pytest.raises(IngestError, match="not a valid"):
        parse_bytes(data, name)


def test_random_bytes_after_a_pdf_header_are_damaged() -> None:
    data = b"%PDF-1.7\n" + random.Random(5).randbytes(5000)
    with pytest.raises(IngestError, match="damaged"):
        parse_bytes(data, "broken.pdf")


def _encrypted(user: str, owner: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(doc("zufang_pdf/《中华人民共和国宪法》.pdf")))
    writer.encrypt(user_password=user, owner_password=owner)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_password_protected_pdf_is_reported() -> None:
    with pytest.raises(IngestError, match=r"encrypted \(password protected\)"):
        parse_bytes(_encrypted("secret", "owner"), "locked.pdf")


def test_pdf_with_only_an_owner_password_opens() -> None:
    parsed = parse_bytes(_encrypted("", "owner"), "restricted.pdf")
    assert len(parsed.pages) == 23 and "中华人民共和国宪法" in parsed.pages[0]


def _image_pdf(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PDF", resolution=150)
    return buf.getvalue()


def test_pdf_without_text_layer_and_ocr_off() -> None:
    data = _image_pdf(Image.new("RGB", (600, 800), "white"))
    with pytest.raises(IngestError, match="no text layer and OCR is disabled"):
        parse_bytes(data, "scan.pdf", ocr=False)


@pytest.mark.slow
def test_blank_scan_finds_no_text() -> None:
    data = _image_pdf(Image.new("RGB", (600, 800), "white"))
    with pytest.raises(IngestError, match="OCR found no text"):
        parse_bytes(data, "scan.pdf")


def _cjk_font() -> Path:
    fc_list = shutil.which("fc-list")
    found = (
        subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True, text=True).stdout
        if fc_list
        else ""
    )
    for line in found.splitlines():
        path = Path(line.split(":")[0].strip())
        if path.suffix.lower() in (".ttf", ".ttc", ".otf") and path.exists():
            return path
    pytest.skip("no CJK font installed (apt-get install fonts-wqy-zenhei)")


@pytest.mark.slow
def test_scanned_pdf_is_ocred() -> None:
    lines = [line for line in seed_text().split("\n") if line.strip()]
    sample = [line[:26] for line in lines[:6]]
    font = ImageFont.truetype(str(_cjk_font()), 36)
    image = Image.new("RGB", (1400, 120 + 80 * len(sample)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(sample):
        draw.text((60, 60 + 80 * i), line, font=font, fill="black")
    parsed = parse_bytes(_image_pdf(image), "scan.pdf")
    assert parsed.ocr_pages == [1]
    found = parsed.pages[0]
    expected = [ch for ch in "".join(sample) if not ch.isspace()]
    pool = list(found)
    hits = 0
    for ch in expected:
        if ch in pool:
            pool.remove(ch)
            hits += 1
    assert hits / len(expected) >= 0.8, found


# --- DOCX -----------------------------------------------------------------------------------


def test_docx_paragraphs() -> None:
    parsed = parse_file(doc("hopeuseless_labor_pdf_docx/劳动合同法实施条例.docx"))
    text = parsed.pages[0]
    assert parsed.doc_type == "docx" and not parsed.paged
    assert text.startswith("劳动合同法实施条例\n第一章 总 则\n")
    assert (
        "第一条 为了贯彻实施《中华人民共和国劳动合同法》(以下简称劳动合同法)，制定本条例。" in text
    )


def test_docx_tables_in_document_order_with_merged_cells_once() -> None:
    parsed = _parsed(
        "chatchat_standard_docx/核电厂定期安全审查指南 第1部分：通用要求（征求意见稿）.docx"
    )
    lines = parsed.pages[0].split("\n")
    header = next(i for i, line in enumerate(lines) if line.startswith("SF1 | SF2 | SF3"))
    assert lines[header - 1].count("提供输入的安全要素") == 1  # merged across 14 columns
    assert "安全要素关联矩阵" in lines[header - 3 : header]
    assert lines[header + 1].split(" | ")[:4] == ["接受输入的安全要素", "SF1", "", "×"]
    assert parsed.pages[0].rindex("核电厂PSR大纲的一般内容") > parsed.pages[0].index("SF14 | ×")
    assert parsed.title == ""  # core title is the template's "标准名称"


def _docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "测试办法"
    document.add_heading("测试办法", level=1)
    document.add_paragraph("第一条 表格前的段落。")
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "合并标题"
    table.cell(0, 2).text = "右"
    for col, value in enumerate(["甲", "乙", "丙"]):
        table.cell(1, col).text = value
    document.add_paragraph("第二条 表格后的段落。")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_generated_docx_order_title_and_merged_cells() -> None:
    parsed = parse_bytes(_docx_bytes(), "made.docx")
    assert parsed.title == "测试办法"
    assert parsed.pages[0].split("\n") == [
        "测试办法",
        "第一条 表格前的段落。",
        "合并标题 | 右",
        "甲 | 乙 | 丙",
        "第二条 表格后的段落。",
    ]


def _zip_with_member(path: Path, name: str, size: int) -> None:
    chunk = b"\0" * 2**20
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open(name, "w", force_zip64=True) as member:
            for _ in range(size // len(chunk)):
                member.write(chunk)


def test_docx_zip_bomb_over_the_unpacked_limit(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.docx"
    _zip_with_member(bomb, "word/document.xml", 20 * 2**20)
    assert bomb.stat().st_size < 2**20
    with pytest.raises(FileTooLarge, match="over the 10 MB limit"):
        parse_file(bomb, max_unpacked_bytes=10 * 2**20)


def test_docx_zip_bomb_by_compression_ratio(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.docx"
    _zip_with_member(bomb, "word/document.xml", 20 * 2**20)
    with pytest.raises(FileTooLarge, match="compressed"):
        parse_file(bomb)


def test_zip_that_is_not_a_docx() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(IngestError, match=r"no word/document\.xml"):
        parse_bytes(buf.getvalue(), "fake.docx")


# --- HTML -----------------------------------------------------------------------------------

HTML_PAGES = {
    "ai_zhengce_tong_html/11_公共租赁住房保障办法_穗府办规2024-13号.html": (
        "（转载）广州市人民政府办公厅关于印发广州市公共租赁住房管理办法的通知",
        ["穗府办规〔2024〕13号", "第一条", "公共租赁住房保障", "第八章 附则"],
    ),
    "ai_zhengce_tong_html/13_户籍家庭住房保障通知_穗建规字2024-5号.html": (
        "广州市住房和城乡建设局关于进一步加强户籍家庭住房保障工作的通知",
        [
            "穗建规字〔2024〕5号",
            "家庭年人均收入49952元",
            "七、本通知自2024年3月4日起施行，有效期5年。",
        ],
    ),
}


@pytest.mark.parametrize("relative", sorted(HTML_PAGES))
def test_government_html_keeps_policy_text_only(relative: str) -> None:
    parsed = parse_file(doc(relative))
    title, must = HTML_PAGES[relative]
    text = parsed.pages[0]
    assert parsed.title == title and parsed.doc_type == "html"
    for phrase in must:
        assert phrase in text
    for junk in [
        "网站地图",
        "function",
        "var ",
        "$(",
        "document.",
        "无障碍",
        "首页",
        "当前位置",
        "分享到",
    ]:
        assert junk not in text, junk


def test_html_boilerplate_removed_and_blocks_are_lines() -> None:
    page = """<html><head><title>某通知 - 某市政府网站</title><style>p{color:red}</style></head><body>
    <div class="header"><ul class="menu"><li>首页</li><li>网站地图</li></ul></div>
    <nav>导航栏目</nav>
    <div class="TRS_Editor"><h1>关于某事的通知</h1><p>第一段，正文内容。<br>第二行。</p>
    <script>var x = "不应出现";</script><table><tr><td>项目</td><td>标准</td></tr></table>
    <div style="display:none">隐藏文字</div></div>
    <div class="footer">版权所有 copyright</div></body></html>"""
    parsed = parse_bytes(
        page.encode("gbk").replace(b"<head>", b'<head><meta charset="gb2312">'), "n.htm"
    )
    assert parsed.title == "某通知"
    assert parsed.pages[0].split("\n") == [
        "关于某事的通知",
        "第一段，正文内容。",
        "第二行。",
        "项目 | 标准",
    ]


def test_html_without_body_text_is_an_error() -> None:
    with pytest.raises(IngestError, match="no text"):
        parse_bytes(b"<html><body><script>var a=1;</script></body></html>", "x.html")
