"""A document's date, issuer, jurisdiction and kind, read off where the text shows them.

Sources, in order of trust: the sidecar (`<file>.meta.json`, which always wins), the file name
("土地管理法(2019-08-26).md"), the header lines ("2019年8月26日第十三届全国人民代表大会常务委员会
第十二次会议…修正", "发布日期：2022-03-23"), and the title (广东省…条例, 中华人民共和国…法,
国务院令, 最高人民法院关于…的解释). What none of them shows stays "" (unknown).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import InvalidInput
from assistant.text.places import NATIONWIDE, Gazetteer, jurisdiction

FILE_DATE = re.compile(r"[（(](\d{4})-(\d{2})-(\d{2})[)）]")
CN_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
ISO_DATE = re.compile(
    r"(?:发布|印发|公布|成文|施行|生效)(?:日期|时间)?[：:\s]*(\d{4})[-./](\d{1,2})[-./](\d{1,2})"
)
HEADER_LINES = 12
# A header that records amendments ("…通过 根据2012年12月28日…修正") dates the text by its last one.
AMENDED = re.compile(r"修正|修订|修改")
# A notice is dated by the line under its signature ("2022年4月25日"), and failing that its 文号's year.
SIGNED = re.compile(r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*$")
DOC_NUMBER = re.compile(r"[〔\[［(（](\d{4})[〕\]］)）]\s*\d+\s*号")
TAIL_LINES = 40
# Kinds as the issue names them, recognised from the title's ending or issuer.
KINDS = (
    ("司法解释", re.compile(r"^最高人民(?:法院|检察院).*(?:解释|规定)")),
    ("法律", re.compile(r"^中华人民共和国.{1,30}法$|^.{0,10}(?<!条例)法$")),
    ("地方性法规", re.compile(r"^.{2,8}?[省市州](?!场)\S{0,30}(?:条例|若干规定)$")),
    ("行政法规", re.compile(r"暂行条例$|^(?:中华人民共和国)?.{2,30}条例$|国务院令")),
    ("工作简报", re.compile(r"简报|专刊|动态")),
    ("规范性文件", re.compile(r"办法|意见|通知|规定|细则|计划|方案|指南")),
)
ISSUERS = re.compile(
    r"^(.{2,25}?(?:人民政府办公厅|人民政府办公室|人民政府|人民代表大会常务委员会|办公室|委员会|局|厅|部|院|小组))(?:关于|印发)"
)


def _ymd(m: re.Match[str]) -> str:
    y, mo, d = m.groups()
    return f"{y}-{int(mo):02d}-{int(d):02d}"


def date_of(name: str, text: str) -> str:
    """YYYY-MM-DD (or only YYYY, from a 文号) from the file name, the header, the signature, else ""."""
    if m := FILE_DATE.search(name):
        return "-".join(m.groups())
    lines = text.splitlines()
    head = "\n".join(lines[:HEADER_LINES])
    if m := ISO_DATE.search(head):
        return _ymd(m)
    dates = [_ymd(m) for m in CN_DATE.finditer(head)]
    if dates:
        return max(dates) if AMENDED.search(head) else dates[0]
    for line in reversed(lines[-TAIL_LINES:]):
        if m := SIGNED.match(line):
            return _ymd(m)
    if m := DOC_NUMBER.search(head):
        return m.group(1)
    return ""


def kind_of(title: str) -> str:
    t = re.sub(r"[（(].*?[)）]|\s", "", title)
    return next((kind for kind, pattern in KINDS if pattern.search(t)), "")


def issuer_of(title: str) -> str:
    t = re.sub(r"^[（(]转载[)）]", "", title.strip())
    if m := ISSUERS.match(t):
        return m.group(1)
    if t.startswith("中华人民共和国") and kind_of(t) == "法律":
        return "全国人民代表大会常务委员会"
    return ""


NATIONAL_KINDS = ("法律", "行政法规", "司法解释")
FACTS = ("date", "issuer", "jurisdiction", "kind", "status")
# What a citation shows of its document: the facts, and the newer version that replaces it.
SHOWN = (*FACTS, "replaced_by")
STATUSES = ("current", "superseded")


def derive(title: str, text: str, name: str, gazetteer: Gazetteer) -> dict[str, str]:
    """date, issuer, jurisdiction and kind as far as the document shows them ("" when it does not).

    A title that is only a citation code (北大法宝's 【法宝引证码】) gives way to the file name.
    """
    if not re.search(r"[\u4e00-\u9fff]{4}", re.sub(r"【.*?】", "", title)):
        title = re.sub(r"\.[A-Za-z]+$", "", name)
    issuer = issuer_of(title)
    kind = kind_of(title)
    where = jurisdiction(title, issuer, gazetteer)
    if not where and kind in NATIONAL_KINDS:
        where = NATIONWIDE  # a State Council regulation or a law names no place
    return {"date": date_of(name, text), "issuer": issuer, "jurisdiction": where, "kind": kind}


def merged(given: dict[str, str], derived: dict[str, str]) -> dict[str, str]:
    """The sidecar's values win; derived ones fill what it leaves empty. An unknown field is
    left out, never invented."""
    out = {k: v for k, v in derived.items() if v}
    out.update({k: v for k, v in given.items() if v})
    return out


# ----- versions: the same regulation loaded twice ---------------------------------------------

WORK_NOISE = re.compile(r"^中华人民共和国|[（(][^)）]*[)）]|《|》|\s|\.[A-Za-z]+$|^折叠\S*")


def work_of(title: str) -> str:
    """The regulation a title names, without the country prefix, dates and version notes."""
    return WORK_NOISE.sub("", WORK_NOISE.sub("", title))


def versions(titles: Mapping[str, str], facts: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Document id → the id of the newer version that replaces it, for documents of one work.

    Only dated versions are compared: a version of unknown date replaces nothing and is not replaced
    (a sidecar or an admin can say `status: superseded`).
    """
    by_work: dict[str, list[str]] = {}
    for doc_id, title in titles.items():
        if (work := work_of(title)) and facts.get(doc_id, {}).get("date"):
            by_work.setdefault(work, []).append(doc_id)
    out: dict[str, str] = {}
    for ids in by_work.values():
        newest = max(ids, key=lambda i: facts[i]["date"])
        for i in ids:
            if facts[i]["date"] < facts[newest]["date"]:
                out[i] = newest
    return out


# ----- edits: what an admin says about a document, kept beside the index ---------------------


# A date as documents' facts hold it: YYYY, YYYY-MM or YYYY-MM-DD.
DATE_FORM = r"\d{4}(-\d{2}(-\d{2})?)?"


def valid_date(value: str) -> bool:
    """YYYY, YYYY-MM or YYYY-MM-DD naming a real month and day."""
    if not re.fullmatch(DATE_FORM, value):
        return False
    full = value + "-01" * (2 - value.count("-"))
    try:
        datetime.date.fromisoformat(full)
    except ValueError:
        return False
    return True


def check_edit(edit: Mapping[str, str | None]) -> dict[str, str | None]:
    """A metadata edit with only known keys and well-formed values (None or "" clears a value)."""
    out: dict[str, str | None] = {}
    for key, value in edit.items():
        if key not in FACTS:
            raise InvalidInput(f"{key}: not a document fact (one of {', '.join(FACTS)})")
        value = (value or "").strip() or None
        if value and key == "date" and not valid_date(value):
            raise InvalidInput("date: YYYY, YYYY-MM or YYYY-MM-DD (a real month and day)")
        if value and key == "status" and value not in STATUSES:
            raise InvalidInput(f"status: one of {', '.join(STATUSES)}")
        if value and len(value) > 100:
            raise InvalidInput(f"{key}: at most 100 characters")
        out[key] = value
    return out


@dataclass
class Edits:
    """Admins' corrections to documents' facts, one JSON file in the index folder.

    They outlive re-ingesting the document (the file's sidecar and text only fill what no edit
    says) and are re-read when another worker changes the file.
    """

    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _seen: tuple[float, dict[str, dict[str, str]]] = (-1.0, {})

    @property
    def version(self) -> float:
        try:
            return self.path.stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def all(self) -> dict[str, dict[str, str]]:
        stamp = self.version
        if stamp != self._seen[0]:
            data = json.loads(self.path.read_text(encoding="utf-8")) if stamp else {}
            self._seen = (stamp, data)
        return self._seen[1]

    def update(self, doc_id: str, edit: Mapping[str, str | None]) -> dict[str, str]:
        """Apply an edit (a None value clears that key); returns the document's edits."""
        with self._lock:
            data = {k: dict(v) for k, v in self.all().items()}
            mine = data.setdefault(doc_id, {})
            for key, value in check_edit(edit).items():
                if value is None:
                    mine.pop(key, None)
                else:
                    mine[key] = value
            if not mine:
                data.pop(doc_id)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)  # readers never see half a file
            return dict(data.get(doc_id, {}))


