"""Precedent cards: extraction as pure functions, the seed newsletter's cases, GET /api/precedents,
and /api/search's match flag (relevance cue and cut-off) against a real uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_utils import assert_envelope, serve_shared, wait_ready

from assistant.ingest.pipeline import build_document, read_sidecar
from assistant.precedents import (
    Casebook,
    Extractor,
    MeasureTable,
    Section,
    matches,
    sections_of,
)
from assistant.settings import get_settings
from tests.conftest import ANALYZER

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "corpus" / "平湖自然资源和规划简报-项目用地保障专刊.txt"
NEWS_TITLE = "嘉善县优化营商环境简报"
NEWS = (
    "嘉善县优化营商环境简报\n"
    "智能装备产业园项目快速落地\n"
    "今年3月，浙江恒远科技有限公司投资5亿元建设的嘉善智能装备产业园一期项目正式开工。"
    "县自然资源和规划局开辟绿色通道，实行“拿地即开工”模式，项目从摘牌到开工仅用15天。\n"
)
RULE = (
    "支持智能化改造\n"
    "对企业实施数字化、网络化、智能化技改项目3年期以上贷款，省级按照同期银行基准利率40%"
    "给予贴息，单个项目贴息期不超过3年，最高500万元。\n"
)


@pytest.fixture(scope="module")
def ex() -> Extractor:
    return Extractor(ANALYZER)


@pytest.fixture(scope="module")
def seed() -> tuple[str, str, dict[str, str]]:
    doc = build_document(SEED.read_bytes(), SEED.name, get_settings(), read_sidecar(SEED))
    return doc.title, doc.text, dict(doc.metadata)


@pytest.fixture(scope="module")
def seed_cards(ex: Extractor, seed: tuple[str, str, dict[str, str]]) -> list[Any]:
    title, text, facts = seed
    return ex.extract("seed", title, text, sections_of(title, text), facts)


# ----- pieces -------------------------------------------------------------------------------


def test_subjects_are_named_projects_and_enterprises(ex: Extractor) -> None:
    text = (
        "今年6月，我市最大外商投资企业——日本电产集团再度与平湖签约，"
        "投资3亿美元建设日本电产新能源驱动电机旗舰工厂项目。"
    )
    found = {(s.name, s.kind) for s in ex.subjects(text)}
    assert found == {
        ("日本电产集团", "enterprise"),
        ("日本电产新能源驱动电机旗舰工厂项目", "project"),
    }
    for s in ex.subjects(text, offset=100):
        assert text[s.start - 100 : s.end - 100] == s.name
    # A count makes a category concrete; a length inside a name after its place stays in it.
    assert [
        s.name for s in ex.subjects("省国土整治中心对我市8个建设用地复垦项目进行了复检验收")
    ] == ["8个建设用地复垦项目"]
    assert [
        s.name
        for s in ex.subjects("完成独山港白沙湾4.5公里海岸线景观提升工程，总投资额约为492万元。")
    ] == ["独山港白沙湾4.5公里海岸线景观提升工程"]


def test_generic_names_are_no_ones_case(ex: Extractor) -> None:
    for text in (
        "将土地要素向重大项目倾斜，做到应保尽保。",
        "适当减免部分产业项目竣工违约责任。",
        "拓宽项目用地保障途径。",
        "一批外资项目完成用地审批。",
    ):
        assert ex.subjects(text) == [], text


def test_event_headlines_have_their_own_subject(ex: Extractor) -> None:
    assert ex.event_subject("我市首笔二手房“带押过户”业务成功落地") == "首笔二手房“带押过户”业务"
    assert (
        ex.event_subject("我市获评全省无违建示范县(市、区)", "平湖市")
        == "平湖市获评全省无违建示范县(市、区)"
    )
    assert ex.event_subject("多形式开展党的二十大精神学习") == ""


def test_dates_are_resolved_against_the_documents_date(ex: Extractor) -> None:
    def first(text: str, doc_date: str = "2022") -> tuple[str, str, bool]:
        d = ex.dates(text, doc_date)[0]
        return d.text, d.date, d.resolved

    assert first("今年6月，日本电产集团再度签约") == ("今年6月", "2022-06", True)
    assert first("去年3月，浙江卫星石化股份有限公司") == ("去年3月", "2021-03", True)
    assert first("其中德国胶王独山港项目已于10月20日正式开工") == ("10月20日", "2022-10-20", True)
    assert first("近日，市不动产登记服务中心成功落地") == ("近日", "2022", True)
    assert first("2020年年底，浙江省人民政府批复同意") == ("2020年", "2020", False)
    assert first("今年三月开工", "2023-05-01") == ("今年三月", "2023-03", True)
    # An undated document cannot tell what 今年 was; a period since a year is not an event's date.
    assert first("今年6月签约", "") == ("今年6月", "", True)
    assert ex.dates("自2013年全省开展“三改一拆”工作以来", "2022") == []


def test_figures_keep_their_units(ex: Extractor) -> None:
    text = "投资3亿美元，用地90亩，完成率95.12%，新增耕地340亩，超5亿个单位，共41个，2022年。"
    assert ex.figures(text) == ["3亿美元", "90亩", "95.12%", "340亩", "5亿个单位", "41个"]


def test_measures_from_the_table_and_from_quotes(ex: Extractor) -> None:
    text = (
        "开辟“优先安排指标、优先规划、优先审批”的绿色通道，探索实行“拿地即开工”模式，"
        "建立“全方位、全时段、立体化、无死角”的巡查模式，创新实行“承诺制”，打造“中国氢湾”。"
    )
    found = ex.measures(text, offset=10)
    assert [(m.name, m.how) for m in found] == [
        ("优先安排指标", "table"),
        ("优先规划", "table"),
        ("优先审批", "table"),
        ("绿色通道", "table"),
        ("拿地即开工模式", "quoted"),
        ("承诺制", "table"),
    ]
    for m in found:
        assert text[m.start - 10 : m.end - 10] == m.text


def test_the_measure_table_is_editable_data(tmp_path: Path, ex: Extractor) -> None:
    path = tmp_path / "measures.tsv"
    path.write_text("# comment\n容缺受理\t容缺(?:受理|办理)\n\n", encoding="utf-8")
    table = MeasureTable.load(path)
    assert [name for name, _ in table.entries] == ["容缺受理"]
    custom = Extractor(ANALYZER, ex.gazetteer, table)
    assert [m.name for m in custom.measures("实行容缺办理，开辟绿色通道")] == ["容缺受理"]


# ----- cases --------------------------------------------------------------------------------


def test_a_newsletter_case_becomes_a_card(ex: Extractor) -> None:
    (card,) = ex.extract(
        "d1",
        NEWS_TITLE,
        NEWS,
        sections_of(NEWS_TITLE, NEWS),
        {"date": "2023-05", "jurisdiction": "嘉善县"},
    )
    assert card.subject == "嘉善智能装备产业园一期项目" and card.subject_kind == "project"
    assert card.parties == ["浙江恒远科技有限公司"]
    assert card.place == "嘉善县"
    assert (card.date, card.date_text, card.year) == ("2023-03", "今年3月", "2023")
    assert card.measure_names == ["绿色通道", "拿地即开工模式"]
    assert card.figures == ["5亿元", "15天"]
    assert card.quote == NEWS[card.quote_start : card.quote_end]
    assert (
        "拿地即开工" in card.quote and card.start <= card.quote_start < card.quote_end <= card.end
    )
    assert card.headline == "智能装备产业园项目快速落地"


def test_a_rule_is_no_case(ex: Extractor) -> None:
    assert ex.measures(RULE)  # 贴息 is a measure, but nothing here has been done yet
    assert ex.extract("d2", "安徽", RULE, sections_of("安徽", RULE), {"date": "2021-09-02"}) == []


def test_the_seed_newsletters_cases(
    seed: tuple[str, str, dict[str, str]], seed_cards: list[Any]
) -> None:
    _, text, _ = seed
    by_subject = {c.subject: c for c in seed_cards}
    assert len(seed_cards) >= 10
    first = by_subject["首笔二手房“带押过户”业务"]
    assert (first.date, first.date_text, first.place) == ("2022", "近日", "平湖市")
    assert "带押过户" in first.measure_names
    japan = by_subject["日本电产新能源驱动电机旗舰工厂项目"]
    assert (japan.date, japan.date_text) == ("2022-06", "今年6月")
    assert {"绿色通道", "优先审批"} <= set(japan.measure_names)
    assert {"3亿美元", "90亩"} <= set(japan.figures)
    hydrogen = by_subject["新材料新能源产品一体化项目"]
    assert hydrogen.date == "2021-03" and hydrogen.place == "独山港经济开发区"
    assert "浙江卫星石化股份有限公司" in hydrogen.parties
    assert {"盘活存量建设用地", "腾退低效闲置用地"} <= set(hydrogen.measure_names)
    reclaimed = by_subject["8个建设用地复垦项目"]
    assert "340亩" in reclaimed.figures and "林埭镇" in reclaimed.places
    for c in seed_cards:  # every offset points at verbatim text
        assert text[c.quote_start : c.quote_end] == c.quote
        assert all(text[m.start : m.end] == m.text for m in c.measures)
        assert c.measures and (c.figures or c.date)


def test_filters(ex: Extractor, seed_cards: list[Any]) -> None:
    def subjects(**f: str) -> set[str]:
        return {c.subject for c in seed_cards if matches(c, gazetteer=ex.gazetteer, **f)}

    assert subjects(measure="带押过户") == {"首笔二手房“带押过户”业务"}
    assert subjects(year="2021") == {"新材料新能源产品一体化项目"}
    assert "独山能源三期PTA项目" in subjects(place="独山港")
    assert subjects(place="浙江") == subjects() == {c.subject for c in seed_cards}
    assert subjects(place="广东") == set()
    assert subjects(measure="带押过户", year="2021") == set()


def test_the_casebook_reads_a_document_again_only_when_it_changes(ex: Extractor) -> None:
    reads: list[str] = []

    def text_of(doc_id: str) -> str:
        reads.append(doc_id)
        return NEWS

    book = Casebook(ex)
    docs = [("d1", NEWS_TITLE, "hash-1")]
    facts = {"d1": {"date": "2023", "jurisdiction": "嘉善县"}}
    assert [c.date for c in book.cards(docs, facts, text_of)] == ["2023-03"]
    assert [c.date for c in book.cards(docs, facts, text_of)] == ["2023-03"]
    assert reads == ["d1"]
    facts["d1"]["date"] = "2024"  # an admin corrected the date: 今年3月 is now 2024年3月
    assert [c.date for c in book.cards(docs, facts, text_of)] == ["2024-03"]
    assert book.cards([], facts, text_of) == [] and reads == ["d1", "d1"]


def test_sections_follow_the_headlines() -> None:
    secs = sections_of(NEWS_TITLE, NEWS)
    assert [s.heading for s in secs] == [["智能装备产业园项目快速落地"]]
    assert isinstance(secs[0], Section) and secs[0].heading_end > secs[0].start


# ----- the routes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(seed_assistant: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_shared(seed_assistant, tmp_path_factory.mktemp("precedents")) as url:
        wait_ready(url)
        yield url


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


def test_precedents_route_lists_and_filters_cards(client: httpx.Client) -> None:
    r = client.get("/api/precedents")
    assert r.status_code == 200, r.text
    body = r.json()
    cards = body["precedents"]
    assert body["total"] == len(cards) >= 10
    facets = body["facets"]
    assert {"value": "带押过户", "count": 1} in facets["measures"]
    assert [f["value"] for f in facets["years"]] == sorted(
        {c["year"] for c in cards if c["year"]}, reverse=True
    )
    doc_id = cards[0]["source"]["document_id"]
    text = client.get(f"/api/documents/{doc_id}").json()["text"]
    for c in cards:
        src = c["source"]
        assert text[src["quote_start"] : src["quote_end"]] == src["quote"]
        assert src["start"] <= src["quote_start"] < src["quote_end"] <= src["end"]
        assert c["document"]["date"] == "2022" and c["document"]["jurisdiction"] == "平湖市"

    (first,) = client.get("/api/precedents", params={"measure": "带押过户"}).json()["precedents"]
    assert first["subject"] == "首笔二手房“带押过户”业务"
    assert (first["date"], first["date_label"], first["date_text"]) == ("2022", "2022年", "近日")
    assert first["date_resolved"] is True and first["place"] == "平湖市"

    older = client.get("/api/precedents", params={"year": "2021"}).json()
    assert [c["subject"] for c in older["precedents"]] == ["新材料新能源产品一体化项目"]
    assert older["total"] == len(cards)
    zone = client.get("/api/precedents", params={"place": "独山港"}).json()["precedents"]
    assert zone and all(any("独山港" in p for p in c["places"]) for c in zone)
    province = client.get("/api/precedents", params={"place": "浙江省"}).json()["precedents"]
    assert len(province) == len(cards)
    assert client.get("/api/precedents", params={"place": "广东"}).json()["precedents"] == []
    assert_envelope(client.get("/api/precedents", params={"year": "22"}), 422)


def test_search_without_match_answers_as_before(client: httpx.Client) -> None:
    r = client.post("/api/search", json={"query": "杭州 公积金 提取", "top_k": 20})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"hits"} and len(body["hits"]) == 20
    assert all(set(h) == {"text", "score", "source", "document"} for h in body["hits"])


def test_search_with_match_cuts_weak_passages(client: httpx.Client) -> None:
    r = client.post("/api/search", json={"query": "杭州 公积金 提取", "top_k": 20, "match": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["hits"] == []
    summary = body["match"]
    assert summary["rule"] == "term-coverage" and summary["min_coverage"] == 0.5
    assert [t["text"] for t in summary["terms"]] == ["杭州", "公积金", "提取"]
    assert all(t["passages"] == 0 for t in summary["terms"])  # 杭州湾 is not 杭州
    assert summary["dropped"] > 0


def test_search_with_match_says_what_each_passage_holds(client: httpx.Client) -> None:
    body = client.post("/api/search", json={"query": "盘活存量", "top_k": 20, "match": True}).json()
    hits = body["hits"]
    assert 1 <= len(hits) < 20 and body["match"]["dropped"] > 0
    coverages = [h["match"]["coverage"] for h in hits]
    assert coverages == sorted(coverages, reverse=True) and min(coverages) >= 0.5
    assert hits[0]["match"]["strength"] == "all" and hits[0]["match"]["terms"] == ["盘活", "存量"]
    for h in hits:
        m = h["match"]
        src = h["source"]
        assert src["start"] <= m["sentence_start"] < m["sentence_end"] <= src["end"]
        sentence = h["text"][m["sentence_start"] - src["start"] : m["sentence_end"] - src["start"]]
        assert any(t in sentence for t in m["terms"])
        assert sorted([*m["terms"], *m["missing"]]) == sorted(["盘活", "存量"])
    # The flag is part of the documented request body.
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "match" in schema["SearchRequest"]["properties"]
    assert schema["SearchRequest"]["properties"]["query"]["maxLength"] == 500
