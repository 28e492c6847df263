"""What an answer says about its sources: whose rule it is, and when "今年" was.

Pure functions over a finished answer and its documents' facts (date, jurisdiction). Quotes stay
verbatim: resolved dates and whose-rule notes go before or after them, never inside.

Relative dates are resolved here with a handful of patterns rather than jionlp: jionlp's
`extract_time(time_base=…)` resolved 今年以来, 去年3月 and 今年8月底 correctly, but raised on 近日 and
本月 (both common in notices), and costs 70 MB and half a second of import for what these patterns do.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

from assistant.models import Answer, Citation
from assistant.text.places import NATIONWIDE, Jurisdictions

# Year words and their offset from the document's year; month words need the document's month.
YEARS = {"今年": 0, "本年": 0, "本年度": 0, "去年": -1, "上年": -1, "前年": -2, "明年": 1}
MONTHS = {"本月": 0, "上月": -1, "上个月": -1}
RECENT = ("近日", "日前", "近期")
RELATIVE = re.compile("|".join(sorted([*YEARS, *MONTHS, *RECENT], key=len, reverse=True)))
# A question that wants the present state of things, which an older source may not show.
NOW = re.compile(r"今年|最新|目前|现在|现行|当前|如今|最近|新规")


def resolve(word: str, date: str) -> str:
    """今年 → 2022年 against a document dated 2022(-MM-DD); "" when the date cannot tell."""
    if not date:
        return ""
    year = int(date[:4])
    if word in YEARS:
        return f"{year + YEARS[word]}年"
    if word in MONTHS and len(date) >= 7:
        month = int(date[5:7]) + MONTHS[word]
        y, m = (year, month) if month >= 1 else (year - 1, month + 12)
        return f"{y}年{m}月"
    if word in RECENT and len(date) >= 10:
        return f"{date[:4]}年{int(date[5:7])}月{int(date[8:10])}日前后"
    return ""


def date_notes(citations: Sequence[Citation]) -> list[str]:
    """One note per citation that uses relative dates: what they mean, or that it cannot tell.

    Each note ends with its citation's marker, so it reads as about that source, not as a claim.
    """
    notes = []
    for c in citations:
        words = list(dict.fromkeys(m.group() for m in RELATIVE.finditer(c.quote)))
        if not words:
            continue
        date = c.document.get("date", "")
        pairs = [(w, resolve(w, date)) for w in words]
        known = "，".join(f"“{w}”指{r}" for w, r in pairs if r)
        vague = "、".join(f"“{w}”" for w, r in pairs if not r)
        if known:
            rest = f"，{vague}无法确定" if vague else ""
            notes.append(f"（文中{known}{rest}，据文件日期{shown(date)}）[{c.number}]")
        else:
            when = f"文件日期只到{shown(date)}" if date else "文件日期不详"
            notes.append(f"（{when}，文中{vague}所指时间无法确定）[{c.number}]")
    return notes


def shown(date: str) -> str:
    """2022-06-01 → 2022年6月1日; 2022 → 2022年."""
    parts = date.split("-")
    units = ("年", "月", "日")
    return "".join(f"{int(p)}{u}" for p, u in zip(parts, units, strict=False))


def facts_line(facts: Mapping[str, str | None]) -> str:
    """Date (or 日期不详), issuer, jurisdiction: "2022年 · 平湖市自然资源和规划局 · 平湖市"."""
    date = facts.get("date")
    parts = [shown(date) if date else "日期不详", facts.get("issuer") or ""]
    parts.append(facts.get("jurisdiction") or "适用地域不详")
    if facts.get("status") == "superseded":
        parts.append("已被新版本取代")
    return " · ".join(p for p in parts if p)


def annotate(
    result: Answer,
    question: str,
    asked: Sequence[str],
    jurisdictions: Jurisdictions | None,
    facts: Mapping[str, Mapping[str, str]],
    hedge: str = "",
    today: datetime.date | None = None,
) -> Answer:
    """The answer with its sources' facts on its citations, whose rule it is, and its dates resolved.

    `result.text` is the cited sentences alone; `hedge` goes first when the answer is hedged. A
    place named in the question (`asked`) that no cited document's rule covers turns the answer
    into an abstention that says what does exist ("现有文件中只有广东省的规定：…").
    """
    for c in result.citations:
        c.document = dict(facts.get(c.document_id, {}))
    for h in result.related:
        h.document = dict(facts.get(h.chunk.document_id, {}))
    if result.abstained or not result.citations:
        return result
    places = [c.document.get("jurisdiction", "") for c in result.citations]
    lead, body = hedge, result.text
    if jurisdictions is not None and asked:
        own = [not jurisdictions.foreign(c.document_id, list(asked)) for c in result.citations]
        mine = jurisdictions.places(list(asked))
        if mine and not any(own):
            others = "、".join(dict.fromkeys(p for p in places if p)) or "其他地方"
            lead = f"现有文件中没有{mine[0].name}的规定，只有{others}的规定："
            return replace(result, text=lead + body, abstained=True, hedged=False)
        # Answered from national or a parent place's rules: say whose rule it is.
        if mine and all(p and jurisdictions.places([p])[:1] != mine[:1] for p in places):
            wider = list(dict.fromkeys(places))
            lead += "全国性规定：" if wider == [NATIONWIDE] else f"{'、'.join(wider)}的规定："
    elif jurisdictions is not None and all(
        jurisdictions.foreign(c.document_id, []) for c in result.citations
    ):
        # No place named, so it is about home; an answer only from elsewhere says whose it is.
        lead += f"{'、'.join(dict.fromkeys(p for p in places if p))}的规定（非本地）："
    dates = [c.document.get("date", "") for c in result.citations]
    year = (today or datetime.date.today()).year
    if NOW.search(question) and all(dates) and max(d[:4] for d in dates) < str(year):
        newest = max(result.citations, key=lambda c: c.document.get("date", ""))
        kind = newest.document.get("kind") or "文件"
        lead = f"据{shown(newest.document['date'])}的{kind}（现有最新资料）：" + lead
    notes = date_notes(result.citations)
    tail = "\n" + "\n".join(notes) if notes else ""
    return replace(result, text=lead + body + tail)
