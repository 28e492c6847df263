"""The compact tagger gives jieba.posseg's tags, word for word."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.text.tagger import Tagger
from tests.conftest import ANALYZER

REPO = Path(__file__).resolve().parents[1]


def texts() -> list[str]:
    out = []
    for path in sorted((REPO / "bench" / "data").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                q = json.loads(line).get("question")
                if isinstance(q, str):
                    out.append(q)
    corpus = "\n".join(
        p.read_text(encoding="utf-8") for p in sorted((REPO / "corpus").glob("*.txt"))
    )
    out.extend(s for s in corpus.split("。") if s.strip())
    out.extend(["", " ", "😀😀😀", "ABC公司2023年第3季度", "一点五亩\r\n地", "A+B#C&D_E.F"])
    return out


def test_tags_are_jieba_posseg_tags() -> None:
    posseg = pytest.importorskip("jieba.posseg")
    theirs = posseg.POSTokenizer(ANALYZER.tokenizer)
    ours = ANALYZER.pos
    assert isinstance(ours, Tagger)
    cases = texts()
    assert len(cases) > 1000
    for text in cases:
        expected = [(p.word, p.flag) for p in theirs.cut(text)]
        assert [(t.word, t.flag) for t in ours.cut(text)] == expected, text
