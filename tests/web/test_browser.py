"""The site in a real browser: Debian's chromium driven by Playwright, against a real
uvicorn server on loopback over the demo corpus plus dated papers.

Screenshots of each page land in test-output/screenshots/. chromium comes from apt
(scripts/test installs it); these tests fail rather than skip when it is missing, unless
PAPERFEED_BROWSER_TESTS=off says to skip them on purpose.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import feedparser
import pytest
import uvicorn

from paperfeed.ingest import run_ingest
from paperfeed.startup import load_demo_corpus, prepare_engine
from paperfeed.store import open_store
from paperfeed.web.app import create_app
from tests.conftest import REPO
from tests.web.conftest import TODAY, dated_papers, dated_settings

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
SHOTS = REPO / "test-output" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage"]

if os.environ.get("PAPERFEED_BROWSER_TESTS", "").lower() == "off":
    pytest.skip("browser tests turned off by PAPERFEED_BROWSER_TESTS=off", allow_module_level=True)
if not Path(CHROMIUM).exists():
    pytest.fail(f"{CHROMIUM} is missing: run ./scripts/test (it installs Debian's chromium) "
                "or set PAPERFEED_BROWSER_TESTS=off to skip the browser tests on purpose", pytrace=False)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("browser")
    dead_arxiv = f"http://127.0.0.1:{free_port()}/api/query"  # nothing listens: submit must say so
    settings = dated_settings(folder, arxiv_api_url=dead_arxiv)
    store = open_store(settings.database_url)
    store.migrate()
    load_demo_corpus(store)
    run_ingest(store, dated_papers())
    app = create_app(settings, engine=prepare_engine(store, settings), today=lambda: TODAY)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(10)
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1200, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


# -- flows ----------------------------------------------------------------------------------------
def test_search_flow_from_the_header_box_to_a_paper(page: Page) -> None:
    page.goto("/")
    page.get_by_label("Search papers").fill("knowledge distillation")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=knowledge\+distillation"))
    expect(page.locator("h1")).to_have_text("Results for “knowledge distillation”")
    first = page.locator("article.card h2 a").first
    expect(first.locator("mark").first).to_be_visible()
    assert page.locator("article.card").count() == 20
    shot(page, "search")
    shot(page, "search-viewport", full_page=False)  # the README's picture (docs/screenshots/search.png)
    title = first.inner_text()
    first.click()
    expect(page.locator("h1")).to_have_text(title)
    expect(page).to_have_url(re.compile(r"/papers/"))


def test_fielded_query(page: Page) -> None:
    page.goto("/search?q=" + "ti:routing -\"part 3\"".replace(" ", "+"))
    titles = page.locator("article.card h2 a").all_inner_texts()
    assert len(titles) == 6 and all("routing" in t and "part 3" not in t for t in titles)
    expect(page.get_by_label("Query")).to_have_value('ti:routing -"part 3"')


def test_filter_and_sort_controls(page: Page) -> None:
    page.goto("/search?q=sparse+attention+routing")
    page.get_by_label("Category").fill("cs.LG")
    page.get_by_label("Sort").select_option("newest")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"category=cs\.LG.*sort=newest"))
    dates = page.locator("article.card time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert page.locator("article.card").count() == 3 and dates == sorted(dates, reverse=True)
    page.get_by_label("Code").select_option("true")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("article.card")).to_have_count(1)


def test_paper_page_cite_and_copy_link(page: Page, base_url: str) -> None:
    page.goto("/search?q=ti:routing+part+4&mode=bm25")
    page.locator("article.card h2 a").first.click()
    expect(page.locator("h1")).to_contain_text("part 4")
    expect(page.get_by_label("BibTeX")).to_have_value(re.compile(r"^@misc\{lovelace2026sparse,"))
    expect(page.get_by_role("heading", name="Votes and comments")).to_be_visible()
    expect(page.get_by_role("heading", name="Related papers")).to_be_visible()
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == page.url
    assert page.url.startswith(base_url)
    shot(page, "paper")


def test_day_week_navigation(page: Page) -> None:
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Wednesday, November 4, 2026")
    expect(page.locator(".new")).to_have_count(1)
    assert page.locator("a[rel=next]").count() == 0  # nothing after today
    page.get_by_role("link", name="← Previous day").click()
    page.get_by_role("link", name="← Previous day").click()
    expect(page.locator("h1")).to_have_text("Monday, November 2, 2026")
    expect(page.locator("article.card")).to_have_count(7)
    shot(page, "home")
    page.get_by_role("navigation", name="Periods").get_by_role("link", name="Week").click()
    expect(page.locator("h1")).to_have_text("Week of November 2, 2026")
    expect(page.locator("article.card")).to_have_count(9)
    assert page.get_by_role("link", name="Next week →").count() == 0


def test_feed_links_are_discoverable_and_valid(page: Page) -> None:
    page.goto("/search?q=sparse+attention")
    hrefs = page.locator('head link[rel=alternate][type="application/atom+xml"]').evaluate_all(
        "els => els.map(e => e.href)")
    search_feed = next(h for h in hrefs if "/feeds/search.atom" in h)
    body = page.request.get(search_feed).body()
    parsed = feedparser.parse(body)
    assert not parsed.bozo and parsed.feed.title == "paperfeed: sparse attention" and parsed.entries
    rss = page.locator('head link[rel=alternate][type="application/rss+xml"]').get_attribute("href")
    assert rss and feedparser.parse(page.request.get(rss).body()).version == "rss20"


def test_submit_error_paths(page: Page) -> None:
    page.goto("/submit")
    page.get_by_label("arXiv id or URL").fill("not-an-id")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("alert")).to_contain_text("is not an arXiv id")
    page.get_by_label("arXiv id or URL").fill("https://arxiv.org/abs/1706.03762")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("alert")).to_contain_text("Could not fetch 1706.03762 from arXiv")
    expect(page.get_by_label("arXiv id or URL")).to_have_value("https://arxiv.org/abs/1706.03762")
    shot(page, "submit-error")


def test_map_dots_are_links(page: Page) -> None:
    page.goto("/map?view=week&date=2026-11-02")
    dots = page.locator("figure.map svg a")
    expect(dots).to_have_count(9)
    shot(page, "map")
    dots.first.click()
    expect(page).to_have_url(re.compile(r"/papers/"))


def test_api_docs_render_offline(page: Page) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/docs")
    expect(page.get_by_text("/api/v1/search", exact=True)).to_be_visible()
    assert requested and all(url.startswith(page.url.split("/docs")[0]) for url in requested), requested


# -- accessibility basics ---------------------------------------------------------------------------
PAGES = ["/", "/?view=week&date=2026-11-02", "/search?q=knowledge", "/search?q=zzzzqqq", "/map", "/submit",
         "/papers/no-such-paper"]

LABELS_JS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.outerHTML)"""

