"""Part-of-speech tags: jieba.posseg's algorithm over compact tables.

Importing `jieba.posseg` costs ~160 MB and ~5 s per process: its HMM tables are Python source
files compiled at import, and the import builds a second tagger with its own copy of the word
tags for jieba's default tokenizer. The same tables load from the pickles jieba ships beside
them in 0.2 s and ~5 MB, and the word tags fit in two numpy arrays. The cutting below follows
jieba.posseg 0.42 (MIT licence) step for step, so the tags are the same (a test compares the two).
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jieba
import numpy as np

POSSEG_DIR = Path(jieba.__file__).parent / "posseg"
MIN_FLOAT = -3.14e100
MIN_INF = float("-inf")

RE_HAN_DETAIL = re.compile("([\u4e00-\u9fd5]+)")
RE_SKIP_DETAIL = re.compile(r"([\.0-9]+|[a-zA-Z0-9]+)")
RE_HAN_INTERNAL = re.compile(r"([\u4e00-\u9fd5a-zA-Z0-9+#&\._]+)")
RE_SKIP_INTERNAL = re.compile(r"(\r\n|\s)")
RE_ENG = re.compile("[a-zA-Z0-9]+")
RE_NUM = re.compile(r"[\.0-9]+")

State = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Tagged:
    word: str
    flag: str


class Hmm:
    """jieba.posseg's hidden Markov model for runs of characters the dictionary does not hold."""

    def __init__(self, folder: Path = POSSEG_DIR) -> None:
        def load(name: str) -> dict[Any, Any]:
            with (folder / name).open("rb") as f:
                return dict(pickle.load(f))

        self.states: dict[str, tuple[State, ...]] = load("char_state_tab.p")
        self.start: dict[State, float] = load("prob_start.p")
        self.trans: dict[State, dict[State, float]] = load("prob_trans.p")
        self.emit: dict[State, dict[str, float]] = load("prob_emit.p")

    def viterbi(self, obs: str) -> list[State]:
        """The most likely state of each character (jieba.posseg.viterbi, tie-breaks included)."""
        trans, emit, all_states = self.trans, self.emit, self.trans.keys()
        score: list[dict[State, float]] = [{}]
        back: list[dict[State, State | None]] = [{}]
        for y in self.states.get(obs[0], all_states):
            score[0][y] = self.start[y] + emit[y].get(obs[0], MIN_FLOAT)
            back[0][y] = None
        for t in range(1, len(obs)):
            score.append({})
            back.append({})
            prev = [x for x in back[t - 1] if len(trans[x]) > 0]
            expected = {y for x in prev for y in trans[x]}
            here = set(self.states.get(obs[t], all_states)) & expected
            if not here:
                here = expected if expected else set(all_states)
            for y in here:
                prob, best = max(
                    (
                        score[t - 1][y0]
                        + trans[y0].get(y, MIN_INF)
                        + emit[y].get(obs[t], MIN_FLOAT),
                        y0,
                    )
                    for y0 in prev
                )
                score[t][y] = prob
                back[t][y] = best
        _, last = max((score[-1][y], y) for y in back[-1])
        route: list[State] = [last] * len(obs)
        for i in range(len(obs) - 1, 0, -1):
            before = back[i][route[i]]
            assert before is not None  # only the first character has no state before it
            route[i - 1] = before
        return route


class WordTags:
    """jieba's dictionary tags as sorted (hash, tag) arrays: ~3 MB where a dict takes ~30 MB."""

    def __init__(self, tokenizer: jieba.Tokenizer) -> None:
        hashes: list[int] = []
        codes = bytearray()
        names: dict[str, int] = {}
        with tokenizer.get_dict_file() as f:
            for line in f:
                parts = line.strip().decode("utf-8").split(" ")
                if len(parts) == 3:
                    hashes.append(hash(parts[0]))
                    codes.append(names.setdefault(parts[2], len(names)))
        keys = np.array(hashes, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        # A word listed twice keeps its last tag, as a dict would.
        keys, tags = keys[order], np.frombuffer(bytes(codes), dtype=np.uint8)[order]
        last = np.r_[keys[1:] != keys[:-1], True]
        self.keys, self.tags = keys[last], tags[last]
        self.names = list(names)
        self.user: dict[str, str] = dict(tokenizer.user_word_tag_tab)

    def get(self, word: str, default: str = "x") -> str:
        tag = self.user.get(word)
        if tag is not None:
            return tag
        key = hash(word)
        i = int(np.searchsorted(self.keys, key))
        if i < len(self.keys) and self.keys[i] == key:
            return self.names[self.tags[i]]
        return default


class Tagger:
    """Words of a text with their part-of-speech tags, as `jieba.posseg.POSTokenizer.cut`."""

    def __init__(self, tokenizer: jieba.Tokenizer, hmm: Hmm | None = None) -> None:
        self.tokenizer = tokenizer
        self.tags = WordTags(tokenizer)
        self.hmm = hmm or Hmm()

    def cut(self, sentence: str) -> Iterator[Tagged]:
        for blk in RE_HAN_INTERNAL.split(sentence):
            if RE_HAN_INTERNAL.match(blk):
                yield from self._cut_dag(blk)
                continue
            for x in RE_SKIP_INTERNAL.split(blk):
                if RE_SKIP_INTERNAL.match(x):
                    yield Tagged(x, "x")
                    continue
                # jieba tags each character, but tests the whole run for letters.
                yield from (Tagged(xx, _symbol_flag(xx, x)) for xx in x)

    def _cut_dag(self, sentence: str) -> Iterator[Tagged]:
        tok = self.tokenizer
        route: dict[int, tuple[float, int]] = {}
        tok.calc(sentence, tok.get_DAG(sentence), route)
        x, buf, n = 0, "", len(sentence)
        while x < n:
            y = route[x][1] + 1
            word = sentence[x:y]
            if y - x == 1:
                buf += word
            else:
                if buf:
                    yield from self._flush(buf)
                    buf = ""
                yield Tagged(word, self.tags.get(word))
            x = y
        if buf:
            yield from self._flush(buf)

    def _flush(self, buf: str) -> Iterator[Tagged]:
        """A run of single characters: one word, a dictionary word cut apart, or the HMM's guess."""
        if len(buf) == 1:
            yield Tagged(buf, self.tags.get(buf))
        elif not self.tokenizer.FREQ.get(buf):
            yield from self._cut_detail(buf)
        else:
            for ch in buf:
                yield Tagged(ch, self.tags.get(ch))

    def _cut_detail(self, sentence: str) -> Iterator[Tagged]:
        for blk in RE_HAN_DETAIL.split(sentence):
            if RE_HAN_DETAIL.match(blk):
                yield from self._cut_hmm(blk)
                continue
            yield from (Tagged(x, _symbol_flag(x, x)) for x in RE_SKIP_DETAIL.split(blk) if x)

    def _cut_hmm(self, sentence: str) -> Iterator[Tagged]:
        states = self.hmm.viterbi(sentence)
        begin = nexti = 0
        for i, ch in enumerate(sentence):
            pos, flag = states[i]
            if pos == "B":
                begin = i
            elif pos == "E":
                yield Tagged(sentence[begin : i + 1], flag)
                nexti = i + 1
            elif pos == "S":
                yield Tagged(ch, flag)
                nexti = i + 1
        if nexti < len(sentence):
            yield Tagged(sentence[nexti:], states[nexti][1])


def _symbol_flag(piece: str, run: str) -> str:
    """A number (m), Latin letters or digits (eng, tested on the run it comes from), or other (x)."""
    return "m" if RE_NUM.match(piece) else "eng" if RE_ENG.match(run) else "x"
