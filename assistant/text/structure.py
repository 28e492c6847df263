"""Recognise titles and headings so every passage knows its heading path."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.text.zh import CLOSERS, CN_NUM, SENTENCE_MARKS

# (pattern, rank): a heading of rank r closes every open heading of rank >= r.
LAW_PATTERNS = [
    (re.compile(rf"^第[{CN_NUM}\d]+编"), 2),
    (re.compile(rf"^第[{CN_NUM}\d]+分编"), 3),
    (re.compile(rf"^第[{CN_NUM}\d]+章"), 4),
    (re.compile(rf"^第[{CN_NUM}\d]+节"), 5),
]
ARTICLE_RE = re.compile(rf"^第[{CN_NUM}\d]+条(?:之[{CN_NUM}]+)?")
NUMBERED_PATTERNS = [
    (re.compile(rf"^[{CN_NUM}]+、"), 4),
    (re.compile(rf"^[（(][{CN_NUM}]+[）)]"), 5),
    (re.compile(r"^\d+[.、．](?!\d)"), 6),
    (re.compile(r"^[（(]\d+[）)]"), 7),
]
TERMINAL = "。！？；：，、!?;:,"
MAX_HEADING_CHARS = 40
BYLINE_RE = re.compile(r"^(记者|通讯员|编辑|作者|来源|发布时间|发布日期|文号|索引号)[\s:：]")


@dataclass(frozen=True)
class Line:
    """One paragraph of the cleaned text and what it is."""

    start: int
    end: int
    text: str
    heading: str | None = None  # the heading label, when the line opens a section
    rank: int = 0
    article: bool = False  # a law article (第X条) starts here: never share a chunk across it


def split_lines(text: str) -> list[tuple[int, int]]:
    """[start, end) of every non-empty line."""
    spans, pos = [], 0
    for part in text.split("\n"):
        if part.strip():
            spans.append((pos, pos + len(part)))
        pos += len(part) + 1
    return spans


def classify(text: str, start: int, end: int) -> Line:
    line = text[start:end]
    s = line.strip()
    if m := ARTICLE_RE.match(s):
        return Line(start, end, line, heading=m.group(), rank=8, article=True)
    for pattern, rank in LAW_PATTERNS:
        if pattern.match(s) and len(s) <= MAX_HEADING_CHARS:
            return Line(start, end, line, heading=s, rank=rank)
    for pattern, rank in NUMBERED_PATTERNS:
        if pattern.match(s):
            label = _lead_phrase(s)
            if label:
                return Line(start, end, line, heading=label, rank=rank)
    if _is_plain_heading(s):
        return Line(start, end, line, heading=s, rank=1)
    return Line(start, end, line)


def _lead_phrase(s: str) -> str | None:
    """The title part of a numbered paragraph: the whole line if short, else up to its first stop."""
    if len(s) <= MAX_HEADING_CHARS and s[-1] not in TERMINAL:
        return s
    m = re.match(r"^(.{2,40}?)[。：:]", s)
    return m.group(1) if m else None


def _is_plain_heading(s: str) -> bool:
    return (
        len(s) <= MAX_HEADING_CHARS
        and s[-1] not in TERMINAL
        and " | " not in s
        and not s.replace(" ", "").isdigit()
        and not BYLINE_RE.match(s)
        and sum(ch.isalnum() for ch in s) >= 2
    )


def within_articles(lines: list[Line]) -> list[Line]:
    """Numbered paragraphs inside a law article are its list items ("（一）…；"), not headings.

    An article runs until the next article or the next heading that is not numbered (a chapter, a
    section, a plain title); keeping its items in its section keeps the article in one passage.
    """
    out, inside = [], False
    for line in lines:
        if line.article:
            inside = True
        elif line.heading and numbered(line.text.strip()):
            if inside:
                line = Line(line.start, line.end, line.text)
        elif line.heading:
            inside = False
        out.append(line)
    return out


def numbered(s: str) -> bool:
    """A paragraph opening with a number: 一、 （一） 1. （1）."""
    return any(pattern.match(s) for pattern, _ in NUMBERED_PATTERNS)


def analyse(text: str, title: str = "") -> list[Line]:
    """Every line of the document with heading labels; consecutive plain headings merge into one title."""
    lines = within_articles([classify(text, a, b) for a, b in split_lines(text)])
    merged: list[Line] = []
    for line in lines:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and prev.heading
            and line.heading
            and prev.rank == line.rank == 1
            and prev.heading != title
        ):
            # A title and its subtitle form one heading ("以…赢得…" / "平湖创新机制…").
            merged[-1] = Line(
                prev.start,
                line.end,
                text[prev.start : line.end],
                f"{prev.heading} {line.heading}",
                1,
            )
            continue
        merged.append(line)
    return merged


# Where a sentence ends: its mark, with any closing quotes or brackets, or a line break.
SENTENCE_END = re.compile(rf"[{SENTENCE_MARKS}]+[{re.escape(CLOSERS)}]*|\n")


def sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences in text[start:end], trailing whitespace excluded."""
    spans = []
    pos = start
    for m in SENTENCE_END.finditer(text, start, end):
        stop = m.end() if m.group() != "\n" else m.start()
        if text[pos:stop].strip():
            spans.append(_trim(text, pos, stop))
        pos = m.end()
    if pos < end and text[pos:end].strip():
        spans.append(_trim(text, pos, end))
    return spans


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b
