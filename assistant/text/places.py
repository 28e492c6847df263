"""China's administrative places as a hierarchy: 平湖 is in 嘉兴, which is in 浙江; 嘉定 is in 上海.

The data is cpca's table of administrative codes (3,500 provinces, cities and counties with their
12-digit codes; the code's prefix is the parent). cpca's own module needs `pkg_resources`, which
current setuptools no longer ships, so only its data file is read, from where pip put it.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

# Suffixes that are dropped for the short name people use (浙江省 → 浙江, 阿坝藏族羌族自治州 → 阿坝).
SUFFIX = re.compile(r"(?:自治[州县旗区]|特别行政区|自治区|省|市|地区|盟|县|区|旗)$")
PEOPLE = (
    "维吾尔",
    "维吾尔族",
    "蒙古族",
    "布依族",
    "土家族",
    "傈僳族",
    "哈尼族",
    "哈萨克族",
    "柯尔克孜族",
)


def short_name(name: str) -> str:
    """浙江省 → 浙江, 广西壮族自治区 → 广西, 阿坝藏族羌族自治州 → 阿坝 (never under two characters)."""
    short = SUFFIX.sub("", name)
    while True:  # the peoples named before 自治州: 藏族羌族, 苗族侗族 …
        cut = next((p for p in PEOPLE if short.endswith(p)), "")
        if not cut and short.endswith("族") and len(short) >= 4:
            cut = short[-2:]
        if not cut or len(short) - len(cut) < 2:
            break
        short = short[: -len(cut)]
    return short if len(short) >= 2 else name


# Everyday words that are also county names: never read as places (朝阳 sun, 江山 land …).
AMBIGUOUS = frozenset(
    "朝阳 江山 长兴 天台 城区 郊区 矿区 新区 东区 西区 南区 北区 中山 普陀 开发".split()
)
EXTENDERS = set("湾港岛山湖江河路街桥塘浦")
# A district's short name is also an everyday word when jieba's general dictionary tags it as one
# (合作 vn, 和平 nz, 解放 v) or counts it more often than any district people name by its short
# form (新建 1000, 路桥 698 against 嘉定 196, 沙湾 287, 安宁 502): then only its full name counts.
PLACE_TAGS = ("ns", "nr", "nrt")
COMMON_WORD_FREQ = 600
NATIONWIDE = "全国"  # the jurisdiction of a national law or regulation
NATIONAL_ISSUER = re.compile(
    r"^中华人民共和国|全国人民代表大会|国务院|最高人民法院|最高人民检察院|^国家"
)


@dataclass(frozen=True)
class Place:
    """One administrative place: its code, full name, short name and level."""

    code: str
    name: str
    short: str

    @property
    def level(self) -> str:
        if self.code[2:] == "0" * 10:
            return "province"
        return "city" if self.code[4:] == "0" * 8 else "county"

    @property
    def parent_codes(self) -> tuple[str, ...]:
        """The codes of the city and province above it."""
        city, province = self.code[:4] + "0" * 8, self.code[:2] + "0" * 10
        return tuple(c for c in (city, province) if c != self.code)


def everyday(words: set[str]) -> set[str]:
    """Those of `words` that jieba's general dictionary knows as common words, not places or names."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        return set()
    out = set()
    # Read the dictionary file itself: initialising jieba's default tokenizer for this costs seconds.
    with (Path(spec.origin).parent / "dict.txt").open(encoding="utf-8") as fh:
        for line in fh:
            word, _, rest = line.partition(" ")
            if word in words:
                freq, _, tag = rest.strip().partition(" ")
                if tag not in PLACE_TAGS or int(freq) >= COMMON_WORD_FREQ:
                    out.add(word)
    return out


def _data_file() -> Path | None:
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"
    return path if path.exists() else None


