"""The question log, feedback, insights, take-home QR and follow-ups: the store itself, then over HTTP
against real uvicorn servers on loopback."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno
from server_utils import (
    ADMIN_KEY,
    LiveServer,
    assert_envelope,
    make_settings,
    serve_shared,
    sse_events,
    wait_ready,
)

from api.feedback import (
    FEEDBACK_FILE,
    NEAR_DUPLICATE_JACCARD,
    FeedbackStore,
    bigrams,
    group_near_duplicates,
    jaccard,
    outcome_of,
    redact,
    to_csv,
)
from api.followups import follow_up_questions
from api.main import create_app
from api.schemas import AskResponse, CitationOut, DocumentFacts, Source
from api.takehome import QR_MAX_BYTES, TRUNCATED, qr_svg, takehome_text

QUESTION = "战略性新兴产业的工业用地，里面配套的宿舍食堂这类用房最多能占多少比例？"
DECLINED = "杭州的二手房带押过户要准备哪些材料？"
DECLINED_AGAIN = "杭州二手房带押过户需要准备哪些材料"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CONTACT = {
    "contact_window": "平湖市民中心2楼 自然资源和规划局窗口",
    "contact_phone": "0573-85012345",
    "contact_hours": "工作日 8:30-17:00",
}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def citation(n: int, title: str, quote: str, date: str | None = "2022") -> CitationOut:
    return CitationOut(
        id=n,
        quote=quote,
        source=Source(
            document_id="doc", title=title, heading=["一、用地保障"], page=None, start=0, end=9
        ),
        document=DocumentFacts(date=date),
    )


def read_qr(png: bytes) -> str:
    """The text of the QR code in a PNG image, read by OpenCV ("" when unreadable).

    OpenCV's two decoders each miss some module sizes a phone reads fine, so both are tried at a
    few scales."""
    cv2 = pytest.importorskip("cv2")
    np = pytest.importorskip("numpy")
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None, "not an image"
    for factor in (1.0, 1.5, 2.0, 0.75):
        scaled = (
            image
            if factor == 1.0
            else cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
        )
        for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
            decoded, _, _ = detector.detectAndDecode(scaled)
            if decoded:
                return str(decoded)
    return ""


def decode_qr(text: str) -> str:
    """Draw the text's QR code as the server does and read it back."""
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="png", scale=4, border=4)
    return read_qr(out.getvalue())


# ----------------------------------------------------------------------------- the store -----


def test_the_log_keeps_no_personal_data(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "index" / FEEDBACK_FILE)
    assert not (tmp_path / "index").exists()  # opened on first use only
    asked = "我手机13812345678，身份证330482199001011234，邮箱a.b@example.com，90亩地能批吗？"
    qid = store.log_question(asked, "declined")
    assert len(qid) == 32
    row = store.rows()[0]
    assert row["question"] == "我手机［电话］，身份证［证件号］，邮箱［邮箱］，90亩地能批吗？"
    assert row["outcome"] == "declined" and row["asked_at"].endswith("Z")
    assert redact("配套设施比例提高至15%，2022年投产，3亿美元") == (
        "配套设施比例提高至15%，2022年投产，3亿美元"
    )
    assert redact("电话0573-85012345或1234567") == "电话［电话］或［号码］"
    # Only these columns exist: nothing about who asked.
    with sqlite3.connect(tmp_path / "index" / FEEDBACK_FILE) as db:
        columns = {r[1] for r in db.execute("PRAGMA table_info(questions)")}
        columns |= {r[1] for r in db.execute("PRAGMA table_info(feedback)")}
    assert columns == {
        "id",
        "asked_at",
        "question",
        "outcome",
        "takehome",
        "question_id",
        "rating",
        "reason",
        "rated_at",
    }


def test_feedback_links_to_a_logged_question_and_the_latest_counts(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / FEEDBACK_FILE)
    qid = store.log_question(QUESTION, "answered", "回答[1]")
    assert store.record_feedback(qid, "up")
    assert store.record_feedback(qid, "down", "依据过时或不对")
    assert not store.record_feedback("0" * 32, "up")
    with pytest.raises(ValueError):
        store.record_feedback(qid, "meh")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.log_question(QUESTION, "maybe")
    (row,) = store.rows()
    assert (row["rating"], row["reason"]) == ("down", "依据过时或不对")
    assert store.takehome(qid) == "回答[1]"
    assert store.takehome("f" * 32) is None