HEADINGS_JS = """() => [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => Number(h.tagName[1]))"""

# WCAG contrast of every element that holds text, against the first opaque background up the tree.
CONTRAST_JS = """() => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const bg = el => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length < 4 || c[3] > 0.9) return c; } return [255, 255, 255]; };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || el.getClientRects().length === 0 || el.closest('.visually-hidden, .skip')) continue;
    const [a, b] = [lum(rgb(style.color)), lum(bg(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(el.tagName + ' ' + el.textContent.trim().slice(0, 30) + ' ' + ratio.toFixed(2));
  }
  return bad;
}"""


@pytest.mark.parametrize("path", PAGES)
def test_accessibility_basics(page: Page, path: str) -> None:
    page.goto(path)
    assert page.evaluate("document.documentElement.lang") == "en"
    levels = page.evaluate(HEADINGS_JS)
    assert levels.count(1) == 1, levels  # one h1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), levels  # no skipped level
    assert page.evaluate(LABELS_JS) == []
    assert page.evaluate(CONTRAST_JS) == []
    assert page.locator("main").count() == 1 and page.locator("header nav").count() == 1


def test_keyboard_focus_is_visible_and_skip_link_works(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    box = page.evaluate("document.activeElement.getBoundingClientRect().left")
    assert box >= 0  # the skip link moves on screen when focused
    for _ in range(8):
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle + ' ' + "
                                "getComputedStyle(document.activeElement).outlineWidth")
        assert outline.split()[0] != "none" and outline.split()[1] != "0px", outline
        page.keyboard.press("Tab")
    page.goto("/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#content"
