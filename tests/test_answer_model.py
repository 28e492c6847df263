"""The fitted answer stage: named features, the model file, outcomes, follow-ups, the tune command."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from assistant.answer.decide import decide, has_content
from assistant.answer.features import (
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    candidates,
    question_features,
    relative,
    token_coverage,
)
from assistant.answer.followup import LEAN_FEATURES, needs_context
from assistant.answer.model import MODEL_PATH, AnswerModel, Logistic, Thresholds
from assistant.eval.metrics import QAItem
from assistant.models import Chunk, Hit
from assistant.text.question import analyse
from assistant.text.structure import sentences
from assistant.text.tokenize import SynonymTable, said
from tests.conftest import ANALYZER


def hit(text: str, n: int = 0) -> Hit:
    c = Chunk(f"d-{n}", "d", "简报", text, n * 1000, n * 1000 + len(text))
    return Hit(c, 1.0 - n / 10, lexical=5.0 - n, dense=0.9 - n / 100)


# ----- features: pure functions --------------------------------------------------------------


def test_token_coverage_is_the_idf_weighted_share_of_query_tokens() -> None:
    tokens = {"带押过户": 3.0, "二手房": 1.0}
    assert token_coverage(tokens, "二手房带押过户业务") == 1.0
    assert token_coverage(tokens, "二手房交易") == pytest.approx(0.25)
    assert token_coverage({}, "任何") == 0.0


def test_every_candidate_has_every_named_feature_and_relative_ones_peak_at_one() -> None:
    info = analyse("战略性新兴产业用地配套设施比例是多少？", ANALYZER)
    text = "将战略性新兴产业用地生产生活服务配套设施比例提高至15%。全市完成供地80宗。"
    scored = hit(text)
    spans = sentences(text, 0, len(text))
    scored.sentences = {a: 0.9 - k / 10 for k, (a, _) in enumerate(spans)}
    pool = candidates(info, [scored], ANALYZER, {"配套设施": 2.0, "比例": 1.0})
    assert len(pool) == 2
    for c in pool:
        assert set(c.features) == set(SENTENCE_FEATURES)
        assert all(math.isfinite(v) for v in c.features.values())
    assert max(c.features["token_relative"] for c in pool) == 1.0
    assert [c.features["sentence_dense_relative"] for c in pool] == pytest.approx([0.0, -0.1])
    # Without stored sentence vectors the two are missing, and the model reads their mean.
    bare = candidates(info, [hit(text)], ANALYZER, {"配套设施": 2.0, "比例": 1.0})
    missing = {"sentence_dense", "sentence_dense_relative"}
    assert all(set(c.features) == set(SENTENCE_FEATURES) - missing for c in bare)
    best = max(pool, key=lambda c: c.features["type_attached"])
    assert "15%" in best.unit.text
    relative([])  # an empty pool is fine


# ----- the model file ------------------------------------------------------------------------


def test_a_figure_of_the_asked_kind_counts_only_in_a_sentence_about_the_question() -> None:
    info = analyse("征地补偿费用最迟多长时间内要支付到位？", ANALYZER)
    off = "拟征收土地公告时间不少于三十日。征地补偿费用应当足额支付到位。"
    on = "征地补偿费用应当自方案批准之日起三个月内足额支付到位。"

    def typed(text: str) -> float:
        pool = candidates(info, [hit(text)], ANALYZER, {"征地": 1.0, "补偿": 1.0})
        probs = [0.5] * len(pool)
        return question_features(info, [hit(text)], pool, probs, [], ANALYZER, False)[
            "typed_coverage"
        ]

    assert typed(on) > 0.6
    assert typed(off) < 0.1  # the only figure of time is the notice's
    plain = analyse("征地补偿由谁负责？", ANALYZER)
    pool = candidates(plain, [hit(off)], ANALYZER)
    feats = question_features(plain, [hit(off)], pool, [0.5] * len(pool), [], ANALYZER, False)
    assert feats["typed_coverage"] == 1.0  # no kind of figure asked: nothing to hold


def test_a_passage_near_the_top_counts_by_its_score_not_its_rank() -> None:
    info = analyse("带押过户怎么办理？", ANALYZER)
    first, second = hit("带押过户业务成功落地。", 0), hit("带押过户无需归还原有房贷。", 1)
    first.score, second.score = 0.50, 0.49
    pool = candidates(info, [first, second], ANALYZER)
    assert [c.features["fused_score"] for c in pool] == pytest.approx([1.0, 0.98])


def test_logistic_probability_and_contributions() -> None:
    lg = Logistic(("a", "b"), (2.0, -1.0), 0.5, (1.0, 0.0), (2.0, 1.0))
    z = 0.5 + 2.0 * (3.0 - 1.0) / 2.0 - 1.0 * 1.0
    assert lg.probability({"a": 3.0, "b": 1.0}) == pytest.approx(1 / (1 + math.exp(-z)))
    assert lg.contributions({"a": 3.0, "b": 1.0}) == {"a": 2.0, "b": -1.0}
    # A missing feature counts as its mean: it neither helps nor hurts.
    assert lg.probability({}) == pytest.approx(1 / (1 + math.exp(-0.5)))


def test_the_shipped_model_names_every_feature_and_round_trips(tmp_path: Path) -> None:
    model = AnswerModel.load(MODEL_PATH)
    assert model.sentence.features == SENTENCE_FEATURES
    assert model.question.features == QUESTION_FEATURES
    t = model.thresholds
    assert 0 < t.abstain <= t.answer < 1 and 0 < t.keep < 1
    assert model.meta["tune_questions"] >= 200
    assert model.followup is not None and model.followup.features == LEAN_FEATURES
    lexical = model.followup_for(dense=False)
    assert lexical is not None and "similarity" not in lexical.features
    assert model.followup_for(dense=True) is model.followup
    # Without an embedder the models fitted on questions read by their words alone take over.
    assert model.lexical is not None and model.for_search(dense=True) is model
    bare = model.for_search(dense=False)
    assert bare.sentence == model.lexical.sentence and bare.thresholds == model.lexical.thresholds
    assert bare.sentence.features == SENTENCE_FEATURES and bare.followup_for(False) is lexical
    assert model.meta["lexical"]["test_figures"]["n"] > 0
    path = tmp_path / "m.json"
    model.save(path)
    assert AnswerModel.load(path).to_json() == json.loads(path.read_text(encoding="utf-8"))


def test_a_model_file_without_the_follow_up_model_keeps_the_rule(tmp_path: Path) -> None:
    from dataclasses import replace

    from assistant.answer.pipeline import leans_on

    path = tmp_path / "old.json"
    replace(AnswerModel.load(MODEL_PATH), followup=None, followup_lexical=None, lexical=None).save(
        path
    )
    old = AnswerModel.load(path)
    assert old.followup_for(dense=False) is None and old.followup_for(dense=True) is None
    assert old.for_search(dense=False) is old and "lexical" not in json.loads(
        path.read_text("utf-8")
    )
    assert "followup" not in json.loads(path.read_text("utf-8"))
    history = ["日本电产今年在平湖新签的是什么项目？"]
    for q in ("那它什么时候投产？", "战略性新兴产业的工业用地配套设施比例最多能占多少？"):
        info = analyse(q, ANALYZER)
        assert leans_on(q, history, info, False, None, None) == needs_context(q)  # type: ignore[arg-type]


def test_follow_up_training_pairs_take_unrelated_questions_from_other_documents() -> None:
    from assistant.eval.tune import lean_pairs

    def item(i: int, group: str, history: list[str], kind: str = "fact") -> QAItem:
        return QAItem(f"q{i}", kind, f"问题{i}", history, "", [], [], doc=group, group=group)

    items = [
        item(0, "a", []),
        item(1, "a", ["问题0"], "followup"),
        item(2, "b", []),
        item(3, "b", [], "uncovered"),
        item(4, "c", []),
    ]
    pairs = lean_pairs(items)
    assert ("问题1", "问题0", 1) in pairs
    negatives = [(q, prev) for q, prev, label in pairs if label == 0]
    # Each answerable stand-alone question once, after a question of another document.
    assert sorted(q for q, _ in negatives) == ["问题0", "问题2", "问题4"]
    group = {f"问题{i.id[1:]}": i.group for i in items}
    assert all(group[q] != group[prev] for q, prev in negatives)


def test_a_broken_model_file_is_a_clear_error(tmp_path: Path) -> None:
    from assistant.errors import InvalidInput

    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(InvalidInput, match="answer model"):
        AnswerModel.load(bad)


# ----- outcomes ------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["😀😀😀", "哈哈", "？？？", "你好", "谢谢", "...", "ok"])
def test_no_content_words_ask_the_user_to_say_more(question: str) -> None:
    info = analyse(question, ANALYZER)
    assert not has_content(info)
    verdict = decide(info, AnswerModel.untrained(), {}, [])
    assert verdict.outcome == "clarify" and verdict.abstained


def test_outcome_follows_the_thresholds() -> None:
    info = analyse("配套设施比例是多少", ANALYZER)
    names = ("x",)
    for z, outcome in [(-5.0, "abstain"), (0.0, "hedge"), (5.0, "answer")]:
        q = Logistic(names, (1.0,), 0.0, (0.0,), (1.0,))
        model = AnswerModel(q, q, Thresholds(keep=0.5, abstain=0.1, answer=0.7))
        assert decide(info, model, {"x": z}, []).outcome == outcome


def test_a_synonym_phrase_matches_with_one_character_left_out() -> None:
    assert said("贷款还没还完", "房子贷款没还完能卖吗")
    assert not said("贷款还没还完", "贷款已经还完了")
    table = SynonymTable({"贷款还没还完": ["带押过户"]})
    assert table.expand("房子贷款没还完能卖吗") == ["带押过户"]


# ----- against the seed index ----------------------------------------------------------------


@pytest.mark.parametrize("question", ["😀😀😀", "哈哈", "？？？"])
def test_no_content_questions_are_never_answered(seed_assistant: Any, question: str) -> None:
    a = seed_assistant.ask(question)
    assert a.abstained and not a.citations and a.reasons["outcome"] == "clarify"
    assert "请" in a.text


def test_an_unrelated_new_question_is_answered_on_its_own(seed_assistant: Any) -> None:
    history = ["日本电产今年在平湖新签的是什么项目？"]
    alone = seed_assistant.ask("二手房带押过户有什么好处？")
    after = seed_assistant.ask("二手房带押过户有什么好处？", history)
    assert after.reasons["features"]["history"] == 0.0
    assert after.text == alone.text


def test_a_question_that_leans_on_the_history_borrows_it(seed_assistant: Any) -> None:
    a = seed_assistant.ask("那它什么时候投产？", ["日本电产今年在平湖新签的是什么项目？"])
    assert a.reasons["features"]["history"] == 1.0
    assert not a.abstained and "明年10月" in a.text


def test_a_search_without_an_embedder_is_answered_by_the_lexical_models(
    seed_assistant: Any,
) -> None:
    from dataclasses import replace

    from assistant.service import Assistant

    bare = seed_assistant.without_embedder()
    assert bare.embedder is None and bare.index is seed_assistant.index
    hits = bare.search("带押过户")
    assert hits and all(h.dense is None for h in hits)
    assert seed_assistant.embedder is not None and seed_assistant.search("带押过户")[0].dense
    # A lexical variant that never answers: only the assistant without an embedder follows it.
    model = seed_assistant.model
    never = replace(model, thresholds=replace(model.thresholds, abstain=1.0, answer=1.0))
    model = replace(model, lexical=never)
    question = "二手房带押过户有什么好处？"
    bare.model = model
    assert bare.ask(question).abstained
    assert not Assistant(seed_assistant.settings, model=model).ask(question).abstained
    assert not seed_assistant.ask(question).abstained  # its recent answers are its own


def test_a_feature_no_row_has_is_read_at_zero_without_a_warning() -> None:
    import numpy as np

    from assistant.eval.tune import impute

    x = np.array([[1.0, math.nan], [3.0, math.nan]])
    filled, mu = impute(x, 2)  # warnings are errors in this suite
    assert mu.tolist() == [2.0, 0.0] and filled.tolist() == [[1.0, 0.0], [3.0, 0.0]]


def test_explain_gives_the_outcome_gaps_and_features(seed_assistant: Any) -> None:
    a = seed_assistant.ask("杭州的二手房带押过户要准备哪些材料？")
    assert a.abstained and a.reasons["outcome"] == "abstain"
    assert {"kind": "place", "detail": "杭州"} in a.reasons["gaps"]
    assert set(a.reasons["features"]) == set(QUESTION_FEATURES)
    assert a.reasons["contributions"]


def test_tune_fits_on_tune_and_reports_held_out_figures(seed_assistant: Any) -> None:
    from assistant.eval.report import figures
    from assistant.eval.tune import QUESTION_C_GRID, fit, fit_followup, fit_words_only

    def item(i: int, q: str, must: list[str], ev: list[str], kind: str = "fact") -> QAItem:
        return QAItem(f"t{i}", kind, q, [], "", must, ev, doc="seed/x", group=f"g{i % 3}")

    items = [
        item(0, "配套设施比例最多多少？", ["15%"], ["配套设施比例提高至15%"]),
        item(1, "工业用地保障完成了多少？", ["72.87%"], ["已完成工业用地保障72.87%"]),
        item(2, "日本电产投资多少？", ["3亿美元"], ["投资3亿美元建设日本电产"]),
        item(3, "办证时间缩短到几天？", ["10天"], ["缩短至10天"]),
        item(4, "杭州的公积金怎么提取？", [], [], "uncovered"),
        item(5, "宅基地一户能批多少平方米？", [], [], "uncovered"),
    ]
    from assistant.eval.cases import read_cases

    cases = read_cases(seed_assistant, items)
    assert any(c.labels and any(c.labels) for c in cases if c.item.answerable)
    meta: dict[str, Any] = {}
    model = fit(cases, seed_assistant.settings, meta)
    assert model.sentence.features == SENTENCE_FEATURES
    # The question model's regularisation is chosen on these cases, out of fold, from the grid.
    assert meta["question_regularisation"] in QUESTION_C_GRID
    assert set(meta["separation_by_c"]) == {str(c) for c in QUESTION_C_GRID}
    got = figures(cases, model, seed_assistant.settings)
    assert got["n"] == 6 and got["false_abst"] is not None and got["r@5"] == 1.0
    # The lexical variant: the same questions read without the embedder, fitted again.
    both, report = fit_words_only(model, seed_assistant, {"tune": items, "test": items[:3]})
    assert both.lexical is not None and both.sentence is model.sentence
    assert both.lexical.thresholds.keep == model.thresholds.keep
    assert both.meta["lexical"]["test_figures"]["n"] == 3
    assert "without an embedder" in report and "test, the dense model" in report
    follow = QAItem(
        "t6", "followup", "那它投资多少？", ["日本电产签了什么？"], "", [], [], doc="seed/x"
    )
    lean, plain = fit_followup(seed_assistant, [*items, follow])
    assert lean.features == LEAN_FEATURES and lean.coef[LEAN_FEATURES.index("anaphora")] > 0
    assert plain.features == tuple(n for n in LEAN_FEATURES if n != "similarity")


def test_the_abstain_threshold_keeps_every_set_within_the_bar() -> None:
    from assistant.eval.cases import Case
    from assistant.eval.tune import abstain_threshold, set_thresholds

    def case(index: str) -> Case:
        item = QAItem("q", "fact", "问题", [], "", ["x"], ["证据"], doc="d")
        return Case(item, None, [], None, index)  # type: ignore[arg-type]

    easy = [case("small index") for _ in range(100)]
    hard = [case("library") for _ in range(100)]
    probs = [0.5 + i / 250 for i in range(100)] + [i / 100 for i in range(100)]
    # Pooled, the library's 3% would be 6 of its questions; on its own it is 3 of them.
    t = abstain_threshold(easy + hard, probs)
    assert sum(p < t for p in probs[100:]) == 3
    assert abstain_threshold(easy, probs[:100]) == pytest.approx(0.5 + 3 / 250 - 1e-9)
    # The report names each set's own threshold; the library's binds.
    each = set_thresholds(easy + hard, probs)
    assert each == pytest.approx({"small index": 0.5 + 3 / 250 - 1e-9, "library": 0.03 - 1e-9})
    assert min(each.values()) == t


def test_separation_is_judged_at_each_sets_own_threshold() -> None:
    from assistant.eval.cases import Case
    from assistant.eval.tune import separation

    def case(index: str, answerable: bool) -> Case:
        kind, must = ("fact", ["x"]) if answerable else ("uncovered", [])
        item = QAItem("q", kind, "问题", [], "", must, ["证据"] if answerable else [], doc="d")
        return Case(item, None, [], None, index)  # type: ignore[arg-type]

    # Each set: 100 answerable at 0.00 … 0.99 (its 3% threshold: just under 0.03) and 4 uncovered.
    cases, probs = [], []
    for name, uncovered in (("library", [0.0, 0.01, 0.035, 0.9]), ("home", [0.0, 0.5, 0.6, 0.9])):
        cases += [case(name, True) for _ in range(100)] + [case(name, False) for _ in range(4)]
        probs += [i / 100 for i in range(100)] + uncovered
    # At 3% the library abstains on 2 of its 4 uncovered, home on 1: the mean of the two shares.
    assert separation(cases, probs, (0.03,)) == pytest.approx((2 / 4 + 1 / 4) / 2)
    # Over 2-5%, the library's 0.035 is abstained on at 4% and 5%: the mean over targets as well.
    assert separation(cases, probs) == pytest.approx(((2 + 2 + 3 + 3) / 16 + 1 / 4) / 2)
    assert separation(cases[:100], probs[:100]) == 0.0  # no uncovered question: nothing to judge


def test_question_models_are_compared_by_ranking_whatever_the_threshold() -> None:
    from assistant.eval.cases import Case
    from assistant.eval.report import ranking

    def case(answerable: bool) -> Case:
        kind, must = ("fact", ["x"]) if answerable else ("uncovered", [])
        item = QAItem("q", kind, "问题", [], "", must, ["证据"] if answerable else [], doc="d")
        return Case(item, None, [], None, "library")  # type: ignore[arg-type]

    # 100 answerable at 0.00 … 0.99; 10 uncovered, four of them below every answerable one.
    cases = [case(True) for _ in range(100)] + [case(False) for _ in range(10)]
    uncovered = [-0.4, -0.3, -0.2, -0.1, 0.025, 0.045, 0.505, 0.605, 2, 3]
    probs = [i / 100 for i in range(100)] + uncovered
    got = ranking(cases, probs)
    # Abstaining below the 4th answerable (0.03) catches 5 uncovered; below the 6th, 6; the 11th, 6.
    assert got["abstain@0.03"] == 0.5 and got["abstain@0.05"] == 0.6
    assert got["abstain@0.10"] == 0.6
    # AUC: the share of (answerable, uncovered) pairs ordered right.
    pairs = sum(a > u for a in probs[:100] for u in probs[100:]) / 1000
    assert got["auc"] == pytest.approx(pairs, abs=1e-4)
    assert ranking(cases[:100], probs[:100]) == {}  # one kind only: nothing to rank


@pytest.mark.parametrize(
    ("question", "previous", "leans"),
    [
        ("那竣工率呢？", "平湖工业用地保障完成了多少？", True),
        ("还有呢？", "带押过户有什么好处？", True),
        ("它建成后一年能有多少收入？", "日本电产今年在平湖新签的是什么项目？", True),
        ("二手房带押过户有什么好处？", "日本电产今年在平湖新签的是什么项目？", False),
        ("战略性新兴产业的工业用地配套设施比例最多能占多少？", "增殖放流放了多少鱼苗？", False),
    ],
)
def test_the_shipped_follow_up_model_reads_everyday_turns(
    seed_assistant: Any, question: str, previous: str, leans: bool
) -> None:
    from assistant.answer.pipeline import has_topic, leans_on

    retriever = seed_assistant.retriever
    idf, size = retriever.rarity()
    an = retriever.analyzer
    info = analyse(question, an, an.synonyms, idf, an.domain)
    topic = has_topic(info, size)
    model = seed_assistant.model.followup_for(retriever.embedder is not None)
    assert leans_on(question, [previous], info, topic, retriever, model) is leans
