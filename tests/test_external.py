"""Real documents from elsewhere (../shared/external): every file goes in, and LeCoQA recall."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from assistant.eval.metrics import evaluate_answers, evaluate_retrieval, load_qa
from assistant.service import Assistant
from assistant.settings import get_settings
from tests.conftest import REPO, external


@pytest.fixture(scope="module")
def external_bot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Assistant, object]:
    """All of policy_docs, lexical only: parsing and bookkeeping are under test here, not embeddings."""
    docs = external("policy_docs")
    bot = Assistant(
        get_settings(index_dir=tmp_path_factory.mktemp("ext"), embedder="none", ocr=False)
    )
    return bot, bot.ingest([docs])


@pytest.fixture(scope="module")
def library_bot(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """A bureau's library: all of policy_docs beside the 平湖 newsletter, lexical only."""
    docs = external("policy_docs")
    bot = Assistant(
        get_settings(index_dir=tmp_path_factory.mktemp("lib"), embedder="none", ocr=False)
    )
    assert not bot.ingest([docs, REPO / "corpus"]).failed
    return bot


@pytest.mark.slow
@pytest.mark.external
def test_every_external_document_ingests_or_fails_clearly(
    external_bot: tuple[Assistant, object],
) -> None:
    bot, report = external_bot
    files = [p for p in external("policy_docs").rglob("*") if p.is_file()]
    assert len(report.added) + len(report.failed) == len(files)  # type: ignore[attr-defined]
    for name, reason in report.failed:  # type: ignore[attr-defined]
        assert len(reason) > 10, (name, reason)
    assert len(report.added) >= len(files) - 1  # type: ignore[attr-defined]
    titles = {d.title for d in bot.documents()}
    assert any("民法典" in t for t in titles) and any("土地管理法" in t for t in titles)


@pytest.mark.slow
@pytest.mark.external
def test_civil_code_articles_are_whole_and_page_numbers_gone(
    external_bot: tuple[Assistant, object],
) -> None:
    bot, _ = external_bot
    hits = bot.search("建设用地使用权人依法对国家所有的土地享有占有、使用和收益的权利", 3)
    assert "建设用地使用权人依法对国家所有的土地享有占有、使用和收益的权利" in hits[
        0
    ].chunk.text.replace("\n", "")
    assert hits[0].chunk.pages, "PDF chunks carry their page numbers"
    assert any("第三百四十四条" in h for h in hits[0].chunk.heading_path)


@pytest.mark.slow
@pytest.mark.external
def test_lecoqa_land_and_civil_code_recall(
    external_bot: tuple[Assistant, object], tmp_path: Path
) -> None:
    external("qa_datasets", "lecoqa", "queries.json")
    spec = importlib.util.spec_from_file_location("lecoqa", REPO / "bench" / "lecoqa.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    items = module.convert(limit_civil=150)
    path = tmp_path / "lecoqa.jsonl"
    path.write_text(
        "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8"
    )
    bot, _ = external_bot
    report = evaluate_retrieval(load_qa(path), lambda it: bot.search(it.question, 5))
    # Lexical only, real layperson questions against statutes; the hybrid figure is in BENCHMARKS.md.
    assert report["answerable"]["n"] >= 150
    assert report["answerable"]["r@5"] >= 0.5, report["answerable"]


@pytest.mark.slow
@pytest.mark.external
def test_land_law_questions_are_answered_from_their_articles(
    external_bot: tuple[Assistant, object],
) -> None:
    """bench/data/law_qa.jsonl: everyday questions about the land statutes, among all external files."""
    bot, _ = external_bot
    items = load_qa(REPO / "bench" / "data" / "law_qa.jsonl")
    retrieval = evaluate_retrieval(items, lambda it: bot.search(it.question, 5))
    answers = evaluate_answers(items, lambda q, h: bot.ask(q, h))
    # Lexical only, with every other external file as distractors; the hybrid figures and what
    # is still missed are in BENCHMARKS.md. Floors against regressions, not targets.
    assert retrieval["answerable"]["r@5"] >= 0.8, retrieval["answerable"]
    assert answers["answerable"]["facts"] >= 0.3, answers["answerable"]
    # 4 of the 8 near misses: the abstain threshold keeps false abstention within 3% on the library
    # questions of tune, which refuses fewer near misses than the pooled threshold did (6 or more).
    assert answers["unanswerable"]["abstain_ok"] >= 0.5, answers["unanswerable"]
    for record in answers["records"]:
        assert record["abstained"] or record["cited"] >= 1, record


@pytest.mark.slow
@pytest.mark.external
def test_a_place_is_never_answered_with_another_places_rule(
    external_bot: tuple[Assistant, object],
) -> None:
    bot, _ = external_bot
    for question, other in [
        ("上海农村宅基地一户最多能批多大面积？", "广东省"),
        ("广东的不动产登记申请要在几个工作日内办结？", "上海市"),
    ]:
        a = bot.ask(question)
        assert all(c.document.get("jurisdiction") != other for c in a.citations), (question, a.text)
    # The rule of the place asked about answers, and its source says whose it is.
    a = bot.ask("广东农村宅基地一户最多能批多大面积？")
    assert not a.abstained and "八十平方米" in a.text
    assert {c.document.get("jurisdiction") for c in a.citations} == {"广东省"}


@pytest.mark.slow
@pytest.mark.external
def test_a_pinghu_question_is_answered_from_pinghu_or_above_or_says_what_exists(
    library_bot: Assistant,
) -> None:
    bot = library_bot
    allowed = {"平湖市", "嘉兴市", "浙江省", "全国"}
    for question in [
        "平湖农村宅基地一户最多能批多大面积？",
        "平湖征收农民集体土地，要给哪些补偿？",
        "在平湖办不动产登记，多少个工作日办完？",
        "平湖今年复垦了多少亩？",
    ]:
        a = bot.ask(question)
        places = {c.document.get("jurisdiction") for c in a.citations}
        if a.abstained and a.citations:
            assert a.text.startswith("现有文件中没有平湖市的规定，只有"), (question, a.text)
        else:
            assert places <= allowed, (question, places, a.text)
    # Answered from national law for a 平湖 question: the answer says whose rule it is.
    a = bot.ask("平湖征收农民集体土地，要给哪些补偿？")
    if not a.abstained and {c.document.get("jurisdiction") for c in a.citations} == {"全国"}:
        assert "全国性规定：" in a.text


@pytest.mark.slow
@pytest.mark.external
def test_every_citation_says_whose_rule_and_when(external_bot: tuple[Assistant, object]) -> None:
    bot, _ = external_bot
    a = bot.ask("国家征收土地需要经过哪些程序？")
    assert a.citations
    for c in a.citations:
        assert c.document.get("jurisdiction") == "全国", c.document
        assert c.document.get("date", "").startswith(("2019", "2021")), c.document
