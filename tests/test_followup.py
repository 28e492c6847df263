"""Follow-up resolution: stateless, from the history that comes with the request."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from assistant.answer.followup import (
    LEAN_FEATURES,
    entities,
    lean_features,
    needs_context,
    resolve,
    resolve_turn,
    resolve_with,
)


@pytest.mark.parametrize(
    "question",
    [
        "这个项目要用多少地？",
        "那竣工率呢？",
        "它建成后一年能有多少收入？",
        "还有呢？",
        "都放了哪些品种？",
        "那银行那边是怎么配合的？",
    ],
)
def test_questions_that_lean_on_the_previous_turn(question: str) -> None:
    assert needs_context(question)


def test_a_full_question_stands_alone() -> None:
    q = "战略性新兴产业的工业用地配套设施比例最多能占多少？"
    assert not needs_context(q)
    assert resolve(q, ["日本电产今年在平湖新签的是什么项目？"]) == q


def test_without_history_nothing_is_borrowed() -> None:
    assert resolve("那竣工率呢？", []) == "那竣工率呢？"
    assert resolve_turn("那竣工率呢？", []).context == []


def test_follow_up_borrows_the_previous_question() -> None:
    turn = resolve_turn("这个项目要用多少地？", ["你好", "日本电产今年在平湖新签的是什么项目？"])
    assert turn.context == ["日本电产今年在平湖新签的是什么项目？"]
    assert turn.query == "这个项目要用多少地？ 日本电产今年在平湖新签的是什么项目？"


def test_a_short_previous_question_brings_the_one_before() -> None:
    history = ["卫星石化和法国液化空气合作的项目投资多少？", "一期占地多大？"]
    turn = resolve_turn("那这些地是怎么凑齐的？", history)
    assert turn.context == history


def test_names_in_the_previous_answer_are_carried_forward() -> None:
    reply = "日本电产集团投资3亿美元建设日本电产新能源驱动电机旗舰工厂项目[1]。"
    assert any("旗舰工厂" in e for e in entities(reply))
    turn = resolve_turn("它什么时候投产？", ["日本电产签了什么？"], [reply])
    assert any("旗舰工厂" in c for c in turn.context)


def test_an_llm_rewrite_replaces_the_rules_and_falls_back_on_failure() -> None:
    history = ["日本电产今年在平湖新签的是什么项目？"]
    calls: list[tuple[str, Sequence[str]]] = []

    def rewrite(q: str, h: Sequence[str], a: Sequence[str]) -> str:
        calls.append((q, h))
        return "日本电产新能源驱动电机旗舰工厂项目什么时候投产？"

    turn = resolve_with(rewrite, "它什么时候投产？", history)
    assert turn.rewritten and turn.query == "日本电产新能源驱动电机旗舰工厂项目什么时候投产？"
    assert calls == [("它什么时候投产？", history)]

    def broken(q: str, h: Sequence[str], a: Sequence[str]) -> str:
        raise TimeoutError("slow model")

    fallback = resolve_with(broken, "它什么时候投产？", history)
    assert not fallback.rewritten and fallback.query == resolve("它什么时候投产？", history)
    rambling = resolve_with(lambda q, h, a: "好的，" * 200, "它什么时候投产？", history)
    assert not rambling.rewritten


def test_a_stand_alone_question_is_never_sent_for_rewriting() -> None:
    def rewrite(q: str, h: Sequence[str], a: Sequence[str]) -> str:
        raise AssertionError("should not be called")

    q = "战略性新兴产业的工业用地配套设施比例最多能占多少？"
    assert resolve_with(rewrite, q, ["前一个问题"]).query == q


def test_lean_features_are_what_the_follow_up_model_weighs() -> None:
    previous = "日本电产今年在平湖新签的是什么项目？"
    f = lean_features("那它什么时候投产？", previous, False, ["投产"])
    assert f == {
        "anaphora": 1.0,
        "short": 1.0,
        "has_topic": 0.0,
        "shared": 0.0,
        "log_length": math.log(len("那它什么时候投产？")),
    }
    # Without an embedder the similarity is absent (the model reads it as its mean).
    g = lean_features("日本电产的项目占地多少？", previous, True, ["日本电产", "占地"], 0.8)
    assert g["shared"] == 0.5 and g["similarity"] == 0.8 and g["anaphora"] == 0.0
    assert set(g) == set(LEAN_FEATURES)


def test_the_follow_up_decision_overrides_the_rule() -> None:
    history = ["日本电产今年在平湖新签的是什么项目？"]
    assert resolve_turn("那它什么时候投产？", history, leans=False).context == []
    full = "战略性新兴产业的工业用地配套设施比例最多能占多少？"
    assert resolve_turn(full, history, leans=True).context == history
    # Without a decision the rule decides, as before.
    assert resolve_turn("那它什么时候投产？", history).context == history
