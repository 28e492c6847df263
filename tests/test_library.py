"""A bureau's library: document facts, versions, filters, whose rule an answer is and when it was."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_utils import ADMIN_KEY, LiveServer, assert_envelope, wait_ready

from api.main import create_app
from assistant.answer.provenance import annotate, date_notes, resolve
from assistant.errors import InvalidInput
from assistant.ingest.metadata import DocumentFilter, Edits, date_of, versions, work_of
from assistant.models import Answer, Citation
from assistant.service import Assistant
from assistant.settings import get_settings
from assistant.text.places import Gazetteer, Jurisdictions

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
OLD = "示范市土地管理条例(2010-03-01).md"
NEW = "示范市土地管理条例(2020-06-01).md"
RULE = "# 示范市土地管理条例\n\n第八条 农村村民一户只能拥有一处宅基地，新批宅基地每户面积不得超过{}平方米。\n"


@pytest.fixture(scope="module")
def versioned(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """Two versions of one regulation, with different figures, lexical only."""
    root = tmp_path_factory.mktemp("versions")
    docs = root / "docs"
    docs.mkdir()
    (docs / OLD).write_text(RULE.format("一百二十"), encoding="utf-8")
    (docs / NEW).write_text(RULE.format("八十"), encoding="utf-8")
    bot = Assistant(get_settings(index_dir=root / "index", embedder="none", ocr=False))
    assert not bot.ingest([docs]).failed
    return bot


def ids_by_name(bot: Assistant) -> dict[str, str]:
    return {Path(r.source).name: r.id for r in bot.documents()}


# ----- facts read off the text ----------------------------------------------------------------


def test_a_law_is_dated_by_its_last_amendment() -> None:
    head = (
        "中华人民共和国劳动合同法\n（2007 年 6 月 29 日第十届全国人民代表大会常务委员会第二十八次"
        "会议通过 根据 2012 年 12 月 28 日第十一届全国人民代表大会常务委员会第三十次会议《关于修改"
        "<中华人民共和国劳动合同法>的决定》修正）\n第一章 总则"
    )
    assert date_of("劳动合同法.pdf", head) == "2012-12-28"
    assert date_of("民法典.pdf", "中华人民共和国民法典\n（2020年5月28日第十三届全国人民代表大会第三次会议通过）") == "2020-05-28"  # fmt: skip


def test_a_notice_is_dated_by_its_signature_else_its_number() -> None:
    body = "关于印发某办法的通知\n包府办发〔2022〕43号\n各旗县区：\n正文。\n包头市人民政府办公室\n2022年4月25日\n"
    assert date_of("notice.txt", body) == "2022-04-25"
    assert date_of("notice.txt", "关于印发某办法的通知\n包府办发〔2022〕43号\n正文。") == "2022"
    assert date_of("notice.txt", "没有日期的文字。") == ""


def test_versions_of_one_work_and_only_dated_ones_compared() -> None:
    assert work_of("中华人民共和国劳动合同法") == work_of("劳动合同法") == "劳动合同法"
    assert work_of("示范市土地管理条例(2010-03-01)") == "示范市土地管理条例"
    titles = {"a": "劳动合同法", "b": "中华人民共和国劳动合同法", "c": "劳动合同法", "d": "宪法"}
    facts = {
        "a": {"date": "2007-06-29"},
        "b": {"date": "2012-12-28"},
        "c": {},
        "d": {"date": "2004"},
    }
    assert versions(titles, facts) == {"a": "b"}


def test_filters_match_places_within_kinds_dates_and_status() -> None:
    g = Gazetteer.load()
    pinghu = {"jurisdiction": "平湖市", "kind": "工作简报", "date": "2022"}
    national = {"jurisdiction": "全国", "kind": "法律", "date": "2019-08-26", "status": "current"}
    assert DocumentFilter(jurisdictions=["浙江省"]).matches(pinghu, g)
    assert not DocumentFilter(jurisdictions=["广东省"]).matches(pinghu, g)
    assert not DocumentFilter(jurisdictions=["浙江省"]).matches(national, g)
    assert DocumentFilter(jurisdictions=["全国"]).matches(national, g)
    assert DocumentFilter(kinds=["法律"]).matches(national, g)
    assert DocumentFilter(date_from="2019", date_to="2019-12").matches(national, g)
    assert not DocumentFilter(date_from="2020").matches(national, g)
    assert not DocumentFilter(date_from="2020").matches({"jurisdiction": "全国"}, g)  # undated
    assert not DocumentFilter(status="superseded").matches(national, g)


def test_edits_are_checked_kept_and_cleared(tmp_path: Path) -> None:
    edits = Edits(tmp_path / "facts.json")
    assert edits.update("doc", {"date": "2022", "issuer": "某局"}) == {
        "date": "2022",
        "issuer": "某局",
    }
    assert Edits(tmp_path / "facts.json").all() == {"doc": {"date": "2022", "issuer": "某局"}}
    assert edits.update("doc", {"issuer": None}) == {"date": "2022"}
    for bad in ({"date": "22年"}, {"date": "2022-13"}, {"status": "old"}, {"colour": "red"}):
        with pytest.raises(InvalidInput):
            edits.update("doc", bad)
    assert edits.all() == {"doc": {"date": "2022"}}


# ----- what an answer says about its sources -----------------------------------------------------


def test_relative_dates_resolve_against_the_document_date() -> None:
    assert resolve("今年", "2022") == "2022年"
    assert resolve("去年", "2022-09-01") == "2021年"
    assert resolve("上月", "2022-01-15") == "2021年12月"
    assert resolve("本月", "2022") == ""  # the month is not known
    assert resolve("近日", "2022-04-25") == "2022年4月25日前后"
    dated = Citation(
        1, "今年以来复垦902亩，去年3月签约。", "d", "t", [], None, 0, 9, "c", {"date": "2022"}
    )
    undated = Citation(2, "今年6月签约。", "e", "t", [], None, 0, 5, "c", {})
    notes = date_notes([dated, undated])
    assert notes[0] == "（文中“今年”指2022年，“去年”指2021年，据文件日期2022年）[1]"
    assert notes[1] == "（文件日期不详，文中“今年”所指时间无法确定）[2]"
    vague = Citation(3, "近日，省里验收。", "f", "t", [], None, 0, 5, "c", {"date": "2022"})
    assert date_notes([vague]) == ["（文件日期只到2022年，文中“近日”所指时间无法确定）[3]"]


def answer_from(jurisdiction: str, quote: str = "每户面积不得超过八十平方米。") -> Answer:
    c = Citation(1, quote, "doc", "某条例", [], None, 0, 10, "c")
    return Answer(quote + "[1]", [c], False, 0.9)


def test_another_places_rule_becomes_an_abstention_naming_what_exists() -> None:
    g = Gazetteer.load()
    where = Jurisdictions(g, {"doc": "广东省"}, "平湖")
    facts = {"doc": {"jurisdiction": "广东省"}}
    out = annotate(answer_from("广东省"), "上海宅基地多大？", ["上海"], where, facts)
    assert out.abstained and out.text.startswith("现有文件中没有上海市的规定，只有广东省的规定：")
    assert out.citations[0].document["jurisdiction"] == "广东省"
    # No place named: the question is about home (平湖), and the answer says the rule is not local.
    out = annotate(answer_from("广东省"), "宅基地多大？", [], where, facts)
    assert not out.abstained and out.text.startswith("广东省的规定（非本地）：")
    national = Jurisdictions(g, {"doc": "全国"}, "平湖")
    out = annotate(
        answer_from("全国"),
        "上海宅基地多大？",
        ["上海"],
        national,
        {"doc": {"jurisdiction": "全国"}},
    )
    assert not out.abstained and out.text.startswith("全国性规定：")


def test_a_question_about_now_answered_from_an_older_source_says_its_year() -> None:
    facts = {"doc": {"jurisdiction": "全国", "date": "2019-08-26"}}
    today = datetime.date(2026, 11, 30)
    out = annotate(answer_from("全国"), "最新的规定是什么？", [], None, facts, today=today)
    assert out.text.startswith("据2019年8月26日的文件（现有最新资料）：")
    out = annotate(answer_from("全国"), "规定是什么？", [], None, facts, today=today)
    assert out.text.startswith("每户")


# ----- the library, end to end ---------------------------------------------------------------------


def test_the_newer_version_answers_and_the_older_only_when_asked(versioned: Assistant) -> None:
    ids = ids_by_name(versioned)
    facts = versioned.document_facts()
    assert facts[ids[OLD]]["status"] == "superseded"
    assert facts[ids[OLD]]["replaced_by"] == ids[NEW]
    assert facts[ids[NEW]]["status"] == "current"
    a = versioned.ask("示范市宅基地每户面积最多多少平方米？")
    assert not a.abstained and "八十" in a.text and "一百二十" not in a.text
    assert {c.document_id for c in a.citations} == {ids[NEW]}
    # (Not "…条例规定…": the two-sentence library never uses 规 or 定, so that word is a gap.)
    old = versioned.ask("修订前的示范市条例，宅基地每户面积最多多少平方米？")
    assert "一百二十" in old.text and {c.document_id for c in old.citations} == {ids[OLD]}
    assert old.citations[0].document["status"] == "superseded"


def test_an_admin_edit_outlives_a_reingest_and_can_mark_a_version(
    versioned: Assistant, tmp_path: Path
) -> None:
    ids = ids_by_name(versioned)
    try:
        versioned.edit_document(ids[NEW], {"status": "superseded", "issuer": "示范市人大常委会"})
        facts = versioned.document_facts()[ids[NEW]]
        assert facts["status"] == "superseded" and facts["issuer"] == "示范市人大常委会"
        a = versioned.ask("示范市宅基地每户面积最多多少平方米？")
        assert a.abstained  # both versions are now marked old: nothing current answers
    finally:
        versioned.edit_document(ids[NEW], {"status": None, "issuer": None})
    assert versioned.document_facts()[ids[NEW]]["status"] == "current"


def test_the_seed_newsletter_resolves_its_relative_dates(seed_assistant: Assistant) -> None:
    a = seed_assistant.ask("平湖今年复垦盘活了多少亩用地指标？")
    assert not a.abstained and "902亩" in a.text
    assert a.citations[0].document.get("date") == "2022"
    assert "（文中“今年”指2022年，据文件日期2022年）[" in a.text
    # The question asks about this year; the source is of 2022 and says so.
    assert a.text.startswith("据2022年的工作简报（现有最新资料）：")


@pytest.fixture(scope="module")
def library_server(tmp_path_factory: pytest.TempPathFactory, versioned: Assistant) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("library-api")
    settings = versioned.settings.model_copy(
        update={"api_key": ADMIN_KEY, "upload_dir": tmp / "uploads", "corpus_dir": tmp / "corpus"}
    )
    with LiveServer(create_app(settings)) as url:
        wait_ready(url)
        yield url


def test_filters_and_fact_edits_over_http(library_server: str, versioned: Assistant) -> None:
    ids = ids_by_name(versioned)
    with httpx.Client(base_url=library_server, timeout=60) as http:
        hits = http.post("/api/search", json={"query": "宅基地面积"}).json()["hits"]
        assert {h["document"]["status"] for h in hits} == {"current", "superseded"}
        assert all(h["document"]["date"] for h in hits)
        only_old = {"query": "宅基地面积", "filters": {"status": "superseded"}}
        hits = http.post("/api/search", json=only_old).json()["hits"]
        assert {h["source"]["document_id"] for h in hits} == {ids[OLD]}
        elsewhere = {"query": "宅基地面积", "filters": {"jurisdiction": ["广东省"]}}
        assert http.post("/api/search", json=elsewhere).json()["hits"] == []
        dated = {"query": "宅基地面积", "filters": {"date_from": "2015"}}
        hits = http.post("/api/search", json=dated).json()["hits"]
        assert {h["source"]["document_id"] for h in hits} == {ids[NEW]}
        asked = http.post(
            "/api/ask",
            json={"question": "宅基地每户面积最多多少？", "filters": {"date_to": "2015"}},
        ).json()
        assert all(c["source"]["document_id"] == ids[OLD] for c in asked["citations"])
        bad = http.post("/api/search", json={"query": "x", "filters": {"date_from": "去年"}})
        assert_envelope(bad, 422)

        url = f"/api/documents/{ids[NEW]}/facts"
        assert_envelope(http.patch(url, json={"issuer": "某局"}), 401)
        assert_envelope(http.patch(url, json={"date": "2020年"}, headers=ADMIN), 422)
        assert_envelope(http.patch("/api/documents/nope/facts", json={}, headers=ADMIN), 404)
        r = http.patch(url, json={"issuer": "示范市人大常委会"}, headers=ADMIN)
        assert r.status_code == 200 and r.json()["facts"]["issuer"] == "示范市人大常委会"
        listed = {d["id"]: d for d in http.get("/api/documents").json()["documents"]}
        assert listed[ids[NEW]]["facts"]["issuer"] == "示范市人大常委会"
        assert listed[ids[OLD]]["facts"]["replaced_by"] == ids[NEW]
        r = http.patch(url, json={"issuer": None}, headers=ADMIN)
        assert r.json()["facts"]["issuer"] is None
