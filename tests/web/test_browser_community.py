"""The community flow in a real browser (Debian's chromium via Playwright) against a real
uvicorn server: sign in with the emailed link (read from a capturing mailer), submit a
paper (from a local stand-in for the arXiv API), upvote it, comment, build a collection,
export it as BibTeX, and find the paper on top of today's trending list."""

from __future__ import annotations

import threading
from pathlib import Path
import time
from typing import Iterator

import pytest
import uvicorn

from paperfeed.sources.arxiv_api import RateLimiter
from paperfeed.startup import prepare_engine
from paperfeed.store import open_store
from paperfeed.web.app import create_app
from tests.web.conftest import FakeArxiv, dated_papers, dated_settings
from tests.web.test_browser import CHROMIUM, FLAGS, SHOTS, free_port  # skips/fails like the other browser tests
from tests.web.test_community_web import CapturingMailer

from paperfeed.ingest import run_ingest
from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path_factory: pytest.TempPathFactory, fake_arxiv: FakeArxiv) -> Iterator[tuple[str, CapturingMailer]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = dated_settings(tmp_path_factory.mktemp("community-browser"), arxiv_api_url=fake_arxiv.url,
                              public_url=base, embed_model="none")
    store = open_store(settings.database_url)
    store.migrate()
    run_ingest(store, dated_papers())
    app = create_app(settings, engine=prepare_engine(store, settings))
    app.state.arxiv_limiter = RateLimiter(0.0)
    mailer = CapturingMailer()
    app.state.mailer = mailer
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield base, mailer
    server.should_exit = True
    thread.join(10)
    store.close()


def test_sign_in_submit_vote_comment_collect_and_trend(site: tuple[str, CapturingMailer]) -> None:
    base, mailer = site
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context(base_url=base, viewport={"width": 1200, "height": 900})
        page = context.new_page()
        try:
            page.goto("/sign-in")
            page.get_by_label("Email address").fill("ada@example.org")
            page.get_by_role("button", name="Email me a link").click()
            expect(page.get_by_role("status")).to_contain_text("We sent a sign-in link")
            page.goto(mailer.link())
            page.get_by_role("button", name="Sign in to paperfeed").click()
            expect(page.get_by_role("link", name="ada", exact=True)).to_be_visible()

            page.goto("/submit")
            page.get_by_label("arXiv id or URL").fill("2401.01234")
            page.get_by_role("button", name="Submit").click()
            expect(page).to_have_url(f"{base}/papers/2401.01234?submitted=1")
            expect(page.locator(".submitted-by")).to_have_text("Submitted by ada")

            page.get_by_role("button", name="Upvote").click()
            expect(page.locator(".votes-total")).to_have_text("▲ 1 vote")

            page.get_by_label("Add a comment").fill("Worth reading: [code](https://example.org/code) <b>x</b>")
            page.get_by_role("button", name="Post comment").click()
            link = page.locator(".comment .body a")
            expect(link).to_have_attribute("rel", "nofollow ugc noopener")
            expect(page.locator(".comment .body")).to_contain_text("<b>x</b>")  # shown as text, not markup

            page.get_by_label("New collection").fill("To read")
            page.get_by_role("button", name="Create and save").click()
            expect(page.get_by_role("heading", name="To read")).to_be_visible()
            with page.expect_download() as download_info:
                page.get_by_role("link", name="BibTeX").click()
            exported = Path(download_info.value.path()).read_text(encoding="utf-8")
            assert "2401.01234" in exported and exported.startswith("@")

            page.goto("/trending")
            first = page.locator("article.card").first
            expect(first).to_contain_text("Sparse Attention Routing")
            expect(first.locator(".count")).to_have_text("1")
            expect(first.locator(".comment-count")).to_have_text("💬 1 comment")  # the one posted above
            expect(first.locator(".submitted-by")).to_have_text("submitted by ada")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "trending-signed-in.png"), full_page=True)
        finally:
            context.close()
            browser.close()
