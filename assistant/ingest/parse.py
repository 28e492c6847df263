"""Parse stage: the bytes of one TXT/MD/PDF/DOCX/HTML file → ParsedFile (raw text per page)."""

from __future__ import annotations

import io
import logging
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.errors import FileTooLarge, IngestError, UnsupportedFormat
from assistant.models import ParsedFile
from assistant.text.zh import NOT_TEXT

# File suffix → the parser that reads it: what ingest and upload accept.
KINDS = {".txt": "txt", ".md": "md", ".markdown": "md", ".pdf": "pdf", ".docx": "docx"}
KINDS |= {".html": "html", ".htm": "html"}
_SUPPORTED = "支持 TXT、MD、PDF、DOCX、HTML"
_BOMS = [
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
]
_BIG_MEMBER = 5 * 2**20
_MAX_RATIO = 200
_HIGH_BYTES = bytes(range(0x80, 0x100))


def parse_file(path: Path, **kw: Any) -> ParsedFile:
    """Parse the file at `path`; keyword arguments as for parse_bytes."""
    return parse_bytes(Path(path).read_bytes(), Path(path).name, **kw)


def parse_bytes(
    data: bytes, filename: str, *, max_unpacked_bytes: int = 200 * 2**20, ocr: bool = True
) -> ParsedFile:
    """Parse `data`, choosing the format from the extension of `filename`."""
    suffix = Path(filename).suffix.lower()
    kind = KINDS.get(suffix)
    if kind is None:
        what = f"不支持的文件类型 {suffix}" if suffix else "不支持的文件类型（文件名没有扩展名）"
        raise UnsupportedFormat(f"{what}（{_SUPPORTED}）: {filename}")
    if not data.strip():
        raise IngestError(f"{filename}: empty file ({'only whitespace' if data else '0 bytes'})")
    if kind == "pdf":
        return _parse_pdf(data, filename, ocr)
    if kind == "docx":
        return _parse_docx(data, filename, max_unpacked_bytes)
    if kind == "html":
        return _parse_html(data, filename)
    text, encoding = _decode_text(data, filename)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise IngestError(f"{filename}: empty file (only whitespace)")
    title = ""
    if kind == "md":
        text, title = _strip_markdown(text)
    return ParsedFile(pages=[text], doc_type=kind, title=title, metadata={"encoding": encoding})


# --- plain text ---------------------------------------------------------------------------


def _decode_text(data: bytes, filename: str) -> tuple[str, str]:
    """Decode text bytes: BOM, UTF-16 without BOM, UTF-8, GB18030, then charset-normalizer."""
    binary = IngestError(f"{filename}: looks like binary, not text (could not decode it as text)")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _check_text(data[len(bom) :].decode(encoding), binary), encoding + "-bom"
            except UnicodeDecodeError:
                raise IngestError(
                    f"{filename}: starts with a {encoding} BOM but is not {encoding}"
                ) from None
    if b"\x00" in data:
        # UTF-8 and GB18030 text never holds NUL bytes; UTF-16 puts one in every ASCII character.
        odd_nuls, even_nuls = data[1::2].count(0), data[0::2].count(0)
        order = ["utf-16-le", "utf-16-be"] if odd_nuls >= even_nuls else ["utf-16-be", "utf-16-le"]
        for encoding in order:
            try:
                return _check_text(data.decode(encoding), binary), encoding
            except (UnicodeDecodeError, IngestError):
                continue
    try:
        return _check_text(data.decode("utf-8"), binary), "utf-8"
    except UnicodeDecodeError:
        # A cut-off or slightly damaged UTF-8 file fails on a handful of bytes, GBK on nearly all.
        lenient = data.decode("utf-8", errors="replace")
        if lenient.count("\ufffd") <= 0.01 * (len(data) - len(data.translate(None, _HIGH_BYTES))):
            return _check_text(lenient, binary), "utf-8 (damaged bytes replaced)"
    try:
        return _check_text(data.decode("gb18030"), binary), "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise binary
    return _check_text(str(best), binary), best.encoding


def _check_text(text: str, binary: IngestError) -> str:
    """Return `text`, or raise `binary` when it is mostly control or unassigned characters."""
    bad = sum(
        1
        for ch in text
        if ch == "\ufffd" or (unicodedata.category(ch) in NOT_TEXT and ch not in "\t\n\r\f\v")
    )
    if bad > 0.02 * len(text) + 2:
        raise binary
    return text


