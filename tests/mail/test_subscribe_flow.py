"""Subscribing as a person would, on both stores: the header form, the confirmation mail
received by a real SMTP server on 127.0.0.1, its link followed through the app, the
preferences page, and one-click unsubscribe (RFC 8058) from the links in the mail."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.startup import prepare_engine
from paperfeed.store import Store, open_store
from paperfeed.store.mail_tables import OutboxRow
from paperfeed.subscriptions import Subscriptions
from paperfeed.web.app import create_app

from tests.mail.smtp_sink import SmtpServer, body

PUBLIC = "https://papers.example.org"


@pytest.fixture
def site(tmp_path: Path, store_url: str, smtp_server: SmtpServer) -> Iterator[tuple[TestClient, Store, SmtpServer]]:
    settings = Settings.load({
        "data_dir": str(tmp_path / "data"), "load_demo": "false", "database_url": store_url,
        "public_url": PUBLIC, "smtp_host": "127.0.0.1", "smtp_port": str(smtp_server.port),
        "smtp_security": "none", "mail_from": "paperfeed <digest@example.org>", "mail_rate": "0",
    }, environ={}, dotenv=tmp_path / ".env")
    store = open_store(store_url)
    engine = prepare_engine(store, settings)
    with TestClient(create_app(settings, engine=engine), base_url=PUBLIC) as client:
        yield client, store, smtp_server
    store.close()


def _path(url: str, route: str) -> str:
    assert url.startswith(f"{PUBLIC}/{route}/"), url
    return urlsplit(url).path


def _link(text: str, route: str) -> str:
    match = re.search(rf"{re.escape(PUBLIC)}/{route}/[A-Za-z0-9_.%-]+", text)
    assert match, f"no /{route}/ link in {text!r}"
    return _path(match.group(0), route)


def test_subscribe_confirm_preferences_unsubscribe(site: tuple[TestClient, Store, SmtpServer]) -> None:
    client, store, server = site
    answer = client.post("/subscribe", data={"email": "Ada@Example.org"})
    assert answer.status_code == 200 and "Check the inbox" in answer.text
    [mail] = server.handler.messages()
    assert mail["To"] == "Ada@Example.org" and "Confirm" in mail["Subject"]
    assert "List-Unsubscribe" not in mail  # the confirm mail is not list mail
    confirm = _link(body(mail, "plain"), "subscribe/confirm")

    # Re-subscribing does not duplicate the address (any case) and re-sends the pending confirm.
    client.post("/subscribe", data={"email": "ada@example.org"})
    assert store.mail.count_subscribers("pending") == 1 and len(server.handler.messages()) == 2

    page = client.get(confirm)  # a scanner fetching the link confirms nothing
    assert page.status_code == 200 and "Confirm subscription" in page.text
    assert store.mail.count_subscribers("pending") == 1
    done = client.post(confirm)
    assert done.status_code == 200 and "is subscribed" in done.text
    assert store.mail.count_subscribers("active") == 1
    assert client.post(confirm).status_code == 200  # a second click: already done, not an error
    subscriber = store.mail.find_subscriber("ada@example.org")
    assert subscriber is not None and subscriber.next_due_at is not None

    # Re-subscribing a confirmed address sends nothing more.
    client.post("/subscribe", data={"email": "ada@example.org"})
    assert len(server.handler.messages()) == 2

    preferences = _link(done.text.replace("&amp;", "&"), "subscription")
    form = {"frequency": "weekly", "weekday": "4", "trending_top_n": "5",
            "search_query": ["diffusion models", ""], "search_category": ["cs.CV", ""],
            "authors": "Ada Lovelace\nAlan Turing", "categories": "cs.CL cs.LG"}
    saved = client.post(preferences, data=form)
    assert saved.status_code == 200 and "Saved." in saved.text
    after = store.mail.find_subscriber("ada@example.org")
    assert after is not None and (after.frequency, after.weekday, after.trending_top_n) == ("weekly", 4, 5)
    assert after.next_due_at is not None and after.next_due_at.weekday() == 4
    assert [(s.query, s.filters) for s in store.mail.searches([after.id])] == [("diffusion models", '{"category": "cs.CV"}')]
    assert "diffusion models" in client.get(preferences).text
    bad = client.post(preferences, data={**form, "trending_top_n": "999"})
    assert bad.status_code == 400 and "Trending papers must be a number" in bad.text
    paused = client.post(preferences, data={**form, "frequency": "paused"})
    assert paused.status_code == 200
    assert store.mail.find_subscriber("ada@example.org").status == "paused"  # type: ignore[union-attr]


def test_one_click_unsubscribe_from_a_mails_headers(site: tuple[TestClient, Store, SmtpServer]) -> None:
    client, store, server = site
    client.post("/subscribe", data={"email": "grace@example.org"})
    client.post(_link(body(server.handler.messages()[0], "plain"), "subscribe/confirm"))
    subscriptions = Subscriptions(store, client.app.state.settings)  # type: ignore[attr-defined]
    subscriber = store.mail.find_subscriber("grace@example.org")
    assert subscriber is not None
    _, unsubscribe_token = subscriptions.link_tokens(subscriber)
    links = subscriptions.unsubscribe_headers(unsubscribe_token)
    assert links.mailto.startswith("mailto:digest@example.org?subject=unsubscribe%20")
    url = _path(links.url, "unsubscribe")
    assert "Unsubscribe" in client.get(url).text
    assert store.mail.find_subscriber("grace@example.org").status == "active"  # type: ignore[union-attr]
    # What a mail provider sends for RFC 8058: a POST with this body, no cookies, no CSRF token.
    one_click = client.post(url, content=b"List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200 and "is unsubscribed" in one_click.text
    assert store.mail.find_subscriber("grace@example.org").status == "unsubscribed"  # type: ignore[union-attr]

    # Subscribing again revokes the old links: the old unsubscribe/preferences tokens stop working.
    import time
    time.sleep(1.1)  # tokens carry whole seconds
    client.post("/subscribe", data={"email": "grace@example.org"})
    assert client.get(url).status_code == 400


def test_bad_addresses_and_links_are_400s(site: tuple[TestClient, Store, SmtpServer]) -> None:
    client, store, server = site
    for value in ("nope", "", "a@b", "x@example.org\r\nBcc: y@example.org", "Ada <ada@example.org>"):
        answer = client.post("/subscribe", data={"email": value})
        assert answer.status_code == 400, value
    assert server.handler.messages() == [] and store.mail.count_subscribers("pending") == 0
    for path in ("/subscribe/confirm/v1.x.y", "/subscription/garbage", "/unsubscribe/v1.AAAA.BBBB"):
        assert client.get(path).status_code == 400
        assert client.post(path).status_code == 400


def test_nothing_but_the_confirm_mail_reaches_an_unconfirmed_address(site: tuple[TestClient, Store, SmtpServer]) -> None:
    client, store, server = site
    client.post("/subscribe", data={"email": "unsure@example.org"})
    subscriber = store.mail.find_subscriber("unsure@example.org")
    assert subscriber is not None
    from datetime import datetime, timezone
    now = datetime.now(timezone.utc)
    store.mail.enqueue(kind="digest", subscriber_id=subscriber.id, recipient=subscriber.email, message=b"x",
                       message_id="<d1@example.org>", priority=1, now=now)
    due: list[OutboxRow] = store.mail.due_mail(now=now, limit=10)
    assert due == [] and len(server.handler.messages()) == 1


def test_a_relay_that_refuses_us_leaves_the_confirm_mail_queued(tmp_path: Path, start_smtp) -> None:  # type: ignore[no-untyped-def]
    from tests.mail.smtp_sink import RecordingHandler

    server = start_smtp(RecordingHandler(mail_reply="530 5.7.0 authentication required"))
    settings = Settings.load({
        "data_dir": str(tmp_path / "data"), "load_demo": "false", "public_url": PUBLIC,
        "smtp_host": "127.0.0.1", "smtp_port": str(server.port), "smtp_security": "none",
        "mail_from": "paperfeed <digest@example.org>", "mail_rate": "0",
    }, environ={}, dotenv=tmp_path / ".env")
    store = open_store(settings.database_url)
    with TestClient(create_app(settings, engine=prepare_engine(store, settings)), base_url=PUBLIC) as client:
        answer = client.post("/subscribe", data={"email": "ada@example.org"})
    assert answer.status_code == 200 and server.handler.messages() == []
    assert store.mail.outbox_counts() == {"pending": 1}  # not counted as a bounce, still due
    store.close()