# ----- filters by what a document is --------------------------------------------------------


@dataclass
class DocumentFilter:
    """Which documents a search or an answer may use: by jurisdiction, kind, date range, status.

    Jurisdictions match their own places too (浙江省 takes 平湖市's documents); dates compare as
    text, so "2020" ≤ "2020-05-01" ≤ "2020-12"; a document of unknown date fails a date bound.
    """

    jurisdictions: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    date_from: str = ""
    date_to: str = ""
    status: str = ""  # "", "current" or "superseded"

    def __bool__(self) -> bool:
        return bool(
            self.jurisdictions or self.kinds or self.date_from or self.date_to or self.status
        )

    def matches(self, facts: Mapping[str, str], gazetteer: Gazetteer) -> bool:
        date = facts.get("date", "")
        if self.kinds and facts.get("kind", "") not in self.kinds:
            return False
        if self.status and facts.get("status", "current") != self.status:
            return False
        if self.date_from and not (date and date[: len(self.date_from)] >= self.date_from):
            return False
        if self.date_to and not (date and date[: len(self.date_to)] <= self.date_to):
            return False
        return not self.jurisdictions or any(
            _within(facts.get("jurisdiction", ""), j, gazetteer) for j in self.jurisdictions
        )


def _within(where: str, wanted: str, gazetteer: Gazetteer) -> bool:
    if not where:
        return False
    if where == wanted or NATIONWIDE in (wanted, where):
        return where == wanted
    inner, outer = gazetteer.find(where)[:1], gazetteer.find(wanted)[:1]
    return bool(inner and outer and gazetteer.within(inner[0], outer[0]))
