"""A document's date, issuer, jurisdiction and kind, read off where the text shows them.

Sources, in order of trust: the sidecar (`<file>.meta.json`, which always wins), the file name
("土地管理法(2019-08-26).md"), the header lines ("2019年8月26日第十三届全国人民代表大会常务委员会
第十二次会议…修正", "发布日期：2022-03-23"), and the title (广东省…条例, 中华人民共和国…法,
国务院令, 最高人民法院关于…的解释). What none of them shows stays "" (unknown).
"""

from __future__ import annotations

import re

from .places import Gazetteer, jurisdiction

FILE_DATE = re.compile(r"[（(](\d{4})-(\d{2})-(\d{2})[)）]")
CN_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
ISO_DATE = re.compile(
    r"(?:发布|印发|公布|成文|施行|生效)(?:日期|时间)?[：:\s]*(\d{4})[-./](\d{1,2})[-./](\d{1,2})"
)
HEADER_LINES = 12
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


def date_of(name: str, text: str) -> str:
    """YYYY-MM-DD from the file name or the header lines, else ""."""
    if m := FILE_DATE.search(name):
        return "-".join(m.groups())
    head = "\n".join(text.splitlines()[:HEADER_LINES])
    for pattern in (ISO_DATE, CN_DATE):
        if m := pattern.search(head):
            y, mo, d = m.groups()
            return f"{y}-{int(mo):02d}-{int(d):02d}"
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
FACTS = ("date", "issuer", "jurisdiction", "kind")


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
        where = "全国"  # a State Council regulation or a law names no place
    return {"date": date_of(name, text), "issuer": issuer, "jurisdiction": where, "kind": kind}


def merged(given: dict[str, str], derived: dict[str, str]) -> dict[str, str]:
    """The sidecar's values win; derived ones fill what it leaves empty. An unknown field is
    left out, never invented."""
    out = {k: v for k, v in derived.items() if v}
    out.update({k: v for k, v in given.items() if v})
    return out