class Gazetteer:
    """Finds places in text and answers whether one lies within another."""

    def __init__(self, places: list[Place]) -> None:
        self.by_code = {p.code: p for p in places}
        names: dict[str, Place] = {}
        rank = {"province": 0, "city": 1, "county": 2}
        common = everyday({p.short for p in places if p.level == "county"})
        # Higher levels first: a short name shared by a prefecture and a county is the prefecture.
        for p in sorted(places, key=lambda p: (rank[p.level], p.code)):
            for n in self._names(p):
                if len(n) < 2 or n in AMBIGUOUS:
                    continue
                if p.level == "county" and n == p.short and n in common:
                    continue
                names.setdefault(n, p)
        self.by_name = names

    @staticmethod
    def _names(p: Place) -> list[str]:
        """How people name a place: 浙江省/浙江, 阿坝州/阿坝, 平湖市/平湖, 嘉定区/嘉定; a 县 or 旗
        only by its full name (资源县 is not 资源, 共和县 not 共和)."""
        out = [p.name]
        if p.level != "county" or p.name.endswith(("市", "区")):
            out.append(p.short)
        if "自治州" in p.name:
            out.append(p.short + "州")
        return out

    @classmethod
    def load(cls, path: Path | None = None) -> Gazetteer:
        path = path or _data_file()
        places = []
        if path is not None:
            with path.open(encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    code, name = row["adcode"], row["name"]
                    places.append(Place(code, name, short_name(name)))
        return cls(places)

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        names = sorted(self.by_name, key=len, reverse=True)
        return re.compile("|".join(map(re.escape, names))) if names else re.compile(r"(?!)")

    def find(self, text: str) -> list[Place]:
        """Places named in `text`, first mention first (longest names win: 平湖市 over 平湖)."""
        out: list[Place] = []
        for m in self._pattern.finditer(text):
            if m.end() < len(text) and text[m.end()] in EXTENDERS:
                continue  # 杭州湾 is a bay, 平湖路 a street: not the place itself
            p = self.by_name[m.group()]
            if p not in out:
                out.append(p)
        return out

    def within(self, place: Place, area: Place) -> bool:
        """`place` is `area` or lies inside it (平湖 within 嘉兴 and 浙江)."""
        return place.code == area.code or area.code in place.parent_codes

    def lineage(self, place: Place) -> list[Place]:
        """The place and the places above it, nearest first."""
        return [place, *(self.by_code[c] for c in place.parent_codes if c in self.by_code)]


def jurisdiction(title: str, issuer: str, gazetteer: Gazetteer) -> str:
    """全国 for a national law or body, else the first place the title or issuer names, else ""."""
    head = f"{title} {issuer}".strip()
    if NATIONAL_ISSUER.search(title) or NATIONAL_ISSUER.search(issuer):
        return NATIONWIDE
    found = gazetteer.find(head)
    return found[0].name if found else ""


@dataclass
class Jurisdictions:
    """Whose rule each document is, and whether it may answer a question about some place.

    `by_document` maps a document id to 全国, a place's full name, or "" (unknown); `home` is the
    customer's own place, which a question that names no place is about.
    """

    gazetteer: Gazetteer
    by_document: dict[str, str]
    home: str = ""
    # Each document's facts (date, issuer, jurisdiction, kind, status), for what answers say.
    facts: dict[str, dict[str, str]] = field(default_factory=dict)

    def places(self, names: list[str]) -> list[Place]:
        """The places these words name; a word only names a place it begins with (白沙湾 is a
        bay, not 沙湾区; 九龙山 a hill, not 龙山区)."""
        return [
            p
            for n in names
            if n != NATIONWIDE
            for p in self.gazetteer.find(n)[:1]
            if n.startswith((p.name, p.short))
        ]

    def foreign(self, document_id: str, asked: list[str]) -> bool:
        """The document is the rule of a place other than the one asked about (or, when none is
        named, other than home): another province's regulation never answers for this one."""
        where = self.by_document.get(document_id, "")
        if where in ("", NATIONWIDE):
            return False
        found = self.gazetteer.find(where)
        if not found:
            return False
        doc = found[0]
        targets = self.places(asked) or self.places([self.home] if self.home else [])
        if not targets:
            return False
        # Compatible when the document's place contains the asked place or lies within it.
        return not any(
            self.gazetteer.within(t, doc) or self.gazetteer.within(doc, t) for t in targets
        )
