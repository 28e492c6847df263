"""What a question asks: its content terms, the figures and names it pins down, the kind of answer.

Everything here is a pure function of the question text (plus the jieba dictionary and the
synonym table), so answer selection and abstention can be unit-tested without an index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jieba.posseg

from .tokenize import NUMBER_RE, STOPWORDS, SynonymTable, _tokenizer, normalise

# Words that frame a question rather than name what it is about (generic nouns, verbs and
# adverbs of everyday questions). They are never required to appear in the evidence.
FRAME_WORDS = frozenset(
    """东西 地方 方面 情况 办法 方式 做法 措施 处理 步骤 流程 例子 先例 案例 事例 问题 里面 里头 以后 之后
    以前 之前 最近 近期 起来 出来 下来 别的 其他 其它 还有 另外 现在 当前 时候 一共 总共 合计 大概 大约 左右
    多大 多长 多久 多高 多远 哪天 哪一天 哪年 哪一年 第几 几个 几家 几项 几种 几次 几批 怎么样 怎么 怎样
    如何 特别 具体 一般 通常 普遍 直接 别人 自己 那边 这边 这回 这次 那次 那批 这批 那段 这段 那种 这种 各是
    还是 相比 比较 为了 期间 已经 一直 哪里 哪儿 哪 什么 哪些 哪个 哪家 多少 是否 有没有 能否 能不能 可不可以
    最多 最少 最高 最低 最大 最小 最 更 更高 更多 更大 更少 更低 多 少 大 小 高 低 吗 呢 去 到 能 会 想
    该 但 交 做 拿 拿到 看 开 走 用 花 投 放 等 算 完全 不能 可以 因为 的话 麻烦 省里 市里 局里 县里 镇里
    村里 政府 有关部门 部门 平时 主要 重点 要求 有关 相关 一些 这样 那样 这么 那么 为什么 为啥 咋 啥 干什么
    干嘛 哪方面 怎么办 如何办 办理 了解 介绍 说说 讲讲 问问 请问 一下 下 结果 效果 成果 成效 工作""".split()
)
# Generic wording of statistics in questions → how reports put it (sentence scoring only).
GENERIC_PHRASES: list[tuple[str, list[str]]] = [
    ("比去年", ["同比", "上年"]),
    ("较去年", ["同比", "上年"]),
    ("跟去年比", ["同比", "上年"]),
    ("与去年相比", ["同比", "上年"]),
    ("涨了", ["提高", "增长", "增加"]),
    ("多了", ["提高", "增长", "增加"]),
    ("品种", ["物种", "种类"]),
    ("多少钱", ["投资", "金额"]),
    ("花了", ["投资", "总投资"]),
]
EXPANSION_WEIGHT = 0.6
PART_CONTEXT = 0.35
CLAUSE = re.compile(r"[?？;；,，。!！()（）]+")
QUESTION_WORD = re.compile(r"什么|多少|几|哪|怎么|如何|怎样|吗|呢|是否|有没有|能否|谁|何时|多大|多长|多久|高还是低")
CONJUNCTION = re.compile(r"(?:和|与|跟|以及|及|、)(?![的])")
# Question words whose next noun is what is asked for (the "focus").
NOMINAL_WH = frozenset("什么 哪些 哪个 哪家 哪种 多少 几 几个 几家 几项 几种".split())
# Part-of-speech tags of function words (jieba's tag set): never content terms.
FUNCTION_TAGS = ("u", "p", "c", "y", "o", "r", "d", "q", "f", "x", "w", "zg")
FUNCTION_EXACT = frozenset({"e"})  # interjections ("eng", English words, stays content)
PURE = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9.%]+$")
DIGIT = re.compile(r"\d")

# What kind of figure a question asks for, and what such a figure looks like in a passage.
ANSWER_TYPES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "money": (
        re.compile(r"多少钱|价格|价钱|费用|手续费|收费|金额|罚款|罚多少|多少元|花了多少|投了多少|投资多少|投资多大|投资更|投资额|投资规模|投入多少|收入|产值|营业额|利润|贷多少|能贷"),
        re.compile(r"\d[\d.,]*多?(?:亿|万|千)?(?:元|美元|欧元|块)"),
    ),
    "duration": (
        re.compile(r"多少天|几天|多久|多长时间|工作日|几个月|多少个月|几年|多少年|期限|时限|时长"),
        re.compile(r"\d+多?(?:个)?(?:天|个月|个工作日|工作日|年|小时|周)"),
    ),
    "date": (
        re.compile(r"哪天|哪一天|什么时候|何时|哪一年|哪年|几月|几号|什么时间"),
        re.compile(r"\d+(?:年|月|日)|[今去明前]年|近日|目前"),
    ),
    "percent": (
        re.compile(r"比例|比率|占比|百分之|百分比|[完开竣成利增]\w?率|多少个?百分点"),
        re.compile(r"\d[\d.]*\s*[%％‰]|百分之"),
    ),
    "rank": (
        re.compile(r"第几|排名|排第|名次|排在"),
        re.compile(r"第[一二三四五六七八九十\d]+"),
    ),
    "area": (
        re.compile(r"面积|占地|多少亩|多少地|用地规模|多少平方|多少公顷|(?<!投资)有多大"),
        re.compile(r"\d[\d.]*多?(?:亩|平方|公顷)"),
    ),
    "length": (
        re.compile(r"多长|多少公里|多少米|多少千米|长度"),
        re.compile(r"\d[\d.]*多?(?:公里|千米|米|km)"),
    ),
    "venue": (
        re.compile(r"(?:去|到|在)哪(?:里|儿)?(?:报名|办理|申请|办|交|提交|咨询|登记|领取|购买|买|投诉|举报)|哪里可以|去哪|什么地方(?:办|报名|申请)"),
        re.compile(r"窗口|大厅|服务中心|网站|地址|电话|热线|办事处|服务点|办理点|网上办|线上办|[Aa][Pp][Pp]|小程序|公众号|浙里办|政务服务网"),
    ),
    "people": (
        re.compile(r"多少人|多少名|工人|员工|就业岗位|招多少|招聘"),
        re.compile(r"\d+多?(?:人|名|位)"),
    ),
}
PER_UNIT = re.compile(r"每(亩|平方米|平米|平方|人|户|吨|年|月|天|件|套)")

LIST_RE = re.compile(r"有哪些|哪些项目|哪些工程|哪些企业|哪些地方|都有什么|列举|哪几个|有没有.{0,30}(先例|例子|案例|项目|工程)|有什么.{0,6}(项目|工程|案例)")
PROCEDURE_RE = re.compile(r"怎么|如何|怎样|流程|步骤|手续|程序|哪几项|要办|该怎么|办理")
COMPARE_RE = re.compile(r"哪个.{0,8}(更|大|多|高|少|低|长|早|晚)|相比|比较|还是.{0,2}[高低多少大小]|多多少|加起来|合计|总共|之和|差多少|其余|除了|各是")


@dataclass(frozen=True)
class Term:
    """A content word of the question: its text, how much it matters, and what else may stand for it."""

    text: str
    weight: float = 1.0
    tag: str = ""
    alternatives: tuple[str, ...] = ()


@dataclass
class QuestionInfo:
    """The parts of a question that answer selection and abstention look at."""

    text: str
    terms: list[Term] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    focus: list[str] = field(default_factory=list)
    compounds: list[tuple[str, str]] = field(default_factory=list)
    answer_types: list[str] = field(default_factory=list)
    per_unit: str = ""
    shape: str = "fact"
    domain_terms: list[str] = field(default_factory=list)
    type_words: dict[str, str] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    max_idf: float = float("inf")  # the idf of a word the index never saw
    # Official terms the synonym table maps the question's wording to (sentence scoring only).
    expansions: list[Term] = field(default_factory=list)
    # Sub-questions ("A和B，哪个…", "X？Y？"): each weighs its own terms fully, the others less.
    parts: list[QuestionInfo] = field(default_factory=list)

    @property
    def term_texts(self) -> list[str]:
        return [t.text for t in self.terms]


@lru_cache(maxsize=4)
def _pos_tokenizer(userdict: Path) -> jieba.posseg.POSTokenizer:
    return jieba.posseg.POSTokenizer(_tokenizer(userdict))


@lru_cache(maxsize=4)
def domain_vocabulary(userdict: Path, synonyms: Path | None = None) -> frozenset[str]:
    """Terms of the field: the jieba user dictionary plus the official terms of the synonym table."""
    words: set[str] = set()
    if userdict.exists():
        for line in userdict.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                words.add(normalise(line.split()[0]))
    if synonyms is not None:
        for terms in SynonymTable.load(synonyms).entries.values():
            words.update(t for t in terms if len(t) >= 2)
    return frozenset(words)


def pos_cut(text: str, userdict: Path) -> list[tuple[str, str]]:
    """(word, part-of-speech tag) pairs, numbers with their unit kept as one word."""
    text = normalise(text)
    out: list[tuple[str, str]] = []
    pos = 0
    tok = _pos_tokenizer(userdict)
    for m in NUMBER_RE.finditer(text):
        out.extend((p.word, p.flag) for p in tok.cut(text[pos : m.start()]))
        out.append((m.group(), "m"))
        pos = m.end()
    out.extend((p.word, p.flag) for p in tok.cut(text[pos:]))
    return [(w.strip(), f) for w, f in out if w.strip()]


def is_content(word: str, tag: str) -> bool:
    if not PURE.match(word) or word in STOPWORDS or word in FRAME_WORDS:
        return False
    if DIGIT.search(word):
        return True
    if tag.startswith("f"):  # 方位词: 前期 and 后期 say something, 上 and 里 do not
        return len(word) > 1
    return not tag.startswith(FUNCTION_TAGS) and tag not in FUNCTION_EXACT and tag != "m"


def analyse(
    question: str,
    userdict: Path,
    synonyms: SynonymTable | None = None,
    idf: Callable[[str], float] | None = None,
    domain: Iterable[str] = (),
) -> QuestionInfo:
    """Split a question into what it is about (terms), what it pins down and what kind of answer it wants.

    `idf` (a term's rarity in the index) is recorded for sentence scoring; term weights stay plain
    so that evidence coverage does not depend on the corpus size.
    """
    q = normalise(question)
    words = pos_cut(q, userdict)
    matched = _synonym_phrases(q, synonyms)
    domain_set = set(domain)
    info = QuestionInfo(text=question)
    seen: set[str] = set()
    for i, (word, tag) in enumerate(words):
        if not is_content(word, tag) or word in seen:
            continue
        seen.add(word)
        if DIGIT.search(word):
            info.numbers.append(word)
            continue
        weight = 0.5 if len(word) == 1 else 1.0
        if idf is not None:
            info.idf[word] = idf(word)
            info.max_idf = idf("\x00")
        alts = tuple(dict.fromkeys(t for phrase, terms in matched if word in phrase for t in terms))
        info.terms.append(Term(word, weight, tag, alts))
        if tag == "ns" and len(word) >= 2:
            info.places.append(word)
        if word in domain_set:
            info.domain_terms.append(word)
        nxt = words[i + 1] if i + 1 < len(words) else None
        if (
            nxt
            and is_content(*nxt)
            and not DIGIT.search(nxt[0])
            and min(len(word), len(nxt[0])) >= 2
            and tag.startswith("n")
            and nxt[1].startswith("n")
        ):
            info.compounds.append((word, nxt[0]))
    info.focus = _focus(words)
    for name, (asks, _) in ANSWER_TYPES.items():
        spans = [(m.start(), m.end() + 2) for m in asks.finditer(q)]
        if spans:
            info.answer_types.append(name)
            for t in info.terms:
                at = q.find(t.text)
                if any(a <= at and at + len(t.text) <= b for a, b in spans):
                    info.type_words.setdefault(t.text, name)
    m = PER_UNIT.search(q)
    info.per_unit = m.group(1) if m else ""
    info.shape = shape(q)
    own = set(info.term_texts)
    for phrase, expansion in [*matched, *((p, t) for p, t in GENERIC_PHRASES if p in q)]:
        for t in expansion:
            if t not in own and t not in {e.text for e in info.expansions}:
                info.expansions.append(Term(t, EXPANSION_WEIGHT, "syn"))
                if idf is not None:
                    info.idf[t] = idf(t)
    info.parts = split_parts(info, q)
    return info


def segments(question: str, compare: bool = False) -> list[str]:
    """The sub-questions: clauses holding a question word, and in a comparison the names joined by 和/与/、."""
    clauses = [c for c in CLAUSE.split(question) if c.strip()]
    asking = [c for c in clauses if QUESTION_WORD.search(c)]
    out = asking if len(asking) > 1 else []
    if compare:
        for c in clauses:
            pieces = [p for p in CONJUNCTION.split(c) if p.strip()]
            if len(pieces) > 1:
                out.extend(pieces)
    return list(dict.fromkeys(out))


def split_parts(info: QuestionInfo, q: str) -> list[QuestionInfo]:
    """One QuestionInfo per sub-question: its own terms fully weighted, other parts' terms less, shared ones fully."""
    segs = [seg for seg in segments(q, info.shape == "compare") if any(t.text in seg for t in info.terms) or any(n in seg for n in info.numbers)]
    if len(segs) < 2:
        return []
    parts = []
    for seg in segs:
        others = {t.text for t in info.terms if t.text not in seg and any(t.text in o for o in segs)}
        terms = [Term(t.text, t.weight * PART_CONTEXT, t.tag, t.alternatives) if t.text in others else t for t in info.terms]
        parts.append(
            QuestionInfo(
                text=seg,
                terms=terms,
                numbers=[n for n in info.numbers if n in seg],
                focus=[f for f in info.focus if f in seg],
                answer_types=[k for k in info.answer_types if ANSWER_TYPES[k][0].search(seg)] or list(info.answer_types),
                type_words=dict(info.type_words),
                idf=info.idf,
                max_idf=info.max_idf,
                expansions=info.expansions,
                shape=info.shape,
            )
        )
    return parts


def shape(question: str) -> str:
    """`compare`, `list`, `procedure` or `fact`: how the answer should be put together."""
    if COMPARE_RE.search(question):
        return "compare"
    if LIST_RE.search(question):
        return "list"
    if PROCEDURE_RE.search(question):
        return "procedure"
    return "fact"


def _synonym_phrases(q: str, synonyms: SynonymTable | None) -> list[tuple[str, list[str]]]:
    if synonyms is None:
        return []
    return [(phrase, terms) for phrase, terms in synonyms.entries.items() if phrase in q]


def _focus(words: list[tuple[str, str]]) -> list[str]:
    """Nouns right after a question word (什么荣誉, 哪些材料, 多少工人): what the question asks for."""
    out: list[str] = []
    for i, (word, _) in enumerate(words):
        if word not in NOMINAL_WH:
            continue
        after = [(w, t) for w, t in words[i + 1 : i + 3] if is_content(w, t) and not DIGIT.search(w)]
        if after and after[0][1].startswith(("n", "vn")) and after[0][0] not in out:
            out.append(after[0][0])
    return out


def with_context(info: QuestionInfo, context: QuestionInfo, weight: float = 0.5) -> QuestionInfo:
    """A follow-up's analysis plus the content terms of the turn it leans on (at a lower weight)."""
    own = set(info.term_texts)
    extra = [Term(t.text, t.weight * weight, t.tag, t.alternatives) for t in context.terms if t.text not in own]
    return QuestionInfo(
        text=info.text,
        terms=[*info.terms, *extra],
        numbers=list(info.numbers),
        places=list(info.places),
        focus=list(info.focus),
        compounds=list(info.compounds),
        answer_types=list(info.answer_types),
        per_unit=info.per_unit,
        shape=info.shape,
        domain_terms=list(info.domain_terms),
        type_words=dict(info.type_words),
        idf={**context.idf, **info.idf},
        max_idf=min(info.max_idf, context.max_idf),
        expansions=[*info.expansions, *(e for e in context.expansions if e.text not in own)],
        parts=[with_context(p, context, weight) for p in info.parts],
    )
