"""What a visitor takes home by QR code: the answer's text and its sources, drawn locally with segno.

The text is kept under QR_MAX_BYTES of UTF-8 (a version-25 code at error level M holds ~1,000
bytes; denser codes are hard to scan off a screen). Sources get up to half the budget, the answer
the rest; whatever is cut ends with TRUNCATED, so nobody mistakes a shortened answer for a whole one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import segno

from .schemas import CitationOut

QR_MAX_BYTES = 900
QR_ERROR = "m"
TRUNCATED = "……（已截断，完整内容请看原文）"
SOURCES_HEAD = "出处："
QUOTE_START_CHARS = 20
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def date_label(date: str | None) -> str:
    """'2022' → 2022年, '2022-06' → 2022年6月, '2019-08-26' → 2019年8月26日, unknown → 日期不详."""
    m = _DATE.match((date or "").strip())
    if not m:
        return (date or "").strip() or "日期不详"
    year, month, day = m.groups()
    return f"{year}年" + (f"{int(month)}月" if month else "") + (f"{int(day)}日" if day else "")


def source_line(c: CitationOut) -> str:
    """'[1]《title》2022年：“first words of the quote…”'"""
    quote = " ".join(c.quote.split())
    start = quote[:QUOTE_START_CHARS] + ("…" if len(quote) > QUOTE_START_CHARS else "")
    return f"[{c.id}]《{c.source.title}》{date_label(c.document.date)}：“{start}”"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, budget: int) -> str:
    """The longest prefix of `text` that, with TRUNCATED after it, fits `budget` bytes."""
    room = budget - _size(TRUNCATED)
    out, used = [], 0
    for ch in text:
        used += _size(ch)
        if used > room:
            break
        out.append(ch)
    return "".join(out).rstrip() + TRUNCATED


def takehome_text(answer: str, citations: Sequence[CitationOut], limit: int = QR_MAX_BYTES) -> str:
    """The answer, a blank line, then 出处： and one line per source; at most `limit` bytes."""
    answer = answer.strip()
    lines = [source_line(c) for c in citations]
    sources = "\n\n" + SOURCES_HEAD + "\n" + "\n".join(lines) if lines else ""
    if _size(answer + sources) <= limit:
        return answer + sources
    if _size(sources) > limit // 2:
        kept: list[str] = []
        head = "\n\n" + SOURCES_HEAD + "\n"
        for i, line in enumerate(lines):
            more = f"\n……另有{len(lines) - i - 1}处出处" if i < len(lines) - 1 else ""
            trial = head + "\n".join([*kept, line]) + more
            if _size(trial) > limit // 2:
                break
            kept.append(line)
        if not kept:  # even one source line is too long: cut it
            kept = [_cut(lines[0], limit // 2 - _size(head))]
        rest = len(lines) - len(kept)
        sources = head + "\n".join(kept) + (f"\n……另有{rest}处出处" if rest else "")
    return _cut(answer, limit - _size(sources)) + sources


def qr_svg(text: str) -> bytes:
    """The text as a QR code in SVG (scalable; black modules on white, a 4-module quiet zone)."""
    code = segno.make(text, error=QR_ERROR, micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=4, border=4, xmldecl=False, title="扫码带走回答和出处")
    return out.getvalue()
