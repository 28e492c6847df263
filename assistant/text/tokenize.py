"""Query and passage tokenisation for the lexical index: jieba, a domain dictionary, numbers kept whole."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jieba

from assistant.settings import DATA_DIR
from assistant.text.zh import CN_NUM, cn_number

# Numbers keep their unit so "15%" never matches a stray "15" and "90亩" stays one token.
UNITS = (
    "%|％|‰|亩|公顷|平方千米|平方公里|平方米|万平方米|公里|千米|米|亿美元|万美元|亿元|万元|元|亿|万|"
    "个|家|宗|批次|批|天|年|月|日|号|倍|吨|万吨|人|户|项|条|种|次"
)
NUMBER_RE = re.compile(rf"\d+(?:[.,]\d+)*(?:{UNITS})?")
# Laws write numbers in Chinese ("满二年", "七十年", "百分之二十"); people type "两年" or "2年". Such a
# number with a unit also yields the Arabic token, so all three spellings meet.
# A decimal (一点五亩, 百分之二点五) gives no token: its integer part alone would be a false figure.
CN_NUMBER_RE = re.compile(rf"(百分之)([{CN_NUM}]++)(?!点)|(?<!点)([{CN_NUM}]+)({UNITS})")
CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
CJK_OR_WORD = re.compile(r"[\w\u4e00-\u9fff]")

STOPWORDS = frozenset(
    """的 了 是 在 和 与 及 或 等 也 都 就 还 又 把 被 对 于 从 以 为 之 其 这 那 这个 那个 这些 那些
    我 我们 你 你们 他 他们 它 它们 咱 咱们 您 谁 啥 什么 怎么 怎样 怎么样 如何 哪些 哪个 哪里 哪 多少 几
    吗 呢 吧 啊 呀 嘛 么 吧 哦 请问 请 想 想问 问 问下 一下 知道 告诉 能 能否 可以 可 要 会 需要 应该
    有 没有 没 是否 不是 是不是 有没有 一 个 些 里 中 上 下 后 前 时 时候 情况 方面 相关 有关 关于
    具体 一般 现在 目前 今年 去年 已经 如果 但是 因为 所以 然后 以及 并 且 而 即 则 给 让 得 地 着 过
    说 讲 看 做 办 弄 搞 呗 么样 多 少 大 小""".split()
)

# Place names jieba does not tag as places by itself (嘉兴 nr, 合肥 n); see the file's header.
PLACES_PATH = DATA_DIR / "places.txt"

# Bumped whenever tokenisation changes, so persisted token caches are rebuilt.
TOKENIZER_VERSION = "5"


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def spelled(texts: Iterable[str]) -> str:
    """The distinct characters of `texts` once normalised, whitespace aside, as one sorted string.

    Each distinct character is normalised alone (a space between them, so nothing composes across
    them): a document's few thousand characters, not its whole text, and a string where a set
    takes ~15x the memory."""
    raw: set[str] = set()
    for t in texts:
        raw.update(t)
    return "".join(sorted(set(re.sub(r"\s+", "", normalise(" ".join(raw))))))


def cn_number_tokens(text: str) -> list[str]:
    """Arabic tokens for Chinese numbers with a unit: 二年 → 2年, 百分之二十 → 20%."""
    out = []
    for m in CN_NUMBER_RE.finditer(text):
        if m.group(1):
            n, unit = cn_number(m.group(2)), "%"
        else:
            n, unit = cn_number(m.group(3)), m.group(4)
        if n is not None:
            out.append(f"{n}{unit}")
    return out


@lru_cache(maxsize=4096)
def _cn_figures(text: str) -> frozenset[str]:
    return frozenset(cn_number_tokens(text))


def has_figure(figure: str, text: str) -> bool:
    """Whether normalised `text` states `figure` ("2年") as a whole number, in digits or in Chinese
    (二年, 两年): 2年 is not in 2022年, 90亩 not in 190亩 or 1.90亩, 2 not in 20."""
    tail = r"(?!\d|\.\d)" if figure[-1:].isdigit() else ""
    whole = re.search(rf"(?<![\d.]){re.escape(figure)}{tail}", text) is not None
    return whole or figure in _cn_figures(text)


def tokenize(text: str, tok: jieba.Tokenizer) -> list[str]:
    """Tokens for BM25: numbers with units whole, jieba search-mode words and CJK character bigrams.

    Bigrams catch terms the dictionary splits wrongly or does not know (names, new policy terms);
    measured on the seed set and LeCoQA they add 2-4 points of MRR over words alone.
    """
    text = normalise(text)
    out: list[str] = []
    pos = 0
    for m in NUMBER_RE.finditer(text):
        out.extend(_words(tok, text[pos : m.start()]))
        out.append(m.group())
        pos = m.end()
    out.extend(_words(tok, text[pos:]))
    out.extend(cn_number_tokens(text))
    for run in CJK_RUN.findall(NUMBER_RE.sub(" ", text)):
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def _words(tok: jieba.Tokenizer, text: str) -> Iterable[str]:
    for w in tok.cut_for_search(text):
        w = w.strip()
        if w and w not in STOPWORDS and CJK_OR_WORD.search(w):
            yield w


@dataclass
class SynonymTable:
    """Everyday phrase → official terms, loaded from an editable TSV file."""

    entries: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> SynonymTable:
        entries: dict[str, list[str]] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                phrase, _, terms = line.partition("\t")
                if phrase.strip() and terms.strip():
                    entries[normalise(phrase.strip())] = [
                        t.strip() for t in terms.split("|") if t.strip()
                    ]
        return cls(entries)

    def matches(self, query: str) -> list[tuple[str, list[str]]]:
        """(phrase, official terms) for every phrase of the table the query says.

        A phrase of four or more characters also matches with one of its characters left out
        (贷款还没还完 ~ 贷款没还完): people drop a 还 or a 的 that the table's author wrote.
        """
        q = normalise(query)
        return [(p, terms) for p, terms in self.entries.items() if said(p, q)]

    def expand(self, query: str) -> list[str]:
        """Official terms for every phrase of the table found in the query, not already in it."""
        q = normalise(query)
        extra: list[str] = []
        for _, terms in self.matches(q):
            extra.extend(t for t in terms if t not in q and t not in extra)
        return extra


def said(phrase: str, text: str) -> bool:
    """The phrase is in the text, whole or (four characters or more) with one character left out."""
    if phrase in text:
        return True
    return len(phrase) >= 4 and any(
        phrase[:i] + phrase[i + 1 :] in text for i in range(1, len(phrase) - 1)
    )
