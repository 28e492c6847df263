"""The one text analyser every stage shares.

jieba over the domain dictionary and the place list (plain, and with part-of-speech tags), the
synonym table and the field's vocabulary. Loading jieba's dictionary takes about a second, so an
`Analyzer` is built once by whoever owns the settings (the `Assistant`) and passed to each stage;
nothing is cached in a module global or keyed on a file path.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import jieba

from assistant.text.tagger import Tagger
from assistant.text.tokenize import PLACES_PATH, SynonymTable, normalise, tokenize

# Sub-words looked up for coverage are remembered; past this many the memory starts afresh.
SUBWORDS_KEPT = 65536


class Analyzer:
    """Tokens, tagged words and sub-words of Chinese text, over one user dictionary."""

    def __init__(self, userdict: Path | None = None, synonyms: Path | None = None) -> None:
        self.userdict = userdict
        self.synonyms = SynonymTable.load(synonyms) if synonyms is not None else SynonymTable()
        self._lock = threading.Lock()
        self._jieba: jieba.Tokenizer | None = None
        self._pos: Tagger | None = None
        self._domain: frozenset[str] | None = None
        self._subwords: dict[str, tuple[str, ...]] = {}

    @property
    def tokenizer(self) -> jieba.Tokenizer:
        """jieba with the user dictionary and the place list, loaded on first use."""
        with self._lock:
            if self._jieba is None:
                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                if self.userdict is not None and self.userdict.exists():
                    # jieba leaves a path it opens itself unclosed; hand it a file we close.
                    with self.userdict.open("rb") as f:
                        tok.load_userdict(f)
                for line in PLACES_PATH.read_text(encoding="utf-8").splitlines():
                    word, _, rest = line.partition(" ")
                    if word and not word.startswith("#"):
                        tok.add_word(word, int(rest.split()[0]) if rest else None, "ns")
                self._jieba = tok
            return self._jieba

    @property
    def pos(self) -> Tagger:
        """The same jieba, tagging parts of speech (its tables load on first use)."""
        tokenizer = self.tokenizer
        with self._lock:
            if self._pos is None:
                self._pos = Tagger(tokenizer)
            return self._pos

    @property
    def domain(self) -> frozenset[str]:
        """Terms of the field: the user dictionary plus the synonym table's official terms."""
        if self._domain is None:
            words: set[str] = set()
            if self.userdict is not None and self.userdict.exists():
                for line in self.userdict.read_text(encoding="utf-8").splitlines():
                    if line.strip() and not line.lstrip().startswith("#"):
                        words.add(normalise(line.split()[0]))
            for terms in self.synonyms.entries.values():
                words.update(t for t in terms if len(t) >= 2)
            self._domain = frozenset(words)
        return self._domain

    def tokenize(self, text: str) -> list[str]:
        """BM25 tokens (see `tokenize.tokenize`)."""
        return tokenize(text, self.tokenizer)

    def subwords(self, word: str) -> tuple[str, ...]:
        """The dictionary words of two or more characters inside `word` (search mode)."""
        got = self._subwords.get(word)
        if got is None:
            got = tuple(w for w in self.tokenizer.cut_for_search(word) if len(w) >= 2 and w != word)
            if len(self._subwords) >= SUBWORDS_KEPT:
                self._subwords.clear()
            self._subwords[word] = got
        return got
