"""The kiosk and widget details of issue 12 in headless Debian chromium, against real uvicorn servers.

The service hall's contact with a declined answer; after an answer the follow-up questions, copy,
👍/👎 with a reason (stored, exported), the take-home QR code (decoded back to the answer and its
sources); the input's limits, language hint and sizes; 44 px targets in the widget on a phone;
read-aloud with and without a Chinese voice; the offline shell; and the staff page's 未解决的问题.
Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_utils import LiveServer, make_settings, serve_shared, wait_ready
from test_browser import (  # noqa: F401  (browser and tabs are fixtures used by name)
    ANSWER_TIMEOUT,
    ARTIFACTS,
    DESKTOP,
    PORTRAIT,
    QUESTION_15,
    UNANSWERABLE,
    ask,
    browser,
    browser_test,
    expect,
    host_site,
    tabs,
)
from test_feedback import read_qr

from api.feedback import FEEDBACK_FILE, FeedbackStore
from api.main import create_app

ADMIN_KEY = "kiosk-test-admin-key"
PHONE = {"width": 390, "height": 844}
CONTACT = {
    "contact_window": "平湖市民中心二楼 自然资源和规划局窗口",
    "contact_phone": "0573-85012345",
    "contact_hours": "工作日 8:30–17:00",
}
ENGLISH = "Can I sell my house before the mortgage is paid off?"
DECLINED_AGAIN = "杭州二手房带押过户需要准备哪些材料"
MIN_TARGET = 44  # px, WCAG 2.5.5
ADMIN_STORE = "policy-assistant.admin-key"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled")


def phone_host_page(server: str) -> str:
    """The bureau's page, made for phones (viewport meta), embedding the widget."""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>平湖市自然资源和规划局</title><link rel="icon" href="data:,">
</head><body><h1>平湖市自然资源和规划局</h1><p>手机版门户页面。</p>
<script src="{server}/widget.js" data-label="政策问答" data-title="政策问答助手"></script>
</body></html>
"""


@dataclass
class Kiosk:
    url: str
    index_dir: Path
    host_port: int

    def store(self) -> FeedbackStore:
        return FeedbackStore(self.index_dir / FEEDBACK_FILE)


@pytest.fixture(scope="module")
def kiosk(
    browser: Any,  # noqa: F811
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Kiosk]:
    """A kiosk server (admin key, contact, one embedding origin) over the session's seed index."""
    seed_assistant = request.getfixturevalue("seed_assistant")
    tmp = tmp_path_factory.mktemp("kiosk")
    host_dir = tmp / "host"
    host_dir.mkdir()
    with host_site(host_dir) as host_port:
        origin = f"http://127.0.0.1:{host_port}"
        kiosk = serve_shared(
            seed_assistant,
            tmp,
            api_key=ADMIN_KEY,
            cors_origins=[origin],
            idle_reset_seconds=600,
            **CONTACT,
        )
        with kiosk as url:
            wait_ready(url)
            (host_dir / "phone.html").write_text(phone_host_page(url), encoding="utf-8")
            yield Kiosk(url, tmp / "index", host_port)


def box(locator: Any) -> dict[str, float]:
    b = locator.bounding_box()
    assert b is not None, locator
    return dict(b)


def assert_target(locator: Any, what: str) -> None:
    b = box(locator)
    assert b["width"] >= MIN_TARGET and b["height"] >= MIN_TARGET, (what, b)


def placeholder_fits(textarea: Any) -> bool:
    """The empty input, as it is now, is tall enough for its whole placeholder (which may wrap):
    the placeholder's text put in for a moment (no event fires) does not overflow it."""
    return bool(
        textarea.evaluate(
            """t => {
                if (t.value !== "") return false;
                t.value = t.placeholder;
                const fits = t.scrollHeight <= t.clientHeight + 1;
                t.value = "";
                return fits;
            }"""
        )
    )


# ----------------------------------------------------------------------------- declines -------


