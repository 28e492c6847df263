"""Finding the cases a document tells: subjects, places, dates, measures and figures (see the
package's docstring for the rules)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from assistant.answer.provenance import resolve
from assistant.precedents.cards import (
    DateMention,
    Measure,
    MeasureTable,
    Precedent,
    Section,
    Subject,
)
from assistant.text.analyzer import Analyzer
from assistant.text.places import Gazetteer
from assistant.text.structure import sentences
from assistant.text.zh import CN_NUM, cn_number

# ----------------------------------------------------------------------------- subjects ------

PROJECT_END = ("项目", "工程", "工厂", "公园")
ORG_END = ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司")
# A name never starts across one of these words (建设日本电产…项目: the name starts after 建设).
BOUNDARY_WORDS = frozenset(
    """的 之 了 着 与 和 及 或 并 对 由 在 为 是 把 被 向 从 自 于 将 以 经过 通过 其中 正是 作为 包括 涉及
    建设 投资 建立 完成 促成 实施 推进 开工 投产 签约 落户 引进 引导 保障 供应 提供 支持 服务 加快 启动
    开展 落实 批复 同意 入选 列入 获批 成为 实现 带动 拉开 打造 布局 携手 合作 共建 新建 扩建 改建 续建
    已 已经 正在 再度 全面 积极 加快 进一步 持续 不断 切实 同时 目前 眼下 近日
    最大 首个 首家 一批 一家 该 这 这个 此 其 各 各类 全市 全省 我市 我县 我区 本市 市 县 区 省 利用 深知""".split()
)
BOUNDARY_TAGS = ("x", "w", "uj", "ul", "uz", "ug", "uv", "p", "c", "r", "m", "q", "ad")
PROPER_TAGS = ("ns", "nr", "nrt", "nz", "nt", "eng")
PREPOSITIONS = frozenset(
    "由 对 在 为 与 和 自 从 向 于 将 把 被 以 通过 经过 按照 根据 围绕".split()
)
PHASE = re.compile(rf"[{CN_NUM}\d]+期")
COUNT = re.compile(rf"([{CN_NUM}\d]+)个$")
GENERIC = re.compile(
    r"^(?:省级|市级|县级|国家级)?(?:重大|重点|产业|外资|内资|民生|基础设施|建设|工业|招商|"
    r"新建|在建|续建|相关|其他|各类|部分|一批|全资|子|母|控股)*(?:项目|工程|工厂|公园|公司|集团|有限公司)$"
)
LEADING = re.compile(r"^[自由在对与和为从经将把向于]")
# Headlines that report an event: its subject is the case's subject.
EVENT = re.compile(
    r"首笔|首单|首宗|首个|首家|首批|获评|荣获|通过[^，。]{0,8}验收|成功落地|顺利落地|创[^，。]{0,4}新高|正式开工|正式投产|签约落地"
)
# A case is told as done (or under way); a rule says what shall be done (对…给予奖补, 应当…).
DONE = re.compile(
    r"已|完成|成功|开工|投产|签约|获评|荣获|验收|落地|落户|累计|截至|正在|眼下|近日|今年以来|去年|创下|获批|批复"
)
HOME = re.compile(r"^(?:我市|我县|我区|全市|本市)")
# Where a headline's predicate begins: its subject is what comes before.
PREDICATE = re.compile(
    r"(?:成功|顺利)?落地|通过[^，。]{0,8}验收|获评|荣获|创[^，。]{0,4}新高|正式开工|正式投产|签约"
)

# ----------------------------------------------------------------------------- places --------

LOCAL_END = ("经济开发区", "开发区", "高新区", "街道", "镇", "乡", "园区")
LOCAL_TAGS = ("ns", "n", "ng", "g", "j", "nr", "nz")
NOT_LOCAL = frozenset("各 全 多 个 等 镇 乡 街道 该 本 我 小城 城 示范".split())

# ----------------------------------------------------------------------------- dates ---------

ABS_DATE = re.compile(
    r"(?<!\d)(\d{4})\s*年(?:\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?)?(?!度|\d|代)"
)
REL_DATE = re.compile(
    rf"(今年|本年|去年|上年|前年|明年)(?:([\d{CN_NUM}]{{1,3}})月(?:(\d{{1,2}})日)?)?"
)
MONTH_DAY = re.compile(r"(?<![\d年])(\d{1,2})月(?:(\d{1,2})日|份)")
NOW_WORDS = re.compile(r"近日|日前|近期|眼下|目前")
SINCE = re.compile(r"^\s*(?:以来|至今|起)")

# ----------------------------------------------------------------------------- figures -------

FIGURE = re.compile(
    r"(?<![\d.])\d+(?:[.,]\d+)*\s*(?:亿|万)?(?:万平方米|平方米|平方千米|平方公里|公顷|万亩|亩|亿美元|万美元|亿元|万元|元|"
    r"万吨|吨|公里|千米|%|％|宗|个批次|批次|个单位|单位|个工作日|个月|个|家|户|套|项|件|人|天)"
)

# ----------------------------------------------------------------------------- measures ------

QUOTED = re.compile(
    r"(?:采取|采用|实行|推行|实施|建立|建成|开辟|通过|开展|推出|探索|创新|首创|率先推出|深化|完善|形成)"
    r"(?:了|以)?[^，。；“”]{0,6}?“([^”]{2,16})”"
)
MEASURE_END = ("制", "机制", "制度", "模式", "通道", "服务", "方式", "平台", "清单", "专班", "协作")


@dataclass
class _Case:
    section: Section
    subject: Subject | None
    headline: str
    paragraphs: list[tuple[int, int]] = field(default_factory=list)
    parties: list[str] = field(default_factory=list)


class Extractor:
    """Finds cases in documents; build once (the tokenizer and the tables load in a second)."""

    def __init__(
        self,
        analyzer: Analyzer,
        gazetteer: Gazetteer | None = None,
        table: MeasureTable | None = None,
    ) -> None:
        self.tok = analyzer.pos
        self.gazetteer = gazetteer or Gazetteer.load()
        self.table = table or MeasureTable.load()

    # ------------------------------------------------------------------ pieces --------------

    def words(self, text: str) -> list[tuple[str, str, int]]:
        """(word, tag, offset) of `text`, with jieba's part-of-speech tags."""
        out, pos = [], 0
        for p in self.tok.cut(text):
            out.append((p.word, p.flag, pos))
            pos += len(p.word)
        return out

    def subjects(self, text: str, offset: int = 0) -> list[Subject]:
        """Enterprise and project names in `text` (offsets shifted by `offset`)."""
        words = self.words(text)
        out: list[Subject] = []
        for i, (word, _tag, at) in enumerate(words):
            nxt = words[i + 1][0] if i + 1 < len(words) else ""
            if word.endswith(PROJECT_END) and not nxt.endswith(PROJECT_END):
                kind = "project"
            elif word.endswith(ORG_END) and word not in ("子公司", "分公司", "总公司"):
                kind = "enterprise"
            else:
                continue
            j = self._name_start(words, i)
            start, end = words[j][2], at + len(word)
            core = text[start:end]
            if LEADING.match(core) and len(core) > 3:
                core, start = core[1:], start + 1
            # A count before the name belongs to it and makes it concrete: 8个建设用地复垦项目.
            counted = j >= 2 and words[j - 1][0] == "个" and words[j - 2][1] == "m"
            if counted:
                start = words[j - 2][2]
            inner = words[j : i + 1]
            tags = [t for _, t, _ in inner]
            # A person-name tag alone is weak evidence (jieba tags 拓宽 nr): it needs 5 characters.
            proper = (
                any(t.startswith(PROPER_TAGS) and t != "nr" for t in tags)
                or ("nr" in tags and len(core) >= 5)
                or PHASE.search(core)
            )
            if GENERIC.match(core) or len(core) < 4 or not (proper or counted or len(core) >= 10):
                continue
            name = text[start:end]
            new = Subject(name, kind, offset + start, offset + end)
            # Of two overlapping names the longer wins (九龙山国家森林公园 → …公园景观提升工程).
            if any(s.start <= new.start and new.end <= s.end for s in out):
                continue
            out = [s for s in out if not (new.start <= s.start and s.end <= new.end)]
            out.append(new)
        return out

    @staticmethod
    def _name_start(words: Sequence[tuple[str, str, int]], i: int) -> int:
        """Index of the first word of the name ending at word i: walk left to a boundary."""
        j = i
        while j > 0:
            w, t, _ = words[j - 1]
            if w in BOUNDARY_WORDS or w.endswith(ORG_END) or w in ("项目", "工程"):
                break
            if t == "q" and j >= 3 and words[j - 2][1] == "m" and words[j - 3][1].startswith("ns"):
                j -= 2  # a length inside a name, after its place: 白沙湾4.5公里海岸线…工程
                continue
            if t.startswith(BOUNDARY_TAGS) and (t[0] != "p" or w in PREPOSITIONS):
                break
            if t == "v" and len(w) >= 2:
                # A verb inside a name joins two nouns (景观提升工程); one before a name ends it.
                before = words[j - 2][1] if j >= 2 else "x"
                after = words[j][1]
                if not before.startswith("n") or after.startswith(PROPER_TAGS):
                    break
            j -= 1
        return j

    def event_subject(self, headline: str, home: str = "") -> str:
        """The subject of a headline that reports an event ("" when it reports none).

        A named project or enterprise if the headline has one; else the headline up to its event
        verb (我市首笔二手房“带押过户”业务成功落地 → 首笔二手房“带押过户”业务); else, when the
        actor is the place itself (我市获评…), the headline with 我市 read as the document's place.
        """
        m = EVENT.search(headline)
        if not m:
            return ""
        named = self.subjects(headline)
        if named:
            return named[0].name
        cut = PREDICATE.search(headline)
        head = headline[: cut.start()] if cut else headline
        head = HOME.sub("", head).strip(" ，,、")
        if len(head) >= 2:
            return head
        return HOME.sub(home, headline.strip(), count=1) if home else headline.strip()

    def local_places(self, text: str) -> list[str]:
        """Towns, streets and development zones: 钟埭街道, 林埭镇, 独山港经济开发区."""
        words = self.words(text)
        out: list[str] = []
        for i, (word, _tag, at) in enumerate(words):
            if not word.endswith(LOCAL_END) or word in ("子公司",):
                continue
            j = i
            while j > 0 and i - j < 3:
                w, t, _ = words[j - 1]
                if (
                    w in BOUNDARY_WORDS
                    or w in NOT_LOCAL
                    or not (t.startswith(LOCAL_TAGS) or (t == "a" and len(w) == 1))
                ):
                    break
                j -= 1
            name = text[words[j][2] : at + len(word)]
            core = name[: -len(next(e for e in LOCAL_END if name.endswith(e)))]
            if (
                (j == i and word in LOCAL_END)
                or not core
                or core in NOT_LOCAL
                or core.endswith(LOCAL_END)
            ):
                continue
            if name not in out:
                out.append(name)
        return out

    def admin_places(self, text: str) -> list[str]:
        """Counties and cities of the gazetteer named in `text`, where a name is a whole word
        (示范县 does not name 范县, 白沙湾 not 沙湾区)."""
        starts = {at for _, _, at in self.words(text)}
        out = []
        for place in self.gazetteer.find(text):
            for name in (place.name, place.short):
                at = text.find(name)
                while at >= 0 and at not in starts:
                    at = text.find(name, at + 1)
                if at >= 0:
                    if place.level != "province" and place.name not in out:
                        out.append(place.name)
                    break
        return out

    def places(self, text: str, jurisdiction: str) -> list[str]:
        """Places of a case, most local first: towns and zones, then the document's own place
        (what 我市 means) and the places in it, then other places the text names."""
        local = self.local_places(text)
        admin = self.admin_places(text)
        home = self.gazetteer.find(jurisdiction) if jurisdiction else []
        inside = [
            p
            for p in admin
            if home and any(self.gazetteer.within(q, home[0]) for q in self.gazetteer.find(p))
        ]
        others = [p for p in admin if p not in inside]
        ordered = [*local, *inside, *([jurisdiction] if jurisdiction else []), *others]
        return list(dict.fromkeys(ordered))

    def measures(self, text: str, offset: int = 0) -> list[Measure]:
        """The named and quoted measures `text` tells of, first mention first, each once."""
        found: list[Measure] = []
        for name, pattern in self.table.entries:
            m = pattern.search(text)
            if m:
                found.append(Measure(name, m.group(), offset + m.start(), offset + m.end()))
        for m in QUOTED.finditer(text):
            quoted = m.group(1)
            after = text[m.end() : m.end() + 3].lstrip("的")
            tail = next((w for w in MEASURE_END if after.startswith(w)), "")
            if not (tail or self._is_measure(quoted)):
                continue
            if any(f.start <= offset + m.start(1) < f.end or quoted in f.text for f in found):
                continue
            if any(p.search(quoted) for _, p in self.table.entries):
                continue
            name = quoted if quoted.endswith(MEASURE_END) else quoted + tail
            found.append(Measure(name, quoted, offset + m.start(1), offset + m.end(1), "quoted"))
        found.sort(key=lambda x: x.start)
        return list({x.name: x for x in reversed(found)}.values())[::-1]

    def _is_measure(self, quoted: str) -> bool:
        """A quote names a measure when it ends like one (承诺制, 绿色通道) or holds a verb."""
        if quoted.endswith(MEASURE_END):
            return True
        items = re.split(r"[、，,]", quoted)
        if len(items) >= 3 and all(len(x) <= 4 for x in items):
            return False  # a list of qualities (全方位、全时段、立体化), not a measure
        words = self.words(quoted)
        verbs = [w for w, t, _ in words if t.startswith("v") and t != "vn"]
        nouns = [w for w, t, _ in words if t.startswith(("n", "vn"))]
        return bool(verbs) and bool(nouns) and len(words) >= 2

    # ------------------------------------------------------------------ dates and figures -----

    def dates(self, text: str, doc_date: str, offset: int = 0) -> list[DateMention]:
        """Date mentions of `text`, resolved against the document's date, in order."""
        out: list[DateMention] = []
        taken: list[tuple[int, int]] = []

        def add(m: re.Match[str], date: str, resolved: bool) -> None:
            if any(a <= m.start() < b for a, b in taken):
                return
            taken.append((m.start(), m.end()))
            out.append(DateMention(m.group(), date, offset + m.start(), resolved))

        for m in ABS_DATE.finditer(text):
            since = SINCE.match(text, m.end()) or (m.start() > 0 and text[m.start() - 1] in "自从")
            if since or not 1900 <= int(m.group(1)) <= 2100:
                continue  # 自2013年…以来 is a period, not the date of an event
            add(m, _ymd(m.group(1), m.group(2), m.group(3)), False)
        for m in REL_DATE.finditer(text):
            year = resolve(m.group(1), doc_date)
            month = _month(m.group(2))
            add(m, _ymd(year[:4], month, m.group(3)) if year else "", True)
        for m in MONTH_DAY.finditer(text):
            year = doc_date[:4]
            add(m, _ymd(year, m.group(1), m.group(2)) if year else "", True)
        for m in NOW_WORDS.finditer(text):
            add(m, doc_date[:4], True)
        out.sort(key=lambda d: d.start)
        return out

    @staticmethod
    def figures(text: str) -> list[str]:
        return list(dict.fromkeys(m.group().replace(" ", "") for m in FIGURE.finditer(text)))

    # ------------------------------------------------------------------ cases ---------------

    def extract(
        self,
        document_id: str,
        title: str,
        text: str,
        sections: Sequence[Section],
        facts: dict[str, str] | None = None,
    ) -> list[Precedent]:
        """The cases a document tells, in document order."""
        facts = facts or {}
        cases: list[_Case] = []
        for section in sections:
            cases.extend(self._cases(text, section, facts.get("jurisdiction", "")))
        cards = []
        for case in cases:
            card = self._card(document_id, title, text, case, facts)
            if card is not None:
                cards.append(card)
        return cards

    def _cases(self, text: str, section: Section, home: str = "") -> list[_Case]:
        headline = section.heading[-1] if section.heading else ""
        body_start = section.heading_end if section.heading_end > 0 else section.start
        cases: list[_Case] = []
        loose: list[tuple[int, int]] = []
        for a, b in paragraphs(text, body_start, section.end):
            named = [s for s in self.subjects(text[a:b], a)]
            if not named:
                loose.append((a, b))
                continue
            last = cases[-1] if cases else None
            if (
                last is not None
                and last.subject is not None
                and any(_same(s.name, last.subject.name) or s.name in last.parties for s in named)
            ):
                last.paragraphs.append((a, b))
                last.parties.extend(
                    s.name
                    for s in named
                    if s.name != last.subject.name and s.name not in last.parties
                )
                continue
            main = next((s for s in named if s.kind == "project"), named[0])
            case = _Case(section, main, headline, [(a, b)])
            case.parties = [
                s.name for s in named if s.name != main.name and not _same(s.name, main.name)
            ]
            cases.append(case)
        event = self.event_subject(headline, home) if headline else ""
        if event and loose and not any(_same(event, c.subject.name) for c in cases if c.subject):
            s = Subject(event, "event", section.start, section.start)
            cases.insert(0, _Case(section, s, headline, loose))
        elif event and loose:
            for c in cases:
                if c.subject and _same(event, c.subject.name):
                    c.paragraphs = sorted({*c.paragraphs, *loose})
        return cases

    def _card(
        self, document_id: str, title: str, text: str, case: _Case, facts: dict[str, str]
    ) -> Precedent | None:
        subject = case.subject
        if subject is None or not case.paragraphs:
            return None
        start, end = case.paragraphs[0][0], case.paragraphs[-1][1]
        measures: list[Measure] = []
        figures: list[str] = []
        dates: list[DateMention] = []
        doc_date = facts.get("date", "")
        for a, b in case.paragraphs:
            measures.extend(self.measures(text[a:b], a))
            figures.extend(self.figures(text[a:b]))
            dates.extend(self.dates(text[a:b], doc_date, a))
        measures = list({m.name: m for m in reversed(measures)}.values())[::-1]
        figures = list(dict.fromkeys(figures))
        if not measures or not (figures or dates):
            return None
        if not any(DONE.search(text[a:b]) for a, b in case.paragraphs):
            return None
        spans = [s for a, b in case.paragraphs for s in sentences(text, a, b)]
        # The date of the case: the first one in the sentence naming the subject, else the first.
        own = (
            next((s for s in spans if s[0] <= subject.start < s[1]), None)
            if subject.kind != "event"
            else None
        )
        dated = [d for d in dates if d.date and own and own[0] <= d.start < own[1]] or [
            d for d in dates if d.date
        ]
        when = dated[0] if dated else None
        quote = _key_sentence(text, spans, measures, figures, subject.name)
        body = "".join(text[a:b] for a, b in case.paragraphs)
        places = self.places(body, facts.get("jurisdiction", ""))
        return Precedent(
            id=f"{document_id}:{start}",
            document_id=document_id,
            title=title,
            heading=list(case.section.heading),
            headline=case.headline,
            subject=subject.name,
            subject_kind=subject.kind,
            parties=_distinct([p for p in case.parties if not _same(p, subject.name)])[:6],
            place=places[0] if places else "",
            places=places,
            date=when.date if when else "",
            date_text=when.text if when else "",
            date_resolved=when.resolved if when else False,
            measures=measures,
            figures=figures[:10],
            start=start,
            end=end,
            quote=text[quote[0] : quote[1]],
            quote_start=quote[0],
            quote_end=quote[1],
        )


