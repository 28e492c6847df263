"""Clean stage: ParsedFile → one paragraph per line, with exact page spans for paged documents."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from assistant.errors import IngestError
from assistant.models import PageSpan, ParsedFile
from assistant.text.zh import CN_NUM

# CJK Radicals Supplement → unified ideograph, from Unicode's EquivalentUnifiedIdeograph.txt
# (U+2E81..U+2EF3). NFKC leaves these alone, yet PDF text layers use them for 民, 长, 门, 见...
# Where the UCD target is a rare Extension-B character we map to the common ideograph of the
# same radical instead (⺮→竹, ⻊→足), which is what a reader and a search query would use.
_RADICALS = (
    "2E81:5382 2E82:4E5B 2E83:4E5A 2E84:4E59 2E85:4EBB 2E86:5182 2E87:51E0 2E88:5200 2E89:5202 "
    "2E8A:535C 2E8B:353E 2E8C:5C0F 2E8D:5C0F 2E8E:5140 2E8F:5C23 2E90:5C22 2E91:5C22 2E92:5DF3 "
    "2E93:5E7A 2E94:5F51 2E95:5F50 2E96:5FC4 2E97:5FC3 2E98:624C 2E99:6535 2E9B:65E1 2E9C:65E5 "
    "2E9D:6708 2E9E:6B7A 2E9F:6BCD 2EA0:6C11 2EA1:6C35 2EA2:6C3A 2EA3:706C 2EA4:722B 2EA5:722B "
    "2EA6:4E2C 2EA7:725B 2EA8:72AD 2EA9:738B 2EAA:758B 2EAB:76EE 2EAC:793A 2EAD:793B 2EAE:7AF9 "
    "2EAF:7CF9 2EB0:7E9F 2EB1:7F53 2EB2:7F52 2EB3:34C1 2EB4:5197 2EB5:7F51 2EB6:7F8A 2EB7:7F8A "
    "2EB8:7F8A 2EB9:8002 2EBA:8080 2EBB:807F 2EBC:8089 2EBD:81FC 2EBE:8279 2EBF:8279 2EC0:8279 "
    "2EC1:864E 2EC2:8864 2EC3:8980 2EC4:897F 2EC5:89C1 2EC6:89D2 2EC7:89D2 2EC8:8BA0 2EC9:8D1D "
    "2ECA:8DB3 2ECB:8F66 2ECC:8FB6 2ECD:8FB6 2ECE:8FB6 2ECF:9091 2ED0:9485 2ED1:9577 2ED2:9578 "
    "2ED3:957F 2ED4:95E8 2ED5:961C 2ED6:961D 2ED7:96E8 2ED8:9752 2ED9:97E6 2EDA:9875 2EDB:98CE "
    "2EDC:98DE 2EDD:98DF 2EDE:98DF 2EDF:98E0 2EE0:9963 2EE1:9996 2EE2:9A6C 2EE3:9AA8 2EE4:9B3C "
    "2EE5:9C7C 2EE6:9E1F 2EE7:5364 2EE8:9EA6 2EE9:9EC4 2EEA:9EFE 2EEB:6589 2EEC:9F50 2EED:6B6F "
    "2EEE:9F7F 2EEF:7ADC 2EF0:9F99 2EF1:9F9C 2EF2:4E80 2EF3:9F9F"
)
_TRANSLATE: dict[int, str | None] = {
    int(src, 16): chr(int(dst, 16)) for src, dst in (pair.split(":") for pair in _RADICALS.split())
}
_TRANSLATE |= {cp: None for cp in (0x00AD, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)}
# Control characters, except the ones str.splitlines treats as line breaks (\v \f \x1c-\x1e \x85).
_CONTROLS = {*range(0x09), *range(0x0E, 0x1C), 0x1F, *range(0x7F, 0xA0)} - {0x85}
_TRANSLATE |= dict.fromkeys(_CONTROLS)
_TRANSLATE |= {
    cp: " " for cp in (0x09, 0xA0, 0x1680, 0x202F, 0x205F, 0x3000, *range(0x2000, 0x200B))
}
# NFKC would turn Chinese full-width punctuation into ASCII (，→,) and ①/² into plain digits;
# those carry meaning in Chinese text, so they are kept as they are.
_NFKC_KEEP = re.compile(
    r"([！（），：；？［］｛｝｜～＂＇…\u2460-\u24ff\u3251-\u32bf\u00b2\u00b3\u00b9])"
)

_CJK = "\u2e80-\u2fdf\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef“”‘’—…·"
_SQUEEZE = re.compile(rf"(?<=[{_CJK}]) +(?=[{_CJK}\d])|(?<=\d) +(?=[{_CJK}])")
_WIDE = re.compile(
    r"[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]"
)

_MARKER = re.compile(rf"^第[{CN_NUM}\d]+(?:分编|编|章|节|条)(?= )")
_HEADING = re.compile(
    rf"^(?:第[{CN_NUM}\d]+(?:分编|编|章|节)|目 ?录|序 ?言|前 ?言|附 ?则|附 ?录)(?: |$)"
)
_STARTS_BLOCK = re.compile(
    rf"^(?:第[{CN_NUM}\d]+(?:分编|编|章|节|条)(?: |$)|[{CN_NUM}]{{1,3}}[、．]|[（(][{CN_NUM}\d]{{1,3}}[）)]"
    r"|\d{1,2}(?:、|．|\.(?!\d))|[\u2460-\u249b]|附件 ?\d*(?:[:： ]|$))"
)
_TERMINAL = set("。！？；：…”」』）】!?;:).")
_CONTINUES = set("，、,（(《〈“‘-—和与及")
_PROSE = re.compile(r"[，。；！？,;]")
# Quotes are left out: multi-paragraph quotations and OCR slips leave them open all the time.
_PAIRS = ["（）", "()", "《》", "〈〉"]
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–_~·•* ]*\d{1,4}[-—–_~·•* ]*|第 ?\d{1,4} ?页(?: ?[,，/]? ?共 ?\d{1,4} ?页)?"
    r"|共 ?\d{1,4} ?页 ?[,，]? ?第 ?\d{1,4} ?页|\d{1,4} ?/ ?\d{1,4}|(?:page|p\.) ?\d{1,4}(?: ?(?:of|/) ?\d{1,4})?)$",
    re.I,
)
# Unpaged text has no page edges to look at, so only unmistakable forms ("—3—", "第3页") go.
_PAGE_NUMBER_MARKED = re.compile(
    r"^(?:[-—–~·•*]+ ?\d{1,4} ?[-—–~·•*]+|第 ?\d{1,4} ?页(?: ?[,，/]? ?共 ?\d{1,4} ?页)?"
    r"|共 ?\d{1,4} ?页 ?[,，]? ?第 ?\d{1,4} ?页|(?:page|p\.) ?\d{1,4}(?: ?(?:of|/) ?\d{1,4})?)$",
    re.I,
)
_RULE = re.compile(r"^[-—–_=*~#·•]{3,}$")
_EDGE = 2  # lines at the top and at the bottom of a page where running headers and numbers sit


@dataclass
class _Line:
    page: int
    text: str
    indent: bool = False
    gap: bool = False  # a blank line separates it from the previous line of the same page


def clean(parsed: ParsedFile) -> tuple[str, list[PageSpan]]:
    """Normalise, drop page furniture and re-join broken lines; spans are empty for unpaged files.

    Raises IngestError when nothing is left (a file of only page numbers, say).
    """
    layout = parsed.paged
    pages = [_page_lines(raw, number, layout) for number, raw in enumerate(parsed.pages, start=1)]
    pages = [_drop_page_numbers(lines, layout) for lines in pages]
    if layout and len(pages) >= 3:
        pages = _drop_running_lines(pages)
    lines = [line for page in pages for line in page]
    if not lines:
        raise IngestError("document has no text left after cleaning")
    joinable = layout or parsed.doc_type in ("txt", "md")
    typical = _typical_width(lines) if layout else None
    paragraphs: list[list[_Line]] = [[lines[0]]]
    for prev, line in pairwise(lines):
        if joinable and _continues(prev, line, paragraphs[-1], layout, typical):
            paragraphs[-1].append(line)
        else:
            paragraphs.append([line])
    return _emit(paragraphs, layout)


def normalize_text(text: str) -> str:
    """NFKC (keeping Chinese punctuation), radical look-alikes → ideographs, odd spaces → space."""
    parts = _NFKC_KEEP.split(text)
    parts[0::2] = [unicodedata.normalize("NFKC", part) for part in parts[0::2]]
    return "".join(parts).translate(_TRANSLATE)


def _page_lines(raw: str, number: int, layout: bool) -> list[_Line]:
    """Normalised, stripped, non-blank lines of one page."""
    out: list[_Line] = []
    gap = False
    for raw_line in normalize_text(raw).splitlines():
        stripped = " ".join(raw_line.split())
        if not stripped or _RULE.match(stripped):
            gap = bool(out)
            continue
        indent = len(raw_line) - len(raw_line.lstrip()) >= 2
        out.append(_Line(number, _squeeze(stripped) if layout else stripped, indent, gap))
        gap = False
    return out


def _squeeze(line: str) -> str:
    """Drop the spaces PDF extraction puts between CJK characters, keeping the one after 第X条."""
    marker = _MARKER.match(line)
    if marker:
        return marker.group(0) + " " + _SQUEEZE.sub("", line[marker.end() :].lstrip())
    return _SQUEEZE.sub("", line)


def _drop_page_numbers(lines: list[_Line], layout: bool) -> list[_Line]:
    """Lines that are only a page number: at page edges for paged files, marked forms elsewhere."""
    if not layout:
        return [line for line in lines if not _PAGE_NUMBER_MARKED.match(line.text)]
    edges = set(range(min(_EDGE, len(lines)))) | set(range(max(0, len(lines) - _EDGE), len(lines)))
    return [
        line for i, line in enumerate(lines) if i not in edges or not _PAGE_NUMBER.match(line.text)
    ]


def _running_key(text: str) -> str:
    return re.sub(r"\d+", "#", "".join(text.split()))


def _drop_running_lines(pages: list[list[_Line]]) -> list[list[_Line]]:
    """Lines repeated at the top or bottom of at least half the pages (after digit folding)."""
    edge_keys = []
    for lines in pages:
        # A finished sentence is body text even when a template repeats it ("第1条 …。").
        edge = [line for line in lines[:_EDGE] + lines[-_EDGE:] if line.text[-1] not in "。！？；"]
        edge_keys.append({_running_key(line.text) for line in edge})
    counts = Counter(key for keys in edge_keys for key in keys)
    repeated = {key for key, n in counts.items() if n >= max(3, (len(pages) + 1) // 2)}
    if not repeated:
        return pages
    out = []
    for lines in pages:
        n = len(lines)
        out.append(
            [
                line
                for i, line in enumerate(lines)
                if not ((i < _EDGE or i >= n - _EDGE) and _running_key(line.text) in repeated)
            ]
        )
    return out


def _width(text: str) -> int:
    return len(text) + len(_WIDE.findall(text))


def _typical_width(lines: list[_Line]) -> int | None:
    """Width of a full line: the 80th percentile over lines that stop mid-sentence (None: too few)."""
    widths = sorted(_width(line.text) for line in lines if line.text[-1] not in _TERMINAL)
    return widths[int(0.8 * (len(widths) - 1))] if len(widths) >= 5 else None


def _unbalanced(text: str) -> bool:
    return any(text.count(pair[0]) > text.count(pair[1]) for pair in _PAIRS)


def _continues(
    prev: _Line, line: _Line, paragraph: list[_Line], layout: bool, typical: int | None
) -> bool:
    """Whether `line` continues `paragraph`, whose last line is `prev`."""
    a, b = prev.text, line.text
    if a[-1] in _TERMINAL or _STARTS_BLOCK.match(b) or line.indent:
        return False
    if _HEADING.match(a) and a[-1] not in _CONTINUES:  # "第五节 地方各级人民代表大会和" goes on
        return False
    if " | " in a or " | " in b:  # table rows
        return False
    if layout:
        # Layout breaks run to the full line width; a short unpunctuated line ends a heading or paragraph.
        if line.gap and line.page == prev.page:
            return False
        # Without enough broken lines to measure the page, assume ~20 CJK characters is a full line.
        full = 0.6 * typical if typical else 40
        if _width(a) >= full or a[-1] in _CONTINUES:
            return True
    # Text files: only prose (a sentence with Chinese punctuation) or an open bracket is broken.
    if _PROSE.search(a) and not (layout and typical):
        return True
    # An open bracket carries on (a title note in brackets over several short lines), within reason.
    text = "".join(part.text for part in paragraph)
    return len(text) < 300 and _unbalanced(text)


def _joiner(a: str, b: str) -> str:
    """Space between two joined pieces: only where Latin words would otherwise run together."""
    x, y = a[-1], b[0]
    if (
        x.isascii()
        and y.isascii()
        and y.isalnum()
        and x not in "-/("
        and not (x.isdigit() and y.isdigit())
    ):
        return " "
    return ""


def _emit(paragraphs: list[list[_Line]], layout: bool) -> tuple[str, list[PageSpan]]:
    """Join paragraphs into the output text, recording which characters came from which page."""
    parts: list[str] = []
    pos = 0
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, paragraph in enumerate(paragraphs):
        if i:
            parts.append("\n")
            pos += 1
        for j, line in enumerate(paragraph):
            if j:
                joiner = _joiner(paragraph[j - 1].text, line.text)
                parts.append(joiner)
                pos += len(joiner)
            first.setdefault(line.page, pos)
            parts.append(line.text)
            pos += len(line.text)
            last[line.page] = pos
    spans = [PageSpan(page, first[page], last[page]) for page in sorted(first)] if layout else []
    return "".join(parts), spans