@browser_test
def test_a_declined_answer_names_the_service_hall_contact(kiosk: Kiosk, tabs: Any) -> None:  # noqa: F811
    tab = tabs(PORTRAIT)
    page = tab.page
    page.goto(kiosk.url + "/")
    expect(page.locator("#suggestions button").first).to_be_visible()
    bot = ask(page, UNANSWERABLE)
    expect(bot).to_have_attribute("data-kind", "abstained")
    contact = bot.locator(".contact")
    expect(contact).to_be_visible()
    expect(contact.locator(".contact-window")).to_have_text(CONTACT["contact_window"])
    expect(contact.locator(".contact-phone")).to_have_text(CONTACT["contact_phone"])
    expect(contact.locator(".contact-hours")).to_have_text(CONTACT["contact_hours"])
    # The library's reply is unchanged; the contact comes from settings, beside it.
    expect(bot.locator(".answer")).to_contain_text("建议您咨询服务大厅相关窗口")
    # Declines get 👍/👎 and other questions, but no copy or QR of a non-answer.
    expect(bot.locator(".fb-down")).to_be_visible()
    expect(bot.locator(".copy, .qr-btn")).to_have_count(0)
    bot.scroll_into_view_if_needed()
    shot(page, "kiosk-declined-contact-portrait")
    assert tab.errors == []


# ----------------------------------------------------------------------------- after answers --


@browser_test
def test_after_an_answer_follow_ups_copy_feedback_and_qr(kiosk: Kiosk, tabs: Any) -> None:  # noqa: F811
    tab = tabs(PORTRAIT, permissions=["clipboard-read", "clipboard-write"])
    page = tab.page
    page.goto(kiosk.url + "/")
    bot = ask(page, QUESTION_15)
    expect(bot).to_have_attribute("data-kind", "answer")
    qid = bot.get_attribute("data-question-id") or ""
    assert re.fullmatch(r"[0-9a-f]{32}", qid), qid
    store = kiosk.store()

    # Two or three follow-up questions, each a question, none the one just asked.
    follow_ups = bot.locator(".follow-ups button")
    expect(follow_ups.first).to_be_visible()
    texts = follow_ups.all_inner_texts()
    assert 2 <= len(texts) <= 3, texts
    assert all(t.endswith("？") and t != QUESTION_15 for t in texts), texts

    # Copy: the answer and its sources.
    copy = bot.locator("button.copy")
    copy.click()
    expect(copy).to_have_text("已复制")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "15%" in copied and "\n\n出处：\n[1] 《" in copied and "2022年" in copied

    # QR code: drawn by the server, it decodes to the answer and its sources.
    page.get_by_role("button", name="扫码带走").first.click()
    img = bot.locator(".qr img")
    expect(img).to_be_visible()
    expect(bot.locator(".qr figcaption")).to_contain_text("扫一扫")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    decoded = read_qr(img.screenshot())
    assert decoded == store.takehome(qid)
    assert "15%" in decoded and "\n\n出处：\n[1]《" in decoded and "2022年：“" in decoded
    bot.locator(".answer-actions").scroll_into_view_if_needed()
    shot(page, "kiosk-answer-actions-qr-portrait")

    # 👍 is stored at once.
    with page.expect_response(lambda r: r.url.endswith("/api/feedback")) as sent:
        bot.locator(".fb-up").click()
    assert sent.value.status == 200
    expect(bot.locator(".feedback-thanks")).to_have_text("谢谢您的反馈！")
    assert [(r["rating"], r["reason"]) for r in store.rows() if r["id"] == qid] == [("up", "")]

    # 👎 replaces it, and a reason can follow.
    with page.expect_response(lambda r: r.url.endswith("/api/feedback")):
        bot.locator(".fb-down").click()
    reasons = bot.locator(".feedback-reason")
    expect(reasons).to_be_visible()
    reasons.get_by_role("button", name="依据过时或不对").click()
    reasons.locator(".reason-text").fill("想看最新的文件")
    shot(page, "kiosk-feedback-reason-portrait")
    with page.expect_response(lambda r: r.url.endswith("/api/feedback")) as sent:
        reasons.get_by_role("button", name="提交").click()
    assert sent.value.status == 200
    expect(bot.locator(".feedback-thanks")).to_have_text("谢谢您的反馈！")
    expect(reasons).to_be_hidden()
    assert [(r["rating"], r["reason"]) for r in store.rows() if r["id"] == qid] == [
        ("down", "依据过时或不对；想看最新的文件")
    ]
    export = httpx.get(
        f"{kiosk.url}/api/feedback/export?format=json&days=1",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=10,
    ).json()
    assert any(r["id"] == qid and r["rating"] == "down" for r in export)

    # A follow-up is asked by a tap, with the conversation so far.
    with page.expect_request(lambda r: r.url.endswith("/api/ask")) as asked:
        follow_ups.first.click()
    assert asked.value.post_data_json["question"] == texts[0]
    assert asked.value.post_data_json["history"][0]["content"] == QUESTION_15
    expect(page.locator(".msg-bot").nth(1)).to_have_attribute(
        "data-kind", re.compile("^(answer|abstained)$"), timeout=ANSWER_TIMEOUT
    )
    assert tab.errors == []


