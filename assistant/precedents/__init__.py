"""Precedent cards: passages that tell a concrete case (who did what, where, when, with what figures).

Staff look for cases ("the first 带押过户 in 平湖", "a foreign-funded project's land supplied in N
days", "N 亩 reclaimed"), not for rules. A newsletter tells each case in a paragraph or two under a
headline; this package finds them with the library's jieba tokenizer (its part-of-speech tags mark
where a name begins) and patterns, and makes a card of each:

- **subject**: the enterprise or project the case is about: a name ending in 项目/工程/工厂/公园 or
  公司/集团, bounded on the left by a verb, preposition, pronoun, figure or punctuation mark and
  specific enough to be a name (a place, person, brand or foreign word in it, a phase such as 三期,
  or eight characters and more: 重大产业项目 is no one's case); or, for a headline that reports an
  event (首笔, 获评, 通过验收, 创新高), the headline's own subject;
- **place**: the most local place named (独山港经济开发区, 林埭镇), else a county or city of the
  gazetteer, else the document's jurisdiction;
- **date**: the first date of the sentence naming the subject (else of the case), with relative
  words resolved against the document's date by `answer.provenance.resolve` (今年6月 in a 2022
  newsletter is 2022年6月; 近日 and 眼下 are the document's year);
- **measures**: named measures of the editable table `data/measures.tsv`, and quoted measures after
  an action verb (采取“邮递”等方式, 探索实行“拿地即开工”模式) whose quote holds a verb and a noun,
  or ends in, or is followed by, 制/机制/模式/通道/服务/方式;
- **figures**: amounts, areas, counts and shares, with their units;
- **source**: document id, the case's character offsets, and its key sentence as a verbatim quote.

A case needs a subject, at least one measure, a figure or a date, and to be told as done (已, 完成,
开工, 落地, 近日…): a rule (对…给予奖补) is no case. `bench/precedents.py` scores the cards and their
measures against hand labels. Pure functions of a document's text, sections and facts, plus
`Casebook`, which keeps each document's cards until the document or its facts change.

jionlp was tried first: its `extract_money`, `extract_time` and `recognize_location` find amounts,
times and administrative places, which the tokenizer's tags and the patterns here already give (and
`answer.provenance` records why its time parser was not used), but it has no recogniser for
enterprises, projects or measures, the parts a card needs; it would add 70 MB for none of them.
"""

from assistant.precedents.cards import Measure, MeasureTable, Precedent, Section, matches
from assistant.precedents.casebook import Casebook, sections_of
from assistant.precedents.extract import Extractor

__all__ = [
    "Casebook",
    "Extractor",
    "Measure",
    "MeasureTable",
    "Precedent",
    "Section",
    "matches",
    "sections_of",
]
