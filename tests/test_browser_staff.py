"""The staff page in headless Debian chromium: relevance cue and 没有找到, the reader's sentence
highlight, precedent cards with filters and copy-as-citation, and the phone and desktop layouts
measured by element boxes.

One real uvicorn server (tests/server_utils.py LiveServer) over the session's seed index; the
browser and tab fixtures are tests/test_browser.py's. Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from server_utils import LiveServer, wait_ready
from test_browser import ARTIFACTS, DESKTOP, Tab, browser, browser_test, expect, tabs

from api.main import create_app
from assistant.settings import get_settings

__all__ = ["browser", "tabs"]  # fixtures, imported for pytest

PHONE = {"width": 390, "height": 844}
STOPS = re.compile("[。！？；!?;]")


@pytest.fixture(scope="module")
def server(
    browser: Any, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    # Asked for only once chromium is known to be there, so a skip never builds the seed index.
    seed_assistant = request.getfixturevalue("seed_assistant")
    tmp = tmp_path_factory.mktemp("staff")
    settings = get_settings(
        index_dir=tmp / "index", upload_dir=tmp / "uploads", corpus_dir=tmp / "corpus"
    )
    with LiveServer(create_app(settings, assistant_factory=lambda s: seed_assistant)) as url:
        wait_ready(url)
        yield url


def staff(tabs: Any, server: str, path: str = "/staff", viewport: Any = DESKTOP, **ctx: Any) -> Tab:
    tab = tabs(viewport, **ctx)
    tab.page.goto(server + path)
    expect(tab.page.locator("body")).to_have_attribute("data-ready", "1")
    return tab


def shot(tab: Tab, name: str) -> None:
    """A screenshot once fonts are loaded and two frames have painted."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.page.evaluate(
        "() => document.fonts.ready.then(() => new Promise(r => "
        "requestAnimationFrame(() => requestAnimationFrame(r))))"
    )
    tab.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def query_of(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def box_inside(page: Any, selector: str, width: int, height: int | None) -> dict[str, float]:
    """The element's box lies inside the viewport (only across it when `height` is None)."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not displayed"
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (selector, box)
    if height is not None:
        assert box["y"] >= 0 and box["y"] + box["height"] <= height + 0.5, (selector, box)
    return dict(box)


# ----------------------------------------------------------------------------- relevance -------


@browser_test
def test_relevance_cue_and_nothing_found(server: str, tabs: Any) -> None:
    tab = staff(tabs, server, "/staff?q=盘活存量")
    page = tab.page
    hits = page.locator(".hit")
    expect(hits.first).to_be_visible()
    n = hits.count()
    assert 1 <= n < 20  # the weak matches are cut
    cues = page.locator(".hit .rel")
    expect(cues).to_have_count(n)
    coverages = [float(cues.nth(i).get_attribute("data-coverage") or 0) for i in range(n)]
    assert coverages == sorted(coverages, reverse=True) and min(coverages) >= 0.5
    expect(cues.first).to_contain_text("全部命中 100%")
    expect(hits.first.locator(".hit-terms")).to_contain_text("命中：盘活、存量")
    expect(page.locator("#status")).to_contain_text("已略去")
    shot(tab, "staff-relevance-desktop")

    # Matched only on 杭州湾: nothing found, and it says why.
    with page.expect_request(lambda r: r.url.endswith("/api/search")) as sent:
        page.fill("#q", "杭州 公积金 提取")
        page.press("#q", "Enter")
    assert sent.value.post_data_json["match"] is True
    empty = page.locator(".empty")
    expect(empty).to_contain_text("没有找到相关段落")
    expect(empty).to_contain_text("已收录文件中没有出现“杭州”“公积金”“提取”")
    expect(page.locator(".hit")).to_have_count(0)
    shot(tab, "staff-nothing-found-desktop")

    # Staff may still look at the weak matches, without a cue.
    empty.get_by_role("button", name=re.compile("仍然显示")).click()
    expect(page.locator(".hit")).to_have_count(20)
    expect(page.locator(".hit .rel")).to_have_count(0)
    assert query_of(page)["all"] == ["1"]
    assert tab.errors == []


# ----------------------------------------------------------------------------- reader ----------


@browser_test
def test_reader_highlights_the_matching_sentence(server: str, tabs: Any) -> None:
    tab = staff(tabs, server, "/staff?q=配套设施比例")
    page = tab.page
    first = page.locator(".hit").first
    expect(first).to_be_visible()
    first.get_by_role("button", name="阅读全文").click()
    sentence = page.locator("#reader mark.sentence")
    expect(sentence).to_have_count(1)
    expect(sentence).to_be_visible()
    expect(sentence).to_be_in_viewport()
    said = sentence.inner_text()
    passage = page.locator("#reader mark.cited").inner_text()
    # One sentence of the passage, not the whole 340-character chunk.
    assert said in passage and len(said) < len(passage)
    assert said.endswith("。") and not STOPS.search(said[:-1])
    assert "配套设施" in said and "比例" in said
    # It is the document's text at the server's offsets.
    doc_id = first.get_attribute("data-doc")
    text = httpx.get(f"{server}/api/documents/{doc_id}", timeout=10).json()["text"]
    assert said in text
    shot(tab, "staff-reader-sentence-desktop")

    # Copying from the reader quotes that sentence.
    page.click("#reader-copy")
    expect(page.locator("#toast")).to_contain_text("已复制引用")
    assert said in (page.locator("body").get_attribute("data-last-citation") or "")
    assert tab.errors == []


# ----------------------------------------------------------------------------- precedents ------


@browser_test
def test_precedent_cards_filter_and_copy(server: str, tabs: Any) -> None:
    tab = staff(tabs, server, permissions=["clipboard-read", "clipboard-write"])
    page = tab.page
    page.get_by_role("tab", name="先例卡片").click()
    cards = page.locator(".case-card")
    expect(cards.first).to_be_visible()
    total = cards.count()
    assert total >= 10
    assert query_of(page)["view"] == ["cases"]
    expect(page.locator("#case-status")).to_contain_text(f"共 {total} 个先例")
    expect(page.locator("#search-view")).to_be_hidden()
    shot(tab, "staff-cases-desktop")

    # By measure: the first 带押过户, dated by its newsletter.
    page.select_option("#case-measure", "带押过户")
    expect(cards).to_have_count(1)
    card = cards.first
    expect(card.locator("h3")).to_contain_text("首笔二手房“带押过户”业务")
    expect(card.locator(".case-date")).to_contain_text("2022年")
    expect(card.locator(".case-date")).to_contain_text("近日")
    expect(card.locator(".case-place")).to_contain_text("平湖市")
    assert query_of(page)["measure"] == ["带押过户"]

    card.get_by_role("button", name="复制引用").click()
    expect(page.locator("#toast")).to_contain_text("已复制引用")
    copied = page.evaluate("navigator.clipboard.readText()")
    quote = card.locator(".case-quote").inner_text()
    assert copied.startswith("案例：首笔二手房“带押过户”业务（平湖市，2022年）；措施：")
    assert "《平湖市自然资源和规划局工作简报" in copied and f"：“{quote}”" in copied

    # The reader marks the case and its key sentence.
    card.get_by_role("button", name="阅读全文").click()
    expect(page.locator("#reader mark.sentence")).to_have_text(quote)
    expect(page.locator("#reader mark.sentence")).to_be_in_viewport()
    shot(tab, "staff-case-reader-desktop")
    page.click("#reader-close")

    # By year, by place, and from a measure chip; a shared link keeps the filter.
    page.click("#case-clear")
    expect(cards).to_have_count(total)
    page.select_option("#case-year", "2021")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-year", "2021")
    page.click("#case-clear")
    page.select_option("#case-place", "独山港经济开发区")
    # Wait for the filtered list itself, not only for a card (the unfiltered ones are visible too).
    page.wait_for_function(
        "n => { const k = document.querySelectorAll('.case-card').length; return k >= 1 && k < n; }",
        arg=total,
    )
    page.click("#case-clear")
    expect(cards).to_have_count(total)
    page.locator(".case-card .chip.measure", has_text="绿色通道").first.click()
    expect(page.locator("#case-measure")).to_have_value("绿色通道")
    expect(cards.first).to_be_visible()
    for i in range(cards.count()):
        expect(cards.nth(i).locator(".chip.measure", has_text="绿色通道")).to_have_count(1)
    shared = staff(tabs, server, urlparse(page.url).path + "?" + urlparse(page.url).query)
    expect(shared.page.locator("#case-measure")).to_have_value("绿色通道")
    expect(shared.page.locator(".case-card")).to_have_count(cards.count())
    assert tab.errors == [] and shared.errors == []


# ----------------------------------------------------------------------------- layout ----------


@browser_test
def test_phone_layout_fits_the_viewport(server: str, tabs: Any) -> None:
    tab = staff(tabs, server, "/staff?q=盘活存量", PHONE)
    page = tab.page
    expect(page.locator(".hit").first).to_be_visible()
    for selector in ("#q", "#search-form button[type=submit]", "#k", "#doc", "#heading"):
        box = box_inside(page, selector, PHONE["width"], PHONE["height"])
        assert box["height"] >= 44, (selector, box)  # a finger's tap target
    for selector in ("#tab-search", "#tab-cases", "#admin-btn"):
        box_inside(page, selector, PHONE["width"], PHONE["height"])
    box_inside(page, ".hit", PHONE["width"], None)  # taller than the screen, never wider
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The file facts filters start folded; unfolded, they fit too.
    expect(page.locator("#jur")).to_be_hidden()
    page.click("#more-filters > summary")
    for selector in ("#jur", "#kind", "#date-from", "#date-to", "#doc-status"):
        box_inside(page, selector, PHONE["width"], PHONE["height"])
    shot(tab, "staff-phone")

    page.get_by_role("tab", name="先例卡片").click()
    expect(page.locator(".case-card").first).to_be_visible()
    for selector in ("#case-measure", "#case-place", "#case-year", "#case-clear"):
        box_inside(page, selector, PHONE["width"], PHONE["height"])
    box_inside(page, ".case-card", PHONE["width"], None)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(tab, "staff-cases-phone")
    assert tab.errors == []


@browser_test
def test_desktop_form_stays_clear_of_the_scrolling_results(server: str, tabs: Any) -> None:
    tab = staff(tabs, server, "/staff?q=用地&k=50")
    page = tab.page
    last = page.locator(".hit").last
    expect(last).to_be_visible()
    before = page.locator("#q").bounding_box()
    page.locator("#results-scroll").evaluate("el => el.scrollTo(0, el.scrollHeight)")
    expect(last).to_be_in_viewport()
    after = page.locator("#q").bounding_box()
    assert after == before  # the form did not move
    header = page.locator(".s-header").bounding_box()
    form = page.locator("#search-form").bounding_box()
    assert header is not None and form is not None and after is not None
    assert form["y"] >= header["y"] + header["height"] - 0.5
    # Nothing covers the search box or its button: each is the element at its own centre.
    for element_id in ("q", "k"):
        hit_id = page.evaluate(
            """id => { const r = document.getElementById(id).getBoundingClientRect();
                return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2).id; }""",
            element_id,
        )
        assert hit_id == element_id
    # The sticky document heading sticks below the form, not over it.
    head = page.locator(".group-head").first.bounding_box()
    assert head is not None and head["y"] >= form["y"] + form["height"] - 0.5
    shot(tab, "staff-desktop-scrolled")
    assert tab.errors == []