# ----------------------------------------------------------------------------- read-aloud -----

VOICES = """
(() => {
  const voices = %s;
  window.__spoken = [];
  const synth = window.speechSynthesis;
  synth.getVoices = () => voices;
  synth.speak = (u) => { window.__spoken.push({ text: u.text, lang: u.lang }); };
  synth.cancel = () => {};
})();
"""


@browser_test
def test_read_aloud_only_where_there_is_a_chinese_voice(kiosk: Kiosk, tabs: Any) -> None:  # noqa: F811
    with_zh = tabs(PORTRAIT)
    with_zh.page.add_init_script(
        VOICES % '[{ name: "Tingting", lang: "zh-CN", default: true, localService: true }]'
    )
    with_zh.page.goto(kiosk.url + "/")
    bot = ask(with_zh.page, QUESTION_15)
    button = bot.locator("button.read-aloud")
    expect(button).to_be_visible()
    assert_target(button, "read-aloud")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_contain_text("停止")
    spoken = with_zh.page.evaluate("window.__spoken")
    assert len(spoken) == 1 and spoken[0]["lang"] == "zh-CN"
    assert "15%" in spoken[0]["text"] and not re.search(r"\[\d+\]", spoken[0]["text"])
    shot(with_zh.page, "kiosk-read-aloud-portrait")
    assert with_zh.errors == []

    english_only = tabs(PORTRAIT)
    english_only.page.add_init_script(
        VOICES % '[{ name: "Samantha", lang: "en-US", default: true, localService: true }]'
    )
    english_only.page.goto(kiosk.url + "/")
    bot = ask(english_only.page, QUESTION_15)
    expect(bot.locator("button.copy")).to_be_visible()
    expect(bot.locator("button.read-aloud")).to_be_hidden()
    assert english_only.errors == []


# ----------------------------------------------------------------------------- input ----------


