"""The term-coverage rule of staff search (assistant/retrieve/relevance.py): pure functions, no index."""

from __future__ import annotations

import math

import pytest

from assistant.retrieve import relevance
from assistant.retrieve.relevance import Match, QueryTerm, TermStats
from assistant.settings import get_settings
from assistant.text.tokenize import SynonymTable, normalise
from tests.conftest import ANALYZER


@pytest.fixture(scope="module")
def userdict() -> object:
    return ANALYZER


def terms_of(query: str, userdict: object, synonyms: bool = True) -> list[QueryTerm]:
    table = SynonymTable.load(get_settings().synonyms_path) if synonyms else None
    return relevance.query_terms(query, userdict, table)  # type: ignore[arg-type]


def test_query_terms_are_the_content_words_with_places_and_figures_marked(userdict: object) -> None:
    terms = terms_of("杭州 公积金 提取", userdict)
    assert [t.text for t in terms] == ["杭州", "公积金", "提取"]
    assert [t.place for t in terms] == [True, False, False]
    figure = terms_of("增殖放流 90亩", userdict)
    assert [(t.text, t.figure) for t in figure] == [("增殖放流", False), ("90亩", True)]
    # Function and frame words only: nothing to hold, so nothing is ever cut.
    assert terms_of("有哪些？", userdict) == []


def test_a_place_is_held_only_as_itself(userdict: object) -> None:
    (hangzhou,) = terms_of("杭州", userdict)
    assert not relevance.holds(hangzhou, normalise("我市王盘山位于杭州湾内"))
    assert relevance.holds(hangzhou, normalise("杭州市的二手房带押过户"))
    assert relevance.holds(hangzhou, normalise("杭州湾与杭州的合作"))


def test_everyday_words_are_held_through_their_official_terms(userdict: object) -> None:
    dorm = next(t for t in terms_of("宿舍", userdict) if t.text == "宿舍")
    assert "配套设施" in dorm.forms
    assert relevance.holds(dorm, normalise("生产生活服务配套设施比例提高至15%"))
    assert not relevance.holds(terms_of("宿舍", userdict, synonyms=False)[0], "配套设施")


def test_figures_are_held_in_digits_or_chinese(userdict: object) -> None:
    (mu,) = [t for t in terms_of("90亩", userdict) if t.figure]
    assert relevance.holds(mu, "用地90亩")
    assert relevance.holds(mu, "用地九十亩")
    assert not relevance.holds(mu, "用地190亩。")


def test_idf_is_bm25s() -> None:
    assert relevance.idf(1, 10) == pytest.approx(math.log(1 + 9.5 / 1.5))
    assert relevance.idf(1, 10) > relevance.idf(5, 10) > relevance.idf(10, 10) > 0


def test_coverage_weighs_rare_terms_more_and_the_cut_off_is_half() -> None:
    a = QueryTerm("甲乙", ("甲乙",))
    b = QueryTerm("丙丁", ("丙丁",))
    c = QueryTerm("戊己", ("戊己",))
    texts = ["甲乙丙丁", "甲乙", "甲乙戊己", "甲乙。"]
    weight = relevance.weights([a, b, c], texts)
    assert weight["甲乙"] < weight["丙丁"] == weight["戊己"]
    only_common = relevance.match([a, b, c], weight, "甲乙")
    assert only_common.held == ("甲乙",) and only_common.missing == ("丙丁", "戊己")
    assert only_common.coverage < relevance.MIN_COVERAGE and not relevance.keep(only_common)
    two = relevance.match([a, b, c], weight, "甲乙丙丁")
    assert relevance.MIN_COVERAGE <= two.coverage < 1 and relevance.keep(two)
    assert relevance.match([a, b, c], weight, "丙丁戊己甲乙").coverage == pytest.approx(1.0)
    assert relevance.match([a, b, c], weight, "无关").coverage == 0.0
    assert relevance.MIN_COVERAGE == 0.5 and relevance.RULE == "term-coverage"


def test_one_character_words_weigh_half() -> None:
    one = QueryTerm("配", ("配",), weight=0.5)
    two = QueryTerm("比例", ("比例",))
    weight = relevance.weights([one, two], ["配比例", "其他"])
    assert weight["配"] == pytest.approx(weight["比例"] / 2)


def test_strength_bands() -> None:
    assert Match((), (), 1.0).strength == "all"
    assert Match((), (), 0.8).strength == "most"
    assert Match((), (), 0.5).strength == "some"
    assert Match((), (), 0.49).strength == "weak"


def test_best_sentence_holds_the_most_query_weight() -> None:
    a = QueryTerm("配套设施", ("配套设施",))
    b = QueryTerm("比例", ("比例",))
    text = "第一句说配套设施。\n第二句说配套设施比例提高至15%。第三句说比例。"
    weight = {"配套设施": 1.0, "比例": 1.0}
    start, end = relevance.best_sentence([a, b], weight, text)  # type: ignore[misc]
    assert text[start:end] == "第二句说配套设施比例提高至15%。"
    m = relevance.match([a, b], weight, text)
    assert m.sentence == (start, end)
    assert relevance.best_sentence([a], weight, "毫不相关。") is None


def test_term_stats_count_the_passages_holding_a_term() -> None:
    term = QueryTerm("甲乙", ("甲乙",))
    assert TermStats(["甲乙", "丙丁"]).df(term) == 1
    second = TermStats(["甲乙", "甲乙丙丁", "戊"])
    assert second.df(term) == 2
    assert second.weights([term])["甲乙"] == pytest.approx(relevance.idf(2, 3))