def test_retention_deletes_older_rows(tmp_path: Path) -> None:
    clock = Clock()
    store = FeedbackStore(tmp_path / FEEDBACK_FILE, retention_days=7, clock=clock)
    old = store.log_question("很早以前的问题？", "declined")
    assert store.record_feedback(old, "down")
    clock.now += timedelta(days=8)
    new = store.log_question("最近的问题？", "answered")  # logging purges (at most hourly)
    assert [r["id"] for r in store.rows()] == [new]
    assert not store.record_feedback(old, "up")
    with sqlite3.connect(tmp_path / FEEDBACK_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM feedback").fetchone() == (0,)
    # 0 keeps everything.
    forever = FeedbackStore(tmp_path / "forever.sqlite3", retention_days=0, clock=clock)
    forever.log_question("一", "answered")
    clock.now += timedelta(days=4000)
    assert forever.purge() == 0 and len(forever.rows()) == 1


def test_near_duplicates_are_grouped() -> None:
    assert NEAR_DUPLICATE_JACCARD == 0.6
    assert jaccard(bigrams(DECLINED), bigrams(DECLINED_AGAIN)) >= NEAR_DUPLICATE_JACCARD
    assert jaccard(bigrams(DECLINED), bigrams("公积金怎么提取？")) < NEAR_DUPLICATE_JACCARD
    groups = group_near_duplicates(
        [
            (DECLINED_AGAIN, 1, "2024-05-01T10:00:00Z", []),
            ("公积金怎么提取？", 2, "2024-05-01T09:00:00Z", []),
            (DECLINED, 2, "2024-05-02T09:00:00Z", ["没有回答我的问题"]),
        ]
    )
    assert [(g.question, g.count, g.variants) for g in groups] == [
        (DECLINED, 3, [DECLINED_AGAIN]),
        ("公积金怎么提取？", 2, []),
    ]
    assert groups[0].last_asked == "2024-05-02T09:00:00Z"
    assert groups[0].reasons == ["没有回答我的问题"]


def test_insights_count_outcomes_and_feedback_over_a_period(tmp_path: Path) -> None:
    clock = Clock()
    store = FeedbackStore(tmp_path / FEEDBACK_FILE, clock=clock)
    store.log_question("上个月的问题？", "declined")
    clock.now += timedelta(days=40)
    for q in (DECLINED, DECLINED, DECLINED_AGAIN):
        store.log_question(q, "declined")
    hedged = store.log_question("宅基地可以卖给城里人吗？", "hedged")
    liked = store.log_question(QUESTION, "answered")
    store.log_question("你好", "clarify")
    store.record_feedback(hedged, "down", "没有回答我的问题")
    store.record_feedback(liked, "up")
    recent = store.insights(days=30)
    assert recent["questions"] == 6
    assert recent["outcomes"] == {"answered": 1, "hedged": 1, "declined": 3, "clarify": 1}
    assert (recent["up"], recent["down"]) == (1, 1)
    assert [(g["question"], g["count"]) for g in recent["declined"]] == [(DECLINED, 3)]
    assert recent["declined"][0]["variants"] == [DECLINED_AGAIN]
    assert [g["question"] for g in recent["hedged"]] == ["宅基地可以卖给城里人吗？"]
    assert recent["disliked"][0]["reasons"] == ["没有回答我的问题"]
    everything = store.insights(days=0)
    assert everything["questions"] == 7 and everything["since"] == ""
    assert {g["question"] for g in everything["declined"]} == {DECLINED, "上个月的问题？"}


def test_csv_export_opens_in_a_spreadsheet_safely() -> None:
    rows = [
        {
            "id": "a" * 32,
            "asked_at": "2024-05-01T09:00:00Z",
            "question": "=HYPERLINK(1)",
            "outcome": "declined",
            "rating": "down",
            "reason": "+1",
            "rated_at": "2024-05-01T09:01:00Z",
        }
    ]
    text = to_csv(rows)
    assert text.startswith("\ufeff")
    parsed = list(csv.DictReader(io.StringIO(text[1:])))
    assert parsed[0]["question"] == "'=HYPERLINK(1)" and parsed[0]["reason"] == "'+1"


def test_outcomes() -> None:
    assert outcome_of(False, False) == "answered"
    assert outcome_of(False, True) == "hedged"
    assert outcome_of(True, False, {"outcome": "abstain"}) == "declined"
    assert outcome_of(True, False, {"outcome": "clarify"}) == "clarify"


# ----------------------------------------------------------------------------- take-home QR --


def test_takehome_text_holds_answer_and_sources() -> None:
    cites = [
        citation(
            1, "平湖市自然资源和规划局工作简报", "同步落实上级“新建制造业项目生活用地保障”等政策。"
        )
    ]
    text = takehome_text("配套设施比例提高至15%。[1]", cites)
    assert text == (
        "配套设施比例提高至15%。[1]\n\n出处：\n"
        "[1]《平湖市自然资源和规划局工作简报》2022年：“同步落实上级“新建制造业项目生活用地保障…”"
    )
    assert TRUNCATED not in text
    assert decode_qr(text) == text
    undated = takehome_text("答。[1]", [citation(1, "某文件", "短句。", date=None)])
    assert undated.endswith("[1]《某文件》日期不详：“短句。”")


def test_takehome_text_is_cut_with_a_marker_to_fit_a_qr_code() -> None:
    answer = "。".join(
        f"第{i}句很长的回答内容包括配套设施比例和用地保障政策说明" for i in range(80)
    )
    cites = [citation(n, f"文件{n}" * 5, "引文" * 40) for n in range(1, 12)]
    text = takehome_text(answer, cites)
    assert len(text.encode("utf-8")) <= QR_MAX_BYTES
    head, sources = text.split("\n\n出处：\n")
    assert head.endswith(TRUNCATED) and answer.startswith(head.removesuffix(TRUNCATED))
    assert sources.startswith("[1]《文件1") and "……另有" in sources
    assert decode_qr(text) == text
    assert qr_svg(text).startswith(b"<svg")


# ----------------------------------------------------------------------------- follow-ups ----


def test_follow_ups_are_questions_not_already_asked() -> None:
    cite = citation(1, "平湖市自然资源和规划局工作简报", "……")
    cite.source.heading = ["当好靠谱“店小二” 外资项目用地“优供快供”"]
    body = AskResponse(answer="…[1]", citations=[cite], abstained=False, confidence=0.9, timings={})
    asked = [QUESTION]
    suggestions = [
        "外资项目用地“优供快供”，具体是怎么做的？",  # a repeat of the heading's question
        "打好供地“组合拳”，具体是怎么做的？",
        QUESTION,  # already asked
        "不是问句",
        "无违建创建，具体是怎么做的？",
        "第四个问题？",
    ]
    out = follow_up_questions(body, asked, suggestions)
    assert out == [
        "外资项目用地“优供快供”，具体是怎么做的？",
        "打好供地“组合拳”，具体是怎么做的？",
        "无违建创建，具体是怎么做的？",
    ]


# ----------------------------------------------------------------------------- over HTTP -----


@dataclass
class Served:
    url: str
    index_dir: Path


@pytest.fixture(scope="module")
def served(seed_assistant: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A kiosk server with an admin key and a service-hall contact."""
    tmp = tmp_path_factory.mktemp("feedback")
    with serve_shared(seed_assistant, tmp, api_key=ADMIN_KEY, **CONTACT) as url:
        wait_ready(url)
        yield Served(url, tmp / "index")


@pytest.fixture
def client(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=60) as c:
        yield c


def ask(client: httpx.Client, question: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/api/ask", json={"question": question, **extra})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_ask_is_logged_with_an_id_and_follow_ups(client: httpx.Client, served: Served) -> None:
    body = ask(client, QUESTION)
    assert "15%" in body["answer"]
    qid = body["question_id"]
    assert isinstance(qid, str) and len(qid) == 32
    assert 2 <= len(body["follow_ups"]) <= 3
    assert all(q.endswith("？") and q != QUESTION for q in body["follow_ups"])
    log = served.index_dir / FEEDBACK_FILE
    assert log.is_file()
    with sqlite3.connect(log) as db:
        row = db.execute("SELECT question, outcome FROM questions WHERE id = ?", (qid,)).fetchone()
        dump = "\n".join(db.iterdump())
    assert row == (QUESTION, "answered")
    assert "127.0.0.1" not in dump  # no address of the asker
    # Streamed, the id and follow-ups come in the `citations` event.
    with client.stream(
        "POST", "/api/ask", json={"question": QUESTION}, headers={"Accept": "text/event-stream"}
    ) as r:
        events = dict(sse_events(r))
    assert len(events["citations"]["question_id"]) == 32
    assert events["citations"]["question_id"] != qid
    assert events["citations"]["follow_ups"] == body["follow_ups"]


def test_feedback_is_stored_and_exported(client: httpx.Client) -> None:
    qid = ask(client, QUESTION)["question_id"]
    r = client.post("/api/feedback", json={"question_id": qid, "rating": "up"})
    assert r.status_code == 200 and r.json() == {"ok": True, "question_id": qid, "rating": "up"}
    r = client.post(
        "/api/feedback", json={"question_id": qid, "rating": "down", "reason": "依据过时或不对"}
    )
    assert r.status_code == 200
    assert_envelope(
        client.post("/api/feedback", json={"question_id": "0" * 32, "rating": "up"}), 404
    )
    assert_envelope(client.post("/api/feedback", json={"question_id": qid, "rating": "meh"}), 422)
    assert_envelope(client.post("/api/feedback", json={"question_id": "x", "rating": "up"}), 422)
    assert_envelope(
        client.post("/api/feedback", json={"question_id": qid, "rating": "up", "ip": "1.2.3.4"}),
        422,
    )
    assert_envelope(
        client.post(
            "/api/feedback", json={"question_id": qid, "rating": "up", "reason": "长" * 201}
        ),
        422,
    )

    rows = client.get("/api/feedback/export?format=json&days=0", headers=ADMIN).json()
    mine = next(r for r in rows if r["id"] == qid)
    assert (mine["question"], mine["outcome"], mine["rating"], mine["reason"]) == (
        QUESTION,
        "answered",
        "down",
        "依据过时或不对",
    )
    r = client.get("/api/feedback/export", headers=ADMIN)
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert any(t["id"] == qid and t["rating"] == "down" for t in table)


def test_staff_routes_need_the_admin_key(
    client: httpx.Client, seed_assistant: Any, tmp_path: Path
) -> None:
    for path in ("/api/feedback/export", "/api/insights"):
        assert_envelope(client.get(path), 401)
        assert_envelope(client.get(path, headers={"Authorization": "Bearer wrong"}), 401)
    app = create_app(make_settings(tmp_path), assistant_factory=lambda s: seed_assistant)
    with LiveServer(app) as url:
        wait_ready(url)
        assert_envelope(httpx.get(f"{url}/api/insights", timeout=10), 403)


def test_insights_group_what_visitors_could_not_get_answered(client: httpx.Client) -> None:
    first = ask(client, DECLINED)
    assert first["abstained"] is True and first["question_id"]
    ask(client, DECLINED_AGAIN)
    ask(client, DECLINED)
    r = client.post(
        "/api/feedback",
        json={"question_id": first["question_id"], "rating": "down", "reason": "没有回答我的问题"},
    )
    assert r.status_code == 200
    data = client.get("/api/insights?days=7", headers=ADMIN).json()
    assert data["days"] == 7 and data["near_duplicate_jaccard"] == NEAR_DUPLICATE_JACCARD
    top = data["declined"][0]
    assert top["question"] == DECLINED and top["count"] >= 3
    assert DECLINED_AGAIN in top["variants"]
    assert data["down"] >= 1
    assert any(
        g["question"] == DECLINED and "没有回答我的问题" in g["reasons"] for g in data["disliked"]
    )
    assert data["outcomes"]["declined"] >= 3
    assert_envelope(client.get("/api/insights?days=-1", headers=ADMIN), 422)


def test_qr_code_of_an_answer(client: httpx.Client) -> None:
    body = ask(client, QUESTION)
    r = client.get(f"/api/answers/{body['question_id']}/qr.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    cites = [CitationOut.model_validate(c) for c in body["citations"]]
    expected = takehome_text(body["answer"], cites)
    assert r.content == qr_svg(expected)  # exactly the answer and its sources, drawn by segno
    assert body["citations"][0]["source"]["title"] in expected and "2022年" in expected
    declined = ask(client, DECLINED)
    assert_envelope(client.get(f"/api/answers/{declined['question_id']}/qr.svg"), 404)
    assert_envelope(client.get(f"/api/answers/{'0' * 32}/qr.svg"), 404)
    assert_envelope(client.get("/api/answers/not-an-id/qr.svg"), 422)


def test_page_config_carries_the_contact(client: httpx.Client) -> None:
    config = client.get("/api/page-config").json()
    assert config["contact"] == {
        "window": CONTACT["contact_window"],
        "phone": CONTACT["contact_phone"],
        "hours": CONTACT["contact_hours"],
    }


def test_openapi_describes_the_new_routes(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/api/feedback", "/api/feedback/export", "/api/insights"} <= set(paths)
    assert "/api/answers/{question_id}/qr.svg" in paths
    open_like_ask = paths["/api/ask"]["post"]["security"]
    assert {} in open_like_ask  # the key is optional
    assert paths["/api/feedback"]["post"]["security"] == open_like_ask
    assert {} not in paths["/api/insights"]["get"]["security"]
    ask_props = schema["components"]["schemas"]["AskResponse"]["properties"]
    assert {"question_id", "follow_ups"} <= set(ask_props)
    # Every reference resolves.
    refs = {
        v.rsplit("/", 1)[-1]
        for v in _walk(schema)
        if isinstance(v, str) and v.startswith("#/components/schemas/")
    }
    assert refs <= set(schema["components"]["schemas"]), refs - set(schema["components"]["schemas"])
    json.dumps(schema)


def _walk(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
    else:
        yield node


def test_a_broken_log_never_breaks_an_answer(seed_assistant: Any, tmp_path: Path) -> None:
    (tmp_path / "index" / FEEDBACK_FILE).mkdir(parents=True)  # not a database
    app = create_app(make_settings(tmp_path), assistant_factory=lambda s: seed_assistant)
    with LiveServer(app) as url:
        wait_ready(url)
        r = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=60)
        assert r.status_code == 200 and "15%" in r.json()["answer"]
        assert r.json()["question_id"] is None