@browser_test
def test_input_limit_language_hint_and_sizes(kiosk: Kiosk, tabs: Any) -> None:  # noqa: F811
    tab = tabs(PORTRAIT)
    page = tab.page
    asks: list[str] = []
    page.on("request", lambda r: asks.append(r.url) if r.url.endswith("/api/ask") else None)
    page.goto(kiosk.url + "/")
    expect(page.locator("#suggestions button").first).to_be_visible()
    question = page.locator("#question")
    note = page.locator("#input-note")

    # Cut at 500 characters, and said so.
    question.fill("带押过户" * 150)
    assert len(question.input_value()) == 500
    expect(note).to_be_visible()
    expect(note).to_contain_text("500")
    shot(page, "kiosk-input-cut-portrait")
    question.fill("带押过户怎么办理？")
    expect(note).to_be_hidden()
    question.fill("")

    # A question in English gets a hint in both languages, and is not sent.
    question.fill(ENGLISH)
    question.press("Enter")
    hint = page.locator(".msg-bot").last
    expect(hint).to_have_attribute("data-kind", "hint")
    expect(hint).to_contain_text("请用中文")
    expect(hint.locator("[lang=en]")).to_contain_text("Please type your question in Chinese")
    shot(page, "kiosk-english-hint-portrait")
    assert asks == []

    # 特大 then 重新开始: the input is back to its normal height; the placeholder always fits.
    page.click("#restart")
    normal = box(question)["height"]
    assert placeholder_fits(question)
    for name in ("大字号", "特大字号"):
        page.get_by_role("button", name=name, exact=True).click()
        assert placeholder_fits(question), name
    assert box(question)["height"] > normal
    shot(page, "kiosk-input-xl-portrait")
    page.click("#restart")
    expect(page.get_by_role("button", name="标准字号")).to_have_attribute("aria-pressed", "true")
    assert abs(box(question)["height"] - normal) <= 1
    assert placeholder_fits(question)
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="特大字号").click()
    assert placeholder_fits(question)
    shot(page, "kiosk-input-xl-desktop")
    assert tab.errors == []


# ----------------------------------------------------------------------------- widget ---------