def paragraphs(text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    """[a, b) of each non-blank line of text[start:end]."""
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        a, b = pos, stop
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            yield a, b
        pos = stop + 1


def _distinct(names: Sequence[str]) -> list[str]:
    """Names with later spellings of an earlier one left out (凤鸣集团 after 新凤鸣集团)."""
    out: list[str] = []
    for n in names:
        if not any(_same(n, o) for o in out):
            out.append(n)
    return out


def _same(a: str, b: str) -> bool:
    """Two names of one subject: one holds the other, or they share most character pairs."""
    if a in b or b in a:
        return True
    pa, pb = _pairs(a), _pairs(b)
    return bool(pa and pb) and len(pa & pb) / min(len(pa), len(pb)) >= 0.6


def _pairs(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)}


def _key_sentence(
    text: str,
    spans: Sequence[tuple[int, int]],
    measures: Sequence[Measure],
    figures: Sequence[str],
    subject: str = "",
) -> tuple[int, int]:
    """The sentence telling most of the case: naming the subject counts 3, each measure 2, each
    figure 1; the first on ties."""
    best, score = spans[0], -1
    for a, b in spans:
        s = text[a:b]
        n = 2 * sum(a <= m.start < b for m in measures) + sum(f in s for f in figures)
        n += 3 if subject and subject in s else 0
        if n > score:
            best, score = (a, b), n
    return best


def _month(word: str | None) -> str | None:
    if not word:
        return None
    if word.isdigit():
        return word
    n = cn_number(word)
    return str(n) if n else None


def _ymd(year: str, month: str | None = None, day: str | None = None) -> str:
    if not year:
        return ""
    if not month or not 1 <= int(month) <= 12:
        return year
    if not day or not 1 <= int(day) <= 31:
        return f"{year}-{int(month):02d}"
    return f"{year}-{int(month):02d}-{int(day):02d}"
