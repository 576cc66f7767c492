"""A digest mail as a reader's webmail would show it: the HTML part that digest.py composes,
rendered by chromium (no scripts, no remote images), with a screenshot for review."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from paperfeed.digest import DigestComposer
from paperfeed.ingest import run_ingest
from paperfeed.startup import prepare_engine
from paperfeed.store import open_store
from paperfeed.subscriptions import Preferences, Subscriptions
from tests.web.conftest import dated_papers, dated_settings
from tests.web.test_browser import Browser, browser, shot  # noqa: F401 - the chromium fixture

__all__ = ["browser"]


def test_digest_mail_renders_in_chromium(browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    settings = dated_settings(tmp_path, public_url="https://papers.example.org")
    store = open_store(settings.database_url)
    store.migrate()
    engine = prepare_engine(store, settings)
    now = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    subs = Subscriptions(store, settings, clock=lambda: now)
    subscriber = subs.subscribe("ada@example.org")
    store.mail.activate(subscriber.id, now=now, next_due_at=now + timedelta(days=1), delivered_rev=0)
    subs.save_preferences(subs.link_tokens(subscriber)[0], Preferences(
        "daily", None, 3, (("sparse attention", ""),), ("Grace Hopper",), ("q-bio.QM",)))
    run_ingest(store, dated_papers())
    engine.sync()
    plan = DigestComposer(engine, subs, lambda: now).preview("ada@example.org")
    assert plan is not None and plan.paper_count > 3
    html = DigestComposer(engine, subs, lambda: now).render(plan).html
    page = browser.new_page(viewport={"width": 700, "height": 900}, java_script_enabled=False)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.set_content(html)
    headings = page.locator("h2").all_inner_texts()
    assert "Trending" in headings[0] and any("Saved search: sparse attention" in h for h in headings)
    links = page.locator("a").evaluate_all("els => els.map(e => e.href)")
    assert any(link.startswith("https://papers.example.org/papers/") for link in links)
    assert any(link.startswith("https://papers.example.org/unsubscribe/") for link in links)
    assert [url for url in requests if not url.startswith(("about:", "data:"))] == []  # nothing remote loaded
    shot(page, "digest-mail")
    page.close()
    store.close()