@browser_test
def test_widget_on_a_phone_has_44px_targets(kiosk: Kiosk, tabs: Any) -> None:  # noqa: F811
    tab = tabs(PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = tab.page
    page.goto(f"http://127.0.0.1:{kiosk.host_port}/phone.html")
    launcher = page.locator("policy-assistant-widget button.launcher")
    expect(launcher).to_be_visible()
    assert_target(launcher, "launcher")
    launcher.tap()
    close = page.locator("policy-assistant-widget button.close")
    expect(close).to_be_visible()
    assert_target(close, "close")
    frame = page.frame_locator("policy-assistant-widget iframe")
    question = frame.locator("#question")
    expect(question).to_be_visible()
    expect(frame.locator("#suggestions button").first).to_be_visible()
    assert placeholder_fits(question)
    for name in ("标准字号", "大字号", "特大字号"):
        assert_target(frame.get_by_role("button", name=name, exact=True), name)
    assert_target(frame.locator("#restart"), "重新开始")
    assert_target(frame.locator("#send"), "提问")
    shot(page, "widget-phone-start")

    question.fill(QUESTION_15)
    question.press("Enter")
    bot = frame.locator(".msg-bot").first
    expect(bot).to_have_attribute("data-kind", "answer", timeout=ANSWER_TIMEOUT)
    cites = bot.locator(".answer button.cite")
    assert cites.count() >= 1
    for i in range(cites.count()):
        assert_target(cites.nth(i), f"cite chip {i + 1}")
    for sel in ("button.copy", "button.qr-btn", ".fb-up", ".fb-down", ".follow-ups button"):
        assert_target(bot.locator(sel).first, sel)
    # The bigger tap target leaves the line spacing alone: a chip is no taller than its line.
    chip = box(cites.first)
    line = float(bot.locator(".answer").evaluate("n => parseFloat(getComputedStyle(n).lineHeight)"))
    assert chip["height"] < line + 2 * MIN_TARGET
    cites.first.scroll_into_view_if_needed()
    shot(page, "widget-phone-answer")

    frame.get_by_role("button", name="特大字号").tap()
    assert placeholder_fits(question)
    shot(page, "widget-phone-xl")
    close.tap()
    expect(page.locator("policy-assistant-widget .panel")).to_be_hidden()
    assert tab.errors == []


# ----------------------------------------------------------------------------- offline --------


@browser_test
def test_a_reload_while_the_server_is_down_shows_the_offline_shell(
    seed_assistant: Any,
    tabs: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    app = create_app(
        make_settings(tmp_path, idle_reset_seconds=600), assistant_factory=lambda s: seed_assistant
    )
    server = LiveServer(app)
    url = server.__enter__()
    try:
        wait_ready(url)
        sw = httpx.get(url + "/sw.js", timeout=10)
        assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")
        tab = tabs(PORTRAIT)
        page = tab.page
        page.goto(url + "/")
        expect(page.locator("#suggestions button").first).to_be_visible()
        scope = page.evaluate(
            """async () => {
                const reg = await navigator.serviceWorker.ready;
                if (!navigator.serviceWorker.controller) {
                    await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
                }
                return reg.scope;
            }"""
        )
        assert scope == url + "/"
    finally:
        server.__exit__(None, None, None)

    with contextlib.suppress(Exception):  # nothing may answer now
        httpx.get(url + "/healthz", timeout=2)
        pytest.fail("the server is still up")
    page.reload()
    expect(page.locator("h1")).to_have_text("政策问答")
    card = page.locator("#suggest-status .notice-error")
    expect(card).to_contain_text("连接不上")
    retry = card.get_by_role("button", name="重试")
    expect(retry).to_be_visible()
    shot(page, "kiosk-offline-shell-portrait")

    # The server comes back at the same address: 重试 brings the suggestions.
    with LiveServer(app, server.port) as again:
        assert again == url
        wait_ready(url)
        retry.click()
        expect(page.locator("#suggestions button").first).to_be_visible()
        expect(page.locator("#suggest-status .notice-error")).to_have_count(0)
    # Only the refused requests of the outage were logged as errors.
    assert [
        e for e in tab.errors if "ERR_CONNECTION_REFUSED" not in e and "Failed to" not in e
    ] == []


# ----------------------------------------------------------------------------- staff ----------


@browser_test
def test_staff_page_lists_unanswered_questions_and_exports_them(kiosk: Kiosk, tabs: Any) -> None:  # noqa: F811
    with httpx.Client(base_url=kiosk.url, timeout=60) as client:
        ids = []
        for q in (UNANSWERABLE, DECLINED_AGAIN, UNANSWERABLE):
            body = client.post("/api/ask", json={"question": q}).json()
            assert body["abstained"] is True
            ids.append(body["question_id"])
        r = client.post(
            "/api/feedback",
            json={"question_id": ids[0], "rating": "down", "reason": "没有回答我的问题"},
        )
        assert r.status_code == 200

    tab = tabs(DESKTOP, accept_downloads=True)
    page = tab.page
    page.goto(kiosk.url + "/staff")
    panel = page.locator("#insights")
    expect(page.locator("#admin-btn")).to_be_visible()
    expect(panel).to_be_hidden()  # no admin key in this tab

    page.click("#admin-btn")
    page.fill("#admin-key", ADMIN_KEY)
    page.click("#admin-save")
    expect(panel).to_be_visible()
    expect(page.locator("#ins-summary")).to_contain_text("未能回答")
    panel.locator("summary").click()
    declined = panel.locator('[data-list="declined"] .ins-item').first
    expect(declined).to_contain_text(UNANSWERABLE)
    expect(declined.locator(".ins-count")).to_have_text(re.compile(r"^([3-9]|\d{2,})次$"))
    expect(declined.locator(".ins-variants")).to_contain_text(DECLINED_AGAIN)
    expect(panel.locator('[data-list="disliked"]')).to_contain_text("没有回答我的问题")
    expect(page.locator("#ins-counts")).to_contain_text("“没帮助” ")
    shot(page, "staff-insights-desktop")

    with page.expect_response(lambda r: "/api/insights?days=7" in r.url):
        page.select_option("#ins-days", "7")
    expect(declined).to_contain_text(UNANSWERABLE)

    with page.expect_download() as download:
        page.click("#ins-export")
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".csv")
    text = Path(path).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["question"] for r in rows} >= {UNANSWERABLE, DECLINED_AGAIN}
    assert any(r["rating"] == "down" and r["reason"] == "没有回答我的问题" for r in rows)

    page.click("#admin-btn")  # 退出管理
    expect(panel).to_be_hidden()
    assert tab.errors == []