_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_MD_SKIP = re.compile(
    r"^\s*(```|~~~)|^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$"
)  # fences, table rules
_MD_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # image → alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # link → its text
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"`([^`]+)`"), r"\1"),
]


def _strip_markdown(text: str) -> tuple[str, str]:
    """Markdown → plain lines: no comments, heading marks, emphasis, bullets or table rules."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    title, out = "", []
    for line in text.split("\n"):
        if _MD_SKIP.match(line):
            out.append("")
            continue
        for pattern, repl in _MD_INLINE:
            line = pattern.sub(repl, line)
        heading = _MD_HEADING.match(line)
        if heading:
            line = heading.group(2)
            if not title and len(heading.group(1)) == 1:
                title = line.strip()
        else:
            line = re.sub(r"^\s*>\s?", "", line)
            line = re.sub(r"^(\s*)[-*+][ \t]+", r"\1", line)
            if line.strip().startswith("|") and line.strip().endswith("|"):
                line = " | ".join(cell.strip() for cell in line.strip()[1:-1].split("|"))
        out.append(line)
    return "\n".join(out), title


# --- PDF ---------------------------------------------------------------------------------


@contextmanager
def _quiet_pypdf() -> Iterator[list[str]]:
    """Collect pypdf's log messages and warnings instead of letting them reach the caller."""
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("pypdf")
    handler, propagate = _Collect(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
        messages.extend(str(w.message) for w in caught)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _parse_pdf(data: bytes, filename: str, ocr: bool) -> ParsedFile:
    """PDF → one string per page; pages without a text layer are OCRed from their images."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    if b"%PDF-" not in data[:1024]:
        raise IngestError(f"{filename}: not a valid PDF (no %PDF header)")
    with _quiet_pypdf() as messages:
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                try:
                    if not reader.decrypt(""):
                        raise IngestError(f"{filename}: PDF is encrypted (password protected)")
                except DependencyError:  # AES needs the `cryptography` package
                    raise IngestError(
                        f"{filename}: PDF is encrypted (AES) and cannot be opened"
                    ) from None
            n_pages = len(reader.pages)
        except IngestError:
            raise
        except Exception as exc:  # pypdf raises many types on damaged files; all mean "unreadable"
            detail = "; ".join(dict.fromkeys([str(exc), *messages[-2:]]))
            raise IngestError(f"{filename}: PDF is damaged or truncated ({detail})") from None
        pages, ocr_pages, failed = [], [], []
        for number, page in enumerate(reader.pages, start=1):
            try:
                text = page.extract_text() or ""
            except Exception:  # one bad content stream should not cost the other pages
                text = ""
                failed.append(number)
            if ocr and len("".join(text.split())) < 10:
                found = _ocr_page(page)
                if found.strip():
                    text = f"{text}\n{found}" if text.strip() else found
                    ocr_pages.append(number)
            pages.append(text)
        try:
            title = _pdf_title(reader, pages)
            producer = _pdf_info(reader, "/Producer")
        except Exception:  # a broken /Info dictionary only costs us the title
            title, producer = "", ""
    if len(failed) == n_pages:
        raise IngestError(f"{filename}: PDF is damaged (no page could be read)")
    if not any(p.strip() for p in pages):
        why = "OCR found no text" if ocr else "OCR is disabled"
        raise IngestError(f"{filename}: PDF has no text layer and {why}")
    metadata = {"pages": str(n_pages), "producer": producer}
    if failed:
        metadata["unreadable_pages"] = ",".join(map(str, failed))
    return ParsedFile(pages, "pdf", title, paged=True, ocr_pages=ocr_pages, metadata=metadata)


def _ocr_page(page: Any) -> str:
    """OCR text of the images embedded in one PDF page, top to bottom in file order."""
    from assistant.ingest.ocr import ocr_image

    texts = []
    try:
        images = list(page.images)
    except Exception:  # unsupported image filters: nothing to OCR on this page
        return ""
    for image in images:
        try:
            texts.append(ocr_image(image.image))
        except Exception:
            continue
    return "\n".join(t for t in texts if t)


def _pdf_info(reader: Any, key: str) -> str:
    info = reader.metadata
    return str(info.get(key) or "") if info is not None else ""


def _pdf_title(reader: Any, pages: list[str]) -> str:
    """Metadata title when it reads like one and occurs in the first pages, else ""."""
    raw = _pdf_info(reader, "/Title").strip()
    hexed = re.fullmatch(r"<([0-9A-Fa-f\s]+)>", raw)
    if hexed:  # some Distiller versions write the GBK bytes as a hex string
        blob = bytes.fromhex("".join(hexed.group(1).split()))
        for encoding in ("utf-16", "utf-8", "gb18030"):
            if encoding != "utf-16" or blob[:2] in (b"\xfe\xff", b"\xff\xfe"):
                try:
                    raw = blob.decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
    raw = re.sub(r"^Microsoft (Word|PowerPoint) - ", "", raw)
    raw = re.sub(r"\.(docx?|wps|pdf|txt)$", "", raw, flags=re.I).strip()
    squeeze = "".join(unicodedata.normalize("NFKC", raw).split())
    head = "".join(unicodedata.normalize("NFKC", "".join(pages[:3])).split())
    return raw if len(squeeze) >= 2 and squeeze in head else ""


# --- DOCX --------------------------------------------------------------------------------


def _parse_docx(data: bytes, filename: str, max_unpacked_bytes: int) -> ParsedFile:
    """DOCX → one page of paragraphs and table rows in document order."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            names = {m.filename for m in members}
    except (zipfile.BadZipFile, ValueError, OSError):
        raise IngestError(f"{filename}: not a valid DOCX (not a zip archive)") from None
    total, limit = sum(m.file_size for m in members) / 2**20, max_unpacked_bytes / 2**20
    if total > limit:
        raise FileTooLarge(
            f"{filename}: DOCX unpacks to {total:.0f} MB, over the {limit:.0f} MB limit"
        )
    for m in members:
        ratio = m.file_size // max(m.compress_size, 1)
        if m.file_size > _BIG_MEMBER and ratio > _MAX_RATIO:
            raise FileTooLarge(f"{filename}: {m.filename} is compressed {ratio}x (zip bomb?)")
    if "word/document.xml" not in names:
        raise IngestError(f"{filename}: not a valid DOCX (no word/document.xml)")
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
        lines = list(_docx_blocks(document.element.body, document))
        title = (document.core_properties.title or "").strip()
    except Exception as exc:  # python-docx/lxml raise many kinds of error on broken parts
        raise IngestError(f"{filename}: not a valid DOCX ({exc})") from None
    text = "\n".join(lines)
    if not text.strip():
        raise IngestError(f"{filename}: DOCX contains no text")
    if "".join(title.split()) not in "".join(text.split()):
        title = ""  # template placeholders such as "标准名称"
    return ParsedFile(pages=[text], doc_type="docx", title=title)


def _docx_blocks(parent: Any, document: Any) -> Iterator[str]:
    """Paragraph texts and table rows (cells joined by " | ") under `parent`, in order."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in parent.iterchildren():
        if child.tag == qn("w:p"):
            yield Paragraph(child, document).text
        elif child.tag == qn("w:tbl"):
            for row in Table(child, document).rows:
                cells: list[str] = []
                previous = None
                for cell in row.cells:
                    # A merged cell is returned once per grid column it spans.
                    if cell._tc is previous:
                        continue
                    previous = cell._tc
                    cells.append(" ".join(" ".join(_docx_blocks(cell._tc, document)).split()))
                while cells and not cells[-1]:
                    cells.pop()
                while cells and not cells[0]:
                    cells.pop(0)
                if cells:
                    yield " | ".join(cells)
        elif child.tag in (qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml")):
            yield from _docx_blocks(child, document)


# --- HTML --------------------------------------------------------------------------------

_JUNK_TAGS = ["script", "style", "noscript", "template", "iframe", "svg", "button", "select", "textarea", "input", "object", "embed", "link", "meta"]  # fmt: skip
_CHROME_TAGS = {"nav", "header", "footer", "aside", "form"}
_CHROME_WORDS = re.compile(
    r"nav|menu|footer|header|crumb|sidebar|share|copyright|banner|toolbar|login|qrcode|ewm|pag(er|ination)"
    r"|skip|search|position|location",
    re.I,
)
_MAIN_WORDS = re.compile(r"content|article|zoom|trs_editor|main|_cont\b|detail|正文", re.I)
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "h1", "h2", "h3", "h4", "h5", "h6",
    "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "blockquote", "pre", "hr",
    "address", "figure", "figcaption", "caption", "form", "fieldset", "center", "body", "html",
}  # fmt: skip
_CJK = re.compile(r"[\u3400-\u9fff]")


def _cjk(el: Any) -> int:
    return len(_CJK.findall(el.text_content()))


def _attrs(el: Any) -> str:
    return f"{el.get('id', '')} {el.get('class', '')}"


def _parse_html(data: bytes, filename: str) -> ParsedFile:
    """HTML page → the lines of its main content, without scripts, menus and footers."""
    import lxml.html

    head = data[:4096].decode("ascii", "ignore")
    declared = re.search(r"""charset\s*=\s*["']?([\w-]+)""", head, re.I)
    encoding = declared.group(1).lower() if declared else "utf-8"
    if encoding in ("gb2312", "gbk", "x-gbk", "gb_2312-80"):
        encoding = "gb18030"
    try:
        data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        encoding = "gb18030"
    try:
        root = lxml.html.document_fromstring(data, parser=lxml.html.HTMLParser(encoding=encoding))
    except Exception as exc:  # lxml's ParserError and friends: nothing usable
        raise IngestError(f"{filename}: not a readable HTML page ({exc})") from None
    for el in root.xpath("//comment() | //processing-instruction()"):
        el.drop_tree()
    for el in root.xpath("//" + " | //".join(_JUNK_TAGS)):
        el.drop_tree()
    # "<title>" usually reads "article - site"; the segment an <h1> repeats is the article's.
    segments = re.split(r"\s+[-|_—]\s+|_", " ".join((root.findtext(".//title") or "").split()))
    h1s = [h for h in (" ".join(h.text_content().split()) for h in root.iter("h1")) if h]
    title = next((s for s in segments if s and any(s in h or h in s for h in h1s)), segments[0])
    body = root.find("body")
    body = root if body is None else body
    main = _main_container(body)
    main_cjk = _cjk(main)
    for el in list(main.iter()):
        if el is main or not isinstance(el.tag, str) or el.getparent() is None:
            continue
        hidden = re.search(r"display\s*:\s*none", el.get("style", "")) is not None
        chrome = el.tag in _CHROME_TAGS or _CHROME_WORDS.search(_attrs(el)) is not None
        if (hidden or chrome) and _cjk(el) < 0.5 * max(main_cjk, 1):
            el.drop_tree()
    text = "\n".join(_html_lines(main))
    if not text:
        raise IngestError(f"{filename}: HTML page contains no text")
    title = title or (h1s[0] if h1s else "")
    return ParsedFile(pages=[text], doc_type="html", title=title, metadata={"encoding": encoding})


def _main_container(body: Any) -> Any:
    """The article: the content-like element with most CJK text, or its innermost part with 80%."""
    scored = [
        (el, _cjk(el))
        for el in body.iter()
        if isinstance(el.tag, str)
        and (
            el.tag in ("article", "main")
            or _MAIN_WORDS.search(f"{_attrs(el)} {el.get('wzades', '')}")
        )
        and not _CHROME_WORDS.search(_attrs(el))
    ]
    if not scored:
        return body
    best, best_cjk = max(scored, key=lambda pair: pair[1])
    if best_cjk < 100 and best_cjk < 0.25 * _cjk(body):
        return body
    # Wrappers such as "content-container" score as high; the innermost keeps out more chrome.
    inner = [
        el for el, n in scored if n >= 0.8 * best_cjk and (el is best or best in el.iterancestors())
    ]
    return max(inner, key=lambda el: sum(1 for _ in el.iterancestors()))


def _html_lines(root: Any) -> list[str]:
    """Text of `root`, one line per block element; a table row is one line, cells joined by " | "."""
    lines: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        # HTML source whitespace is layout; \u3000 and nbsp are content, left for clean.
        text = re.sub(r"[ \t\r\n\f\v]+", " ", "".join(buf)).strip()
        buf.clear()
        if text:
            lines.append(text)

    def walk(el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("br", "tr"):
            flush()
        if tag == "tr":
            cells = [" ".join(c.text_content().split()) for c in el if c.tag in ("td", "th")]
            lines.append(" | ".join(c for c in cells if c))
            return
        if tag in _BLOCK_TAGS:
            flush()
        if el.text and tag:
            buf.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                buf.append(child.tail)
        if tag in _BLOCK_TAGS:
            flush()

    walk(root)
    flush()
    return [line for line in lines if line]
