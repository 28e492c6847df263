"""The web pages in a real browser (headless Debian chromium): kiosk chat, staff search, widget.

Real uvicorn servers on loopback ports over a private copy of the seed index: one for the kiosk,
staff page and widget (plus a test document containing `<script>`), one with a 3-second idle reset,
and a plain static server on another port playing the bureau's web page that embeds the widget.
Screenshots go to test-artifacts/browser/ (git-ignored) to be checked by eye.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("PA_TEST_CHROMIUM", "/usr/bin/chromium"))  # Debian's package
ARTIFACTS = REPO / "test-artifacts" / "browser"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PORTRAIT = {"width": 1080, "height": 1920}
DESKTOP = {"width": 1366, "height": 768}
ADMIN_KEY = "browser-test-admin-key"
IDLE_SECONDS = 3
ANSWER_TIMEOUT = 30_000  # ms

QUESTION_15 = "战略性新兴产业的工业用地，里面配套的宿舍食堂这类用房最多能占多少比例？"
FOLLOW_UP = "还有呢？给企业减负的政策还有别的吗？"
UNANSWERABLE = "杭州的二手房带押过户要准备哪些材料？"
SCRIPT_TITLE = "网页安全显示测试<script>alert(1)</script>"
SCRIPT_DOC = (
    "网页安全显示测试<script>alert(1)</script>\n"
    "第一条 为规范网页安全显示，制定本测试规定。<script>alert(1)</script>\n"
    "第二条 网页安全显示测试要求：网页显示文件内容时，必须把尖括号原样显示为文字，"
    '不得执行其中的脚本<img src=x onerror="alert(2)">。\n'
)
SCRIPT_QUESTION = "网页安全显示测试有什么要求？"
LITERAL = "<script>alert(1)</script>"
FINISHED = re.compile("^(answer|abstained|error)$")  # data-kind of a finished answer bubble
FACTS_QUESTION = "新兴产业用地配套设施比例是多少"
SEED_FACTS = "2022年 · 平湖市自然资源和规划局 · 平湖市"  # the newsletter's sidecar: date "2022"

CORPUS_TEXT = "".join(p.read_text(encoding="utf-8") for p in (REPO / "corpus").glob("*.txt"))

try:
    from playwright import sync_api as pw
except ImportError:  # pragma: no cover - the dev extra installs it
    pw = None  # type: ignore[assignment]


def browser_test(fn: Any) -> Any:
    """Marks a test that drives chromium (skipped cleanly when /usr/bin/chromium is absent)."""
    return pytest.mark.browser(pytest.mark.slow(fn))


def expect(target: Any) -> Any:
    return pw.expect(target)


# ----------------------------------------------------------------------------- servers ---------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(port: int) -> list[str]:
    """`python -m uvicorn api.main:app` on loopback (the app reads PA_* from the environment)."""
    args = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return [sys.executable, "-m", "uvicorn", "api.main:app", *args]


class Server:
    """A uvicorn subprocess over its own copy of an index."""

    def __init__(self, name: str, index_dir: Path, log_dir: Path, **env: str) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self.env = {
            **os.environ,
            "PA_INDEX_DIR": str(index_dir),
            "PA_UPLOAD_DIR": str(index_dir / "uploads"),
            "PA_CORPUS_DIR": str(index_dir / "corpus"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                server_command(self.port),
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 120.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} server exited:\n{self.log_path.read_text()[-3000:]}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/readyz").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{self.name} server not ready:\n{self.log_path.read_text()[-3000:]}"
                    )
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def host_site(folder: Path) -> Iterator[int]:
    """A plain static web server for `folder` (the bureau's own pages); yields its port."""
    host = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=host.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(host.server_address[1])
    finally:
        host.shutdown()
        host.server_close()
        thread.join(timeout=5)


@dataclass
class Site:
    main: str  # kiosk/staff/widget server (seed corpus + the <script> document)
    idle: str  # same corpus, idle reset after IDLE_SECONDS
    host_port: int  # the "bureau web page" that embeds the widget
    seed_doc: str  # id of the seed newsletter
    script_doc: str  # id of the <script> test document


def upload_script_document(url: str) -> str:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=url, timeout=60) as client:
        r = client.post(
            "/api/documents",
            headers=headers,
            files={"file": ("xss-test.txt", SCRIPT_DOC.encode("utf-8"), "text/plain")},
            data={"title": SCRIPT_TITLE},
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 60
        while True:
            job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
            if job["status"] in ("done", "failed"):
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["status"] == "done", job
        # The new document is visible to readers once the index refreshes.
        while not any(
            d["id"] == job["document_id"] for d in client.get("/api/documents").json()["documents"]
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        return str(job["document_id"])


def warm_up(url: str) -> None:
    """One question, so the first one a test asks does not pay for loading the answer pipeline."""
    r = httpx.post(f"{url}/api/ask", json={"question": QUESTION_15}, timeout=120)
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def site(
    browser: Any, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    # Asked for only once chromium is known to be there, so a skip never builds the seed index.
    seed_index_dir: Path = request.getfixturevalue("seed_index_dir")
    tmp = tmp_path_factory.mktemp("browser")
    host_dir = tmp / "host"
    host_dir.mkdir()
    with host_site(host_dir) as host_port:
        main = Server(
            "main",
            shutil.copytree(seed_index_dir, tmp / "index-main"),
            tmp,
            PA_API_KEY=ADMIN_KEY,
            PA_CORS_ORIGINS=f'["http://127.0.0.1:{host_port}"]',
            PA_IDLE_RESET_SECONDS="600",
        )
        idle = Server(
            "idle",
            shutil.copytree(seed_index_dir, tmp / "index-idle"),
            tmp,
            PA_IDLE_RESET_SECONDS=str(IDLE_SECONDS),
        )
        try:
            main.start()
            idle.start()
            main.wait_ready()
            idle.wait_ready()
            seed_docs = httpx.get(f"{main.url}/api/documents", timeout=10).json()["documents"]
            assert len(seed_docs) == 1
            # Upload the test document while both servers answer a first (cold) question.
            with ThreadPoolExecutor(3) as pool:
                warm = [pool.submit(warm_up, server.url) for server in (main, idle)]
                script_doc = pool.submit(upload_script_document, main.url).result()
                for future in warm:
                    future.result()
            (host_dir / "host.html").write_text(host_page(main.url), encoding="utf-8")
            yield Site(main.url, idle.url, host_port, seed_docs[0]["id"], script_doc)
        finally:
            main.stop()
            idle.stop()


# ----------------------------------------------------------------------------- browser ---------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # CI sets PA_REQUIRE_BROWSER: there a missing browser fails the run instead of skipping.
    give_up = pytest.fail if os.environ.get("PA_REQUIRE_BROWSER") else pytest.skip
    if not CHROMIUM.exists():
        give_up(f"{CHROMIUM} is not installed (.ci/run installs the Debian chromium package)")
    if pw is None:
        give_up("the playwright package is not installed")
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


class Tab:
    """A page in its own browser context that records script errors and dialogs."""

    def __init__(self, browser: Any, viewport: dict[str, int], **context: Any) -> None:
        self.context = browser.new_context(viewport=viewport, locale="zh-CN", **context)
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("console", self._console)
        self.page.on("dialog", self._dialog)

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        time.sleep(0.15)  # let the last frame paint
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tabs(browser: Any) -> Iterator[Any]:
    opened: list[Tab] = []

    def open_tab(viewport: dict[str, int] = PORTRAIT, **context: Any) -> Tab:
        tab = Tab(browser, viewport, **context)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.close()


def ask(page: Any, question: str) -> Any:
    """Type a question into the kiosk and send it; returns the new answer bubble."""
    count = page.locator(".msg-bot").count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    bot = page.locator(".msg-bot").nth(count)
    expect(bot).to_have_attribute("data-kind", FINISHED, timeout=ANSWER_TIMEOUT)
    return bot


def document_text(base: str, doc_id: str) -> str:
    return str(httpx.get(f"{base}/api/documents/{doc_id}", timeout=10).json()["text"])


# ----------------------------------------------------------------------------- kiosk -----------


@browser_test
def test_kiosk_start_screen(site: Site, tabs: Any) -> None:
    tab = tabs(PORTRAIT)
    page = tab.page
    page.goto(site.main + "/")
    suggestions = page.locator("#suggestions button")
    expect(suggestions.first).to_be_visible()
    # The newsletter's own visitor questions (its sidecar), each checked to get a cited answer.
    config = httpx.get(f"{site.main}/api/page-config", timeout=10).json()
    assert 3 <= len(config["suggestions"]) <= 6
    assert suggestions.all_inner_texts() == config["suggestions"]
    assert "房子贷款还没还完，能直接卖吗？" in config["suggestions"]
    for question in config["suggestions"]:
        a = httpx.post(f"{site.main}/api/ask", json={"question": question}, timeout=60).json()
        assert a["citations"] and not a["abstained"] and not a["hedged"], (question, a["answer"])
    expect(page.locator("h1")).to_have_text("政策问答")
    tab.shot("kiosk-start-portrait")
    page.set_viewport_size(DESKTOP)
    tab.shot("kiosk-start-desktop")

    # Font-size switch (适老化): the whole page scales, and 重新开始 puts it back.
    before = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.get_by_role("button", name="特大字号").click()
    after = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert after > before * 1.3
    page.click("#restart")
    assert (
        page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") == before
    )
    assert tab.errors == []


@browser_test
def test_kiosk_answer_streams_with_tappable_citation_and_follow_up(site: Site, tabs: Any) -> None:
    tab = tabs(PORTRAIT)
    page = tab.page
    page.goto(site.main + "/")
    expect(page.locator("#suggestions button").first).to_be_visible()

    with page.expect_request(lambda r: r.url.endswith("/api/ask")) as request_info:
        bot = ask(page, QUESTION_15)
    assert request_info.value.headers.get("accept") == "text/event-stream"
    expect(bot).to_have_attribute("data-kind", "answer")
    expect(bot.locator(".answer")).to_contain_text("15%")
    assert int(bot.get_attribute("data-deltas") or 0) > 1  # the text arrived as several SSE deltas
    expect(bot.locator(".badge")).to_have_text("依据文件回答")

    # Tap the [n] marker whose source holds the 15% figure.
    sources = bot.locator(".sources .source-item")
    expect(sources.first).to_be_visible()
    number = None
    for i in range(sources.count()):
        if "15%" in sources.nth(i).inner_text():
            number = sources.nth(i).locator(".num").inner_text().strip("[]")
            break
    assert number is not None, sources.all_inner_texts()
    bot.locator(f'.answer button.cite[data-n="{number}"]').first.click()

    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    mark = viewer.locator("mark.cited")
    expect(mark).to_be_visible()
    expect(mark).to_contain_text("15%")
    expect(page.locator("#viewer-title")).to_have_text(re.compile("平湖"))
    expect(page.locator("#viewer-meta")).to_contain_text("章节")
    # The highlight is exactly the cited span of GET /api/documents/{id}.
    passage = page.locator("#viewer-passage")
    doc, start, end = (passage.get_attribute(k) for k in ("data-doc", "data-start", "data-end"))
    assert doc == site.seed_doc
    assert mark.inner_text() == document_text(site.main, doc)[int(start or 0) : int(end or 0)]
    tab.shot("kiosk-answer-citation-portrait")
    page.set_viewport_size(DESKTOP)
    tab.shot("kiosk-answer-citation-desktop")
    page.set_viewport_size(PORTRAIT)

    # 查看全文 shows the whole document with the passage still highlighted.
    page.click("#viewer-full")
    expect(mark).to_be_visible()
    assert len(passage.inner_text()) > 2000
    page.click("#viewer-close")
    expect(viewer).to_be_hidden()

    # A follow-up sends the conversation so far.
    first_answer = bot.locator(".answer").inner_text()
    with page.expect_request(lambda r: r.url.endswith("/api/ask")) as request_info:
        second = ask(page, FOLLOW_UP)
    history = request_info.value.post_data_json["history"]
    assert [h["role"] for h in history] == ["user", "assistant"]
    assert history[0]["content"] == QUESTION_15
    assert history[1]["content"].replace("[", "").replace("]", "")[:10] in first_answer.replace(
        " ", ""
    )
    expect(second).to_have_attribute("data-kind", "answer")
    expect(page.locator(".msg-user")).to_have_count(2)

    page.click("#restart")
    expect(page.locator("#conversation > *")).to_have_count(0)
    expect(page.locator("#start")).to_be_visible()
    assert tab.errors == []


@browser_test
def test_kiosk_sources_show_document_facts(site: Site, tabs: Any) -> None:
    """Each source says when, by whom and where: 2022年 · issuer · 平湖市, in the card and viewer."""
    tab = tabs(PORTRAIT)
    page = tab.page
    page.goto(site.main + "/")
    bot = ask(page, FACTS_QUESTION)
    expect(bot).to_have_attribute("data-kind", "answer")
    source = bot.locator(".sources .source-item").first
    facts = source.locator(".facts")
    expect(facts).to_have_text(SEED_FACTS)
    expect(facts.locator(".f-date")).to_have_text("2022年")
    expect(facts.locator(".f-jurisdiction")).to_have_text("平湖市")
    expect(facts.locator(".f-superseded")).to_have_count(0)
    box = source.bounding_box()
    assert box is not None and box["height"] >= 44  # still a comfortable tap target

    source.click()
    meta = page.locator("#viewer-meta .facts")
    expect(meta).to_have_text(SEED_FACTS + " · 工作简报")
    expect(page.locator("#viewer mark.cited")).to_be_visible()
    tab.shot("kiosk-source-facts-portrait")
    page.click("#viewer-close")
    assert tab.errors == []


@browser_test
def test_kiosk_abstention_looks_different(site: Site, tabs: Any) -> None:
    tab = tabs(PORTRAIT)
    page = tab.page
    page.goto(site.main + "/")
    bot = ask(page, UNANSWERABLE)
    expect(bot).to_have_attribute("data-kind", "abstained")
    expect(bot.locator(".badge")).to_have_text("未找到明确依据")
    expect(bot.locator("button.cite")).to_have_count(0)
    expect(bot.locator(".sources")).to_have_count(0)
    style = bot.evaluate("n => getComputedStyle(n).borderTopStyle")
    assert style == "dashed"
    related = bot.locator(".related .source-item")
    if related.count():
        expect(bot.locator(".related h3")).to_contain_text("仅供参考")
        related.first.click()
        expect(page.locator("#viewer mark.cited")).to_be_visible()
        page.click("#viewer-close")
    tab.shot("kiosk-abstained-portrait")
    assert tab.errors == []


@browser_test
def test_kiosk_error_shows_friendly_message_and_retry(site: Site, tabs: Any) -> None:
    tab = tabs(DESKTOP)
    page = tab.page
    page.goto(site.main + "/")
    expect(page.locator("#suggestions button").first).to_be_visible()
    page.route("**/api/ask", lambda route: route.abort("connectionrefused"))
    bot = ask(page, QUESTION_15)
    expect(bot).to_have_attribute("data-kind", "error")
    expect(bot.locator(".notice-error")).to_contain_text("连接不上")
    page.unroute("**/api/ask")
    bot.get_by_role("button", name="重试").click()
    answer = page.locator(".msg-bot").last
    expect(answer).to_have_attribute("data-kind", "answer", timeout=ANSWER_TIMEOUT)
    expect(page.locator(".msg-user")).to_have_count(1)
    # The failed fetch logs a console error by design; nothing else may.
    assert [
        e for e in tab.errors if "ERR_CONNECTION_REFUSED" not in e and "Failed to fetch" not in e
    ] == []


@browser_test
def test_kiosk_idle_reset_clears_the_conversation(site: Site, tabs: Any) -> None:
    tab = tabs(PORTRAIT)
    page = tab.page
    page.goto(site.idle + "/")
    page.locator("#suggestions button").first.click()  # a suggested question, asked by a tap
    bot = page.locator(".msg-bot").first
    expect(bot).to_have_attribute(
        "data-kind", re.compile("^(answer|abstained)$"), timeout=ANSWER_TIMEOUT
    )
    page.get_by_role("button", name="大字号", exact=True).click()
    # Hands off: first the warning, then everything is wiped for the next visitor.
    expect(page.locator("#idle-warning")).to_be_visible(timeout=IDLE_SECONDS * 1000 + 2000)
    expect(page.locator("#conversation > *")).to_have_count(0, timeout=IDLE_SECONDS * 1000 + 2000)
    expect(page.locator("#start")).to_be_visible()
    expect(page.locator("#idle-warning")).to_be_hidden()
    expect(page.get_by_role("button", name="标准字号")).to_have_attribute("aria-pressed", "true")
    assert page.input_value("#question") == ""
    assert tab.errors == []


@browser_test
def test_document_with_script_is_shown_as_text(site: Site, tabs: Any) -> None:
    tab = tabs(PORTRAIT)
    page = tab.page
    page.goto(site.main + "/")
    bot = ask(page, SCRIPT_QUESTION)
    opener = bot.locator(".answer button.cite, .related .source-item").first
    expect(opener).to_be_visible()
    opener.click()
    body = page.locator("#viewer-body")
    expect(body.locator("mark.cited")).to_be_visible()
    expect(page.locator("#viewer-title")).to_have_text(SCRIPT_TITLE)
    page.click("#viewer-full")
    expect(body).to_contain_text(LITERAL)
    expect(body).to_contain_text('<img src=x onerror="alert(2)">')
    assert page.locator("#viewer-body script, #viewer-body img").count() == 0
    tab.shot("kiosk-script-document-portrait")

    # The staff page too: hit text, group title and reader.
    staff = tabs(DESKTOP).page
    staff.goto(site.main + "/staff?q=" + "网页安全显示测试")
    hit = staff.locator(f'.group[data-doc="{site.script_doc}"] .hit').first
    expect(hit).to_contain_text(LITERAL)
    expect(staff.locator(f'.group[data-doc="{site.script_doc}"] h2')).to_have_text(SCRIPT_TITLE)
    hit.get_by_role("button", name="阅读全文").click()
    expect(staff.locator("#reader-body")).to_contain_text(LITERAL)
    assert staff.locator("#results script, #reader script, #results img, #reader img").count() == 0
    # Two painted frames after the text is on screen: a script that ran would have opened its dialog.
    tab.page.evaluate(
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
    )
    assert tab.dialogs == []
    assert tab.errors == []


# ----------------------------------------------------------------------------- staff -----------


@browser_test
def test_staff_search_filter_and_reader(site: Site, tabs: Any) -> None:
    tab = tabs(DESKTOP, permissions=["clipboard-read", "clipboard-write"])
    page = tab.page
    page.goto(site.main + "/staff")
    expect(page.locator("#doc option")).to_have_count(3)  # 全部文件 + two documents

    # Keyboard only: "/" focuses the search box, Enter searches.
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("盘活存量")
    page.keyboard.press("Enter")
    expect(page.locator(".hit").first).to_be_visible()
    assert parse_qs(urlparse(page.url).query)["q"] == ["盘活存量"]
    expect(page.locator(".hit mark.term", has_text="盘活").first).to_be_visible()
    expect(page.locator(".hit .fig", has_text="亩").first).to_be_visible()
    groups = page.locator(".group")
    doc_ids = [groups.nth(i).get_attribute("data-doc") for i in range(groups.count())]
    assert len(doc_ids) == len(set(doc_ids))  # one group per document

    # Filter to the newsletter.
    page.select_option("#doc", site.seed_doc)
    expect(page).to_have_url(re.compile(f"doc={site.seed_doc}"))
    expect(page.locator(".group")).to_have_count(1)
    expect(page.locator(".group")).to_have_attribute("data-doc", site.seed_doc)

    # ArrowDown into the results, Enter opens the reader at the passage.
    page.focus("#q")
    page.keyboard.press("ArrowDown")
    first = page.locator(".hit").first
    expect(first).to_be_focused()
    page.keyboard.press("Enter")
    reader = page.locator("#reader")
    expect(reader).to_be_visible()
    mark = reader.locator("mark.cited")
    expect(mark).to_be_visible()
    expect(mark).to_contain_text("盘活")
    expect(mark).to_be_in_viewport()
    start, end = (
        int(first.get_attribute("data-start") or 0),
        int(first.get_attribute("data-end") or 0),
    )
    assert mark.inner_text() == document_text(site.main, site.seed_doc)[start:end]
    query = parse_qs(urlparse(page.url).query)
    assert query["open"] == [site.seed_doc] and query["s"] == [str(start)]

    # "c" copies a formatted reference: title, section, page (if any), quote.
    page.keyboard.press("c")
    expect(page.locator("#toast")).to_contain_text("已复制引用")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("《平湖市自然资源和规划局工作简报")
    assert "低效用地盘活" in copied and "：“" in copied and copied.endswith("”")
    assert "盘活" in copied.split("：“", 1)[1]
    tab.shot("staff-desktop")

    # The URL is shareable: a colleague opening it sees the same results and passage.
    shared = tabs(PORTRAIT).page
    shared.goto(page.url)
    expect(shared.locator("#q")).to_have_value("盘活存量")
    expect(shared.locator("#doc")).to_have_value(site.seed_doc)
    expect(shared.locator("#reader mark.cited")).to_be_visible()
    expect(shared.locator("#reader mark.cited")).to_be_in_viewport()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    time.sleep(0.15)
    shared.screenshot(path=str(ARTIFACTS / "staff-portrait.png"))

    page.keyboard.press("Escape")
    expect(reader).to_be_hidden()
    assert "open" not in parse_qs(urlparse(page.url).query)
    assert tab.errors == []


def search_filters(request: Any) -> dict[str, Any]:
    return dict(request.post_data_json.get("filters") or {})


def searching_in(place: str) -> Any:
    """A predicate for page.expect_request: a POST /api/search filtered to `place`."""
    return lambda r: (
        r.url.endswith("/api/search") and search_filters(r).get("jurisdiction") == [place]
    )


@browser_test
def test_staff_search_shows_facts_and_filters_by_them(site: Site, tabs: Any) -> None:
    tab = tabs(DESKTOP)
    page = tab.page
    page.goto(site.main + "/staff")
    # Before any search: the documents with their facts (unknown ones said so).
    seed_card = page.locator(f'.doc-card[data-doc="{site.seed_doc}"]')
    expect(seed_card.locator(".facts")).to_have_text(SEED_FACTS + " · 工作简报")
    script_card = page.locator(f'.doc-card[data-doc="{site.script_doc}"]')
    expect(script_card.locator(".facts")).to_have_text("日期不详 · 适用地域不详")
    # The facet selects come from the documents' facts (plus 全国).
    expect(page.locator("#jur option")).to_have_text(["全部地域", "全国", "平湖市"])
    expect(page.locator("#kind option")).to_have_text(["全部类型", "工作简报"])

    page.fill("#q", "盘活存量")
    page.press("#q", "Enter")
    hits = page.locator(f'.group[data-doc="{site.seed_doc}"] .hit')
    expect(hits.first).to_be_visible()
    expect(hits.locator(".facts")).to_have_text([SEED_FACTS] * hits.count())
    tab.shot("staff-hit-facts-desktop")

    # Every facts filter goes into the request; the newsletter (2022, 平湖市) passes these.
    page.select_option("#kind", "工作简报")
    page.select_option("#doc-status", "current")
    page.fill("#date-from", "2022")
    page.fill("#date-to", "2022-12")
    with page.expect_request(searching_in("平湖市")) as request_info:
        page.select_option("#jur", "平湖市")
    assert search_filters(request_info.value) == {
        "jurisdiction": ["平湖市"],
        "kind": ["工作简报"],
        "date_from": "2022",
        "date_to": "2022-12",
        "status": "current",
    }
    expect(page.locator(".group")).to_have_count(1)
    expect(page.locator(".group")).to_have_attribute("data-doc", site.seed_doc)
    query = parse_qs(urlparse(page.url).query)
    assert query["jur"] == ["平湖市"] and query["from"] == ["2022"] and query["to"] == ["2022-12"]

    # No national document in the seed corpus: the empty state.
    with page.expect_request(searching_in("全国")):
        page.select_option("#jur", "全国")
    expect(page.locator(".empty")).to_contain_text("没有找到相关段落")
    expect(page.locator(".hit")).to_have_count(0)

    # A shared link may name a place outside the list (广东省): kept, and nothing matches.
    other = tabs(DESKTOP).page
    other.goto(site.main + "/staff?q=盘活存量&jur=广东省")
    expect(other.locator("#jur")).to_have_value("广东省")
    expect(other.locator(".empty")).to_contain_text("没有找到相关段落")
    expect(other.locator(".hit")).to_have_count(0)
    assert tab.errors == []


@browser_test
def test_staff_admin_corrects_a_document_date(site: Site, tabs: Any) -> None:
    tab = tabs(DESKTOP)
    page = tab.page
    page.goto(site.main + "/staff")
    seed_card = page.locator(f'.doc-card[data-doc="{site.seed_doc}"]')
    seed_card.get_by_role("button", name="阅读全文").click()
    expect(page.locator("#reader-facts")).to_have_text(SEED_FACTS + " · 工作简报")
    expect(page.locator("#facts-edit")).to_be_hidden()  # no admin key yet

    # Log in with the admin key; a wrong one is refused.
    page.click("#admin-btn")
    dialog = page.locator("#admin-dialog")
    dialog.locator("#admin-key").fill("not-the-key")
    dialog.get_by_role("button", name="登录").click()
    expect(dialog.locator("#admin-error")).to_have_text("密钥不正确。")
    dialog.locator("#admin-key").fill(ADMIN_KEY)
    dialog.get_by_role("button", name="登录").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#admin-state")).to_be_visible()

    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    try:
        page.locator("#facts-edit summary").click()
        form = page.locator("#facts-form")
        date = form.locator('input[name="date"]')
        expect(date).to_have_value("2022")
        save = form.get_by_role("button", name="保存更正")

        # A malformed date is refused before it is sent.
        date.fill("2019年8月")
        save.click()
        expect(page.locator("#facts-error")).to_contain_text("YYYY-MM-DD")

        # A refusal by the server shows the error of its envelope.
        def refuse(route: Any) -> None:
            error = "document management disabled: set PA_API_KEY"
            route.fulfill(status=403, json={"ok": False, "error": error, "status": 403})

        page.route("**/facts", refuse)
        date.fill("2019-08-26")
        save.click()
        expect(page.locator("#facts-error")).to_have_text(
            "保存失败：document management disabled: set PA_API_KEY"
        )
        page.unroute("**/facts")

        form.locator('select[name="status"]').select_option("superseded")
        with page.expect_request(lambda r: r.method == "PATCH") as request_info:
            save.click()
        request = request_info.value
        assert request.url.endswith(f"/api/documents/{site.seed_doc}/facts")
        assert request.post_data_json == {"date": "2019-08-26", "status": "superseded"}
        assert request.headers["authorization"] == f"Bearer {ADMIN_KEY}"
        expect(page.locator("#facts-error")).to_be_hidden()
        reader_facts = page.locator("#reader-facts")
        expect(reader_facts.locator(".f-date")).to_have_text("2019年8月26日")
        expect(reader_facts.locator(".f-superseded")).to_have_text("已被新版本取代")
        expect(seed_card.locator(".f-date")).to_have_text("2019年8月26日")
        tab.shot("staff-facts-edit-desktop")

        # The correction is the server's: search hits carry it, and the status filter sees it.
        page.fill("#q", "盘活存量")
        page.press("#q", "Enter")
        hits = page.locator(f'.group[data-doc="{site.seed_doc}"] .hit')
        expect(hits.first.locator(".facts")).to_have_text(
            "2019年8月26日 · 平湖市自然资源和规划局 · 平湖市 · 已被新版本取代"
        )
        with page.expect_response(lambda r: r.url.endswith("/api/search")) as response_info:
            page.select_option("#doc-status", "current")
        assert search_filters(response_info.value.request) == {"status": "current"}
        expect(page.locator(f'.group[data-doc="{site.seed_doc}"]')).to_have_count(0)
        facts = httpx.get(f"{site.main}/api/documents/{site.seed_doc}", timeout=10).json()["facts"]
        assert facts["date"] == "2019-08-26" and facts["status"] == "superseded"
    finally:
        r = httpx.patch(
            f"{site.main}/api/documents/{site.seed_doc}/facts",
            json={"date": None, "status": None},
            headers=admin,
            timeout=10,
        )
        assert r.status_code == 200 and r.json()["facts"]["date"] == "2022", r.text
    # The refused requests (wrong key, the simulated 403) are the only console errors.
    assert [e for e in tab.errors if "status of 401" not in e and "status of 403" not in e] == []


# ----------------------------------------------------------------------------- widget ----------


def host_page(server: str) -> str:
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>平湖市自然资源和规划局</title>
<link rel="icon" href="data:,">
<style>body {{ font-family: serif; margin: 2rem; }} button {{ color: rgb(200, 0, 0); }}</style>
<script>window.hostKeys = Object.keys(window);</script>
</head><body>
<h1>平湖市自然资源和规划局 门户网站</h1>
<p>本页用于测试嵌入式政策问答。</p>
<button id="host-button">本站按钮</button>
<script src="{server}/widget.js" data-label="政策问答" data-title="政策问答助手"></script>
</body></html>
"""


@browser_test
def test_widget_on_another_origin(site: Site, tabs: Any) -> None:
    tab = tabs(DESKTOP)
    page = tab.page
    page.goto(f"http://127.0.0.1:{site.host_port}/host.html")
    launcher = page.locator("policy-assistant-widget button.launcher")
    expect(launcher).to_be_visible()

    # Nothing leaks into the host page: no globals, no stylesheets, host styles untouched.
    assert (
        page.evaluate(
            "Object.keys(window).filter(k => !window.hostKeys.includes(k) && k !== 'hostKeys')"
        )
        == []
    )
    assert page.evaluate("document.styleSheets.length") == 1
    assert (
        page.evaluate("getComputedStyle(document.getElementById('host-button')).color")
        == "rgb(200, 0, 0)"
    )
    assert "serif" in page.evaluate("getComputedStyle(document.body).fontFamily")

    launcher.click()
    frame = page.frame_locator("policy-assistant-widget iframe")
    expect(frame.locator("#question")).to_be_visible()
    frame.locator("#question").fill(QUESTION_15)
    frame.locator("#question").press("Enter")
    bot = frame.locator(".msg-bot").first
    expect(bot).to_have_attribute("data-kind", "answer", timeout=ANSWER_TIMEOUT)
    expect(bot.locator(".answer")).to_contain_text("15%")
    tab.shot("widget-desktop")
    page.locator("policy-assistant-widget button.close").click()
    expect(page.locator("policy-assistant-widget .panel")).to_be_hidden()
    assert tab.errors == []

    # The kiosk page may only be framed by the allowlist; elsewhere the widget does not appear.
    csp = httpx.get(site.main + "/", timeout=10).headers["content-security-policy"]
    assert f"frame-ancestors 'self' http://127.0.0.1:{site.host_port}" in csp
    other = tabs(DESKTOP).page
    other.goto(f"http://localhost:{site.host_port}/host.html")
    other.wait_for_load_state("load")
    expect(other.locator("#host-button")).to_be_visible()
    other.wait_for_load_state("networkidle")  # widget.js has loaded and run
    assert other.locator("policy-assistant-widget").count() == 0


OPEN_KEY = "kiosk-device-key"


@browser_test
def test_closed_deployment_enrols_a_browser_with_the_key(
    browser: Any, tabs: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """With PA_OPEN_API_KEY set, a kiosk without the key asks staff for it once, then answers."""
    seed_index_dir: Path = request.getfixturevalue("seed_index_dir")
    server = Server(
        "closed",
        shutil.copytree(seed_index_dir, tmp_path / "index"),
        tmp_path,
        PA_OPEN_API_KEY=OPEN_KEY,
    )
    server.start()
    try:
        server.wait_ready()
        tab = tabs(PORTRAIT)
        page = tab.page
        page.goto(server.url + "/")
        expect(page.locator("#question")).to_be_visible()
        # Headings are document content: none are offered before the browser holds the key.
        assert page.locator("#suggestions button").count() == 0
        bot = ask(page, QUESTION_15)
        expect(bot).to_have_attribute("data-kind", "error")
        expect(bot.locator(".notice-error")).to_contain_text("授权")
        dialog = page.locator("dialog.key-dialog")
        expect(dialog).to_be_visible()
        tab.shot("kiosk-key-dialog-portrait")

        dialog.locator("input").fill("wrong-key")
        dialog.get_by_role("button", name="保存并重新载入").click()
        page.wait_for_load_state("load")
        bot = ask(page, QUESTION_15)
        expect(bot).to_have_attribute("data-kind", "error")
        expect(page.locator("dialog.key-dialog")).to_contain_text("已保存的密钥无效")

        page.locator("dialog.key-dialog input").fill(OPEN_KEY)
        page.locator("dialog.key-dialog").get_by_role("button", name="保存并重新载入").click()
        page.wait_for_load_state("load")
        expect(page.locator("#suggestions button").first).to_be_visible()
        bot = ask(page, QUESTION_15)
        expect(bot).to_have_attribute("data-kind", "answer")
        expect(bot.locator(".answer")).to_contain_text("15%")
        expect(page.locator("dialog.key-dialog")).to_have_count(0)
        # The staff page on the same browser uses the same key.
        page.goto(server.url + "/staff?q=" + "带押过户")
        expect(page.locator(".hit").first).to_be_visible()
        assert [e for e in tab.errors if "401" not in e] == []

        # Enrolment by URL fragment, for setting kiosks up by script; the key leaves the address bar.
        other = tabs(PORTRAIT)
        other.page.goto(server.url + "/#key=" + OPEN_KEY)
        assert "key=" not in other.page.url
        bot = ask(other.page, QUESTION_15)
        expect(bot).to_have_attribute("data-kind", "answer")
        assert other.errors == []
    finally:
        server.stop()


# ----------------------------------------------------------------------------- pages.py (fast) -


@dataclass
class FakeRecord:
    id: str
    title: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeChunk:
    document_id: str
    heading_path: list[str]


def test_suggestions_come_from_headings() -> None:
    from api.routes.pages import build_suggestions, heading_phrase

    assert heading_phrase("当好靠谱“店小二” 外资项目用地“优供快供”") == "外资项目用地“优供快供”"
    assert heading_phrase("第三章 土地利用总体规划") == "土地利用总体规划"
    assert heading_phrase("（二）农用地转用审批程序") == "农用地转用审批程序"
    assert heading_phrase("第十条") == ""  # an article number says nothing
    assert heading_phrase("记者 汤智娟 通讯员 时逸") == ""
    assert (
        heading_phrase("新材料产业是我市两大战略性主导产业之一，已成为") == ""
    )  # a sentence, not a title

    docs = [
        FakeRecord("law", "中华人民共和国土地管理法"),
        FakeRecord("news", "平湖自然资源工作简报"),
    ]
    chunks = [
        FakeChunk("law", ["第二章 土地的所有权和使用权", "第九条"]),
        FakeChunk("law", ["第三章 土地利用总体规划", "第十五条"]),
        FakeChunk("law", ["第三章 土地利用总体规划", "第十六条"]),
        FakeChunk("law", ["第五章 建设用地", "第四十四条"]),
        FakeChunk("law", ["第五章 建设用地", "第四十五条"]),
        FakeChunk("news", ["当好靠谱“店小二” 外资项目用地“优供快供”"]),
        FakeChunk("news", ["我市首笔二手房“带押过户”业务成功落地"]),
    ]
    assert build_suggestions(docs, chunks, limit=4) == [
        "关于土地利用总体规划有哪些规定？",
        "外资项目用地“优供快供”，具体是怎么做的？",
        "关于建设用地有哪些规定？",
        "我市首笔二手房“带押过户”业务成功落地，具体是怎么做的？",
    ]
    assert build_suggestions(docs, chunks, limit=6)[4:] == ["关于土地的所有权和使用权有哪些规定？"]
    # A document without usable headings is still represented, by its title.
    assert build_suggestions([FakeRecord("x", "某某通知")], [FakeChunk("x", ["第一条"])]) == [
        "《某某通知》主要讲了什么？"
    ]
    assert build_suggestions([], []) == []


class FakeIndex:
    embedder_name = "none"

    def __init__(self) -> None:
        self.snapshot = type(
            "Snap",
            (),
            {
                "generation": "g1",
                "documents": {"news": FakeRecord("news", "平湖自然资源工作简报")},
                "chunks": [FakeChunk("news", ["打好供地“组合拳” 重大项目用地“应保尽保”"])],
            },
        )()


class FakeBot:
    index = FakeIndex()

    def ask(self, question: str) -> Any:
        """Every question is answered, cited and unhedged."""
        return SimpleNamespace(citations=[1], abstained=False, hedged=False)

    def view(self, name: str, build: Any) -> Any:
        return build(self.index.snapshot)


def test_only_suggestions_that_get_a_cited_answer_are_shown() -> None:
    from api.routes.pages import checked_suggestions

    class Picky(FakeBot):
        def ask(self, question: str) -> Any:
            hedged = "火星" in question
            cited = "没有出处" not in question
            return SimpleNamespace(citations=[1] if cited else [], abstained=False, hedged=hedged)

    bot = Picky()
    bot.index = FakeIndex()
    bot.index.snapshot.documents["news"].metadata["questions"] = (
        "房子贷款还没还完，能直接卖吗？\n火星上能买地吗？\n没有出处的问题？"
    )
    # The document's own questions first, then the heading's; the hedged and uncited are dropped.
    assert checked_suggestions(bot, limit=6) == [
        "房子贷款还没还完，能直接卖吗？",
        "重大项目用地“应保尽保”，具体是怎么做的？",
    ]


@pytest.fixture
def pages_client(tmp_path: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from assistant.settings import get_settings

    settings = get_settings(
        index_dir=tmp_path / "index",
        upload_dir=tmp_path / "uploads",
        cors_origins=[
            "https://www.pinghu.gov.cn",
            "javascript:alert(1)",
            "https://a.example; script-src *",
        ],
        idle_reset_seconds=45,
    )
    app = create_app(settings, assistant_factory=lambda s: FakeBot())  # type: ignore[arg-type, return-value]
    with TestClient(app) as client:
        deadline = time.monotonic() + 10
        while app.state.assistant is None and time.monotonic() < deadline:
            time.sleep(0.01)
        yield client


def test_pages_headers_widget_and_static_files(pages_client: Any) -> None:
    c = pages_client
    kiosk = c.get("/")
    assert kiosk.status_code == 200 and kiosk.headers["content-type"].startswith("text/html")
    assert "<title>政策问答" in kiosk.text
    csp = kiosk.headers["content-security-policy"]
    # Only well-formed origins make it into the header (no injection through settings).
    assert "frame-ancestors 'self' https://www.pinghu.gov.cn" in csp
    assert "javascript:" not in csp and "a.example" not in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'self'" in c.get("/staff").headers["content-security-policy"]
    assert "pinghu" not in c.get("/staff").headers["content-security-policy"]

    widget = c.get("/widget.js")
    assert widget.headers["content-type"].startswith("text/javascript")
    assert 'const ALLOWED = ["https://www.pinghu.gov.cn"];' in widget.text

    assert c.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert c.get("/static/kiosk.js").headers["content-type"].startswith("text/javascript")
    for bad in (
        "/static/../routes/pages.py",
        "/static/%2e%2e/main.py",
        "/static/..%2fmain.py",
        "/static/",
        "/static/nope.js",
    ):
        r = c.get(bad)
        assert r.status_code == 404, bad
        assert r.json()["ok"] is False

    config = c.get("/api/page-config").json()
    assert config["idle_reset_seconds"] == 45
    assert config["suggestions"] == ["重大项目用地“应保尽保”，具体是怎么做的？"]
    assert c.get("/api/suggestions").json() == {"suggestions": config["suggestions"], "ready": True}
