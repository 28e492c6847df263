"""Places as a hierarchy, whose rule a document is, and metadata read off a document."""

from __future__ import annotations

import pytest

from assistant.ingest.metadata import date_of, derive, kind_of, merged
from assistant.text.places import Gazetteer, Jurisdictions, jurisdiction, short_name


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    g = Gazetteer.load()
    assert len(g.by_code) > 3000, "cpca's table of administrative places is installed"
    return g


def test_places_form_a_hierarchy(gazetteer: Gazetteer) -> None:
    (pinghu,) = gazetteer.find("平湖的带押过户")
    assert [p.name for p in gazetteer.lineage(pinghu)] == ["平湖市", "嘉兴市", "浙江省"]
    (jiading,) = gazetteer.find("嘉定区的房子")
    (shanghai,) = gazetteer.find("上海")
    assert gazetteer.within(jiading, shanghai) and not gazetteer.within(shanghai, jiading)


def test_everyday_words_and_bays_are_not_places(gazetteer: Gazetteer) -> None:
    assert gazetteer.find("资源整合，共和国") == []
    assert gazetteer.find("杭州湾北岸新材料产业基地") == []
    assert short_name("阿坝藏族羌族自治州") == "阿坝" and short_name("广西壮族自治区") == "广西"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("中华人民共和国土地管理法", "全国"),
        ("最高人民法院关于审理涉及国有土地使用权合同纠纷案件适用法律问题的解释", "全国"),
        ("广东省土地管理条例", "广东省"),
        ("上海市不动产登记若干规定", "上海市"),
        ("平湖市自然资源和规划局工作简报", "平湖市"),
        ("核电厂定期安全审查指南", ""),
    ],
)
def test_jurisdiction_from_the_title(gazetteer: Gazetteer, title: str, expected: str) -> None:
    assert jurisdiction(title, "", gazetteer) == expected


def test_another_places_rule_is_foreign_to_a_question(gazetteer: Gazetteer) -> None:
    j = Jurisdictions(
        gazetteer,
        {"gd": "广东省", "sh": "上海市", "law": "全国", "ph": "平湖市", "x": ""},
        home="平湖",
    )
    assert j.foreign("gd", ["上海"]) and not j.foreign("sh", ["上海"])
    assert not j.foreign("sh", ["嘉定"])  # 嘉定 is in 上海: 上海's rule holds there
    assert not j.foreign("law", ["上海"]) and not j.foreign("x", ["上海"])
    # No place named: the customer's own place (平湖) and its parents count.
    assert j.foreign("gd", []) and not j.foreign("ph", []) and not j.foreign("law", [])
    assert not j.foreign("ph", ["嘉兴"])


def test_metadata_from_file_name_header_and_title(gazetteer: Gazetteer) -> None:
    assert date_of("土地管理法(2019-08-26).md", "") == "2019-08-26"
    assert date_of("x.txt", "标题\n发布日期：2022-3-23\n正文") == "2022-03-23"
    assert date_of("x.txt", "2004年3月14日第十届全国人民代表大会第二次会议通过") == "2004-03-14"
    assert date_of("x.txt", "正文没有日期") == ""
    assert kind_of("广东省土地管理条例") == "地方性法规"
    assert kind_of("不动产登记暂行条例") == "行政法规"
    assert kind_of("中华人民共和国土地管理法") == "法律"
    got = derive("不动产登记暂行条例", "", "不动产登记暂行条例(2019-03-24).md", gazetteer)
    assert got == {"date": "2019-03-24", "issuer": "", "jurisdiction": "全国", "kind": "行政法规"}
    # A citation code as the title gives way to the file name.
    code = derive(
        "【法宝引证码】 CLI.12.4638041",
        "",
        "安徽省人民政府办公厅关于印发支持工业互联网.txt",
        gazetteer,
    )
    assert code["jurisdiction"] == "安徽省" and code["issuer"] == "安徽省人民政府办公厅"
    # The sidecar wins; derived values only fill what it leaves empty.
    assert merged(
        {"issuer": "平湖市自然资源和规划局", "date": ""}, {"issuer": "x", "date": "2022-01-01"}
    ) == {"issuer": "平湖市自然资源和规划局", "date": "2022-01-01"}
    assert merged({}, {"date": "", "kind": "法律"}) == {"kind": "法律"}
