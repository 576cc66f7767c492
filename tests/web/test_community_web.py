"""Accounts, votes and trending through the app, on SQLite and on PostgreSQL: magic-link
sign-in (read from a capturing mailer), CSRF, session rotation, rate limits, XSS."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.message import Message
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from paperfeed.mail.transport import DeliveryResult, Outcome
from paperfeed.store import open_store
from paperfeed.web.app import create_app
from paperfeed.web.session import CSRF_COOKIE, SESSION_COOKIE, digest
from tests.conftest import make_paper
from tests.web.conftest import dated_settings

XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>'


class CapturingMailer:
    """Keeps each message instead of sending it (the SMTP path is tested in tests/mail)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def send(self, message: Message) -> DeliveryResult:
        self.messages.append(message)
        return DeliveryResult(Outcome.DELIVERED, "captured")

    def send_bytes(self, *, sender: str, recipient: str, data: bytes) -> DeliveryResult:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def link(self) -> str:
        for part in self.messages[-1].walk():
            if part.get_content_type() == "text/plain":
                text = part.get_payload(decode=True).decode()
                return re.search(r"https?://\S+/sign-in/verify\?token=\S+", text).group(0)  # type: ignore[union-attr]
        raise AssertionError("no text part")


@pytest.fixture
def app_client(tmp_path: Path, store_url: str) -> Iterator[tuple[TestClient, CapturingMailer]]:
    settings = dated_settings(tmp_path, database_url=store_url, embed_model="none", vote_limit="5")
    store = open_store(settings.database_url)
    store.migrate()
    now = datetime.now(timezone.utc)
    store.write_papers([make_paper(f"Fresh paper {i} {XSS}", id=f"fresh{i}", abstract=f"Abstract {XSS}",
                                   published=now - timedelta(hours=2 + i)) for i in range(3)]
                       + [make_paper("Old paper", id="old", published=now - timedelta(days=20))], ingested_at=now)
    store.close()
    app = create_app(settings)
    mailer = CapturingMailer()
    app.state.mailer = mailer
    with TestClient(app) as client:
        yield client, mailer


def csrf(client: TestClient) -> str:
    client.get("/sign-in")
    return client.cookies[CSRF_COOKIE]


def sign_in(client: TestClient, mailer: CapturingMailer, email: str = "ada@example.org") -> None:
    response = client.post("/sign-in", data={"email": email, "csrf": csrf(client)})
    assert response.status_code == 200 and "We sent a sign-in link" in response.text
    token = mailer.link().split("token=")[1]
    from urllib.parse import unquote

    page = client.get("/sign-in/verify", params={"token": unquote(token)})
    assert 'name="token"' in page.text  # a button, not a sign-in on GET (mail scanners)
    done = client.post("/sign-in/verify", data={"token": unquote(token), "csrf": client.cookies[CSRF_COOKIE]},
                       follow_redirects=False)
    assert done.status_code == 303, done.text


def test_magic_link_signs_in_once_and_rotates_the_session(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    client.cookies.set(SESSION_COOKIE, "attacker-chosen", domain="testserver.local")  # session fixation attempt
    sign_in(client, mailer)
    session = client.cookies[SESSION_COOKIE]
    assert session != "attacker-chosen" and len(session) >= 40
    assert "ada</a>" in client.get("/").text  # signed in: the header names the user
    header = [h for h in client.get("/sign-in").headers.get_list("set-cookie")]  # nothing re-set on reads
    assert header == []
    # the same link again: refused
    token = mailer.link().split("token=")[1]
    from urllib.parse import unquote

    again = client.post("/sign-in/verify", data={"token": unquote(token), "csrf": client.cookies[CSRF_COOKIE]})
    assert again.status_code == 400 and "already used" in again.text
    # the store keeps only the digest of the session id
    store = client.app.state.engine.store  # type: ignore[attr-defined]
    assert store.community.session_user(digest(session), now=datetime.now(timezone.utc)) is not None
    assert store.community.session_user(session, now=datetime.now(timezone.utc)) is None


def test_session_cookie_flags(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    client.post("/sign-in", data={"email": "ada@example.org", "csrf": csrf(client)})
    from urllib.parse import unquote

    token = unquote(mailer.link().split("token=")[1])
    done = client.post("/sign-in/verify", data={"token": token, "csrf": client.cookies[CSRF_COOKIE]},
                       follow_redirects=False)
    cookies = [c for c in done.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    assert cookies and "HttpOnly" in cookies[0] and "SameSite=lax" in cookies[0] and "Secure" not in cookies[0]


def test_csrf_less_posts_are_refused(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    assert client.post("/sign-in", data={"email": "ada@example.org"}).status_code == 403
    sign_in(client, mailer)
    assert client.post("/vote", data={"paper_id": "fresh0"}).status_code == 403
    assert client.post("/vote", data={"paper_id": "fresh0", "csrf": "wrong"}).status_code == 403
    assert client.post("/api/v1/votes", json={"paper_id": "fresh0"}).status_code == 403
    assert client.post("/sign-out", data={}).status_code == 403
    assert client.get("/api/v1/trending").json()["papers"][0]["votes"] == 0


def test_votes_toggle_and_trending_follows(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    assert client.post("/api/v1/votes", json={"paper_id": "fresh2"},
                       headers={"X-CSRF-Token": csrf(client)}).status_code == 401  # not signed in
    sign_in(client, mailer)
    token = client.cookies[CSRF_COOKIE]
    before = [p["id"] for p in client.get("/api/v1/trending").json()["papers"]]
    assert before == ["fresh0", "fresh1", "fresh2"]  # unvoted: newest first; "old" is not today's
    answer = client.post("/api/v1/votes", json={"paper_id": "fresh2"}, headers={"X-CSRF-Token": token})
    assert answer.json() == {"paper_id": "fresh2", "voted": True, "votes": 1}
    after = client.get("/api/v1/trending").json()["papers"]
    assert after[0]["id"] == "fresh2" and after[0]["votes"] == 1
    assert "old" in [p["id"] for p in client.get("/api/v1/trending?view=month").json()["papers"]]
    page = client.get("/trending").text
    assert page.index("fresh2") < page.index("fresh0") and 'aria-pressed="true"' in page
    feed = client.get("/feeds/trending.atom").text
    assert feed.index("/papers/fresh2") < feed.index("/papers/fresh0")
    assert client.post("/vote", data={"paper_id": "fresh2", "csrf": token, "next": "//evil.example"},
                       follow_redirects=False).headers["location"] == "/"
    assert client.get("/api/v1/trending").json()["papers"][0]["id"] == "fresh0"  # toggled off
    assert client.post("/api/v1/votes", json={"paper_id": "nope"}, headers={"X-CSRF-Token": token}).status_code == 400
    bad = client.get("/api/v1/trending?view=year")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "view"


def test_vote_rate_limit_trips_and_recovers(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    sign_in(client, mailer)
    headers = {"X-CSRF-Token": client.cookies[CSRF_COOKIE]}
    clock = [1000.0]
    client.app.state.rate_limiter.clock = lambda: clock[0]  # type: ignore[attr-defined]
    for _ in range(5):  # vote_limit=5 per minute in this app
        assert client.post("/api/v1/votes", json={"paper_id": "fresh0"}, headers=headers).status_code == 200
    tripped = client.post("/api/v1/votes", json={"paper_id": "fresh0"}, headers=headers)
    assert tripped.status_code == 429 and tripped.json()["error"]["code"] == "rate_limited"
    clock[0] += 61
    assert client.post("/api/v1/votes", json={"paper_id": "fresh0"}, headers=headers).status_code == 200


def test_sign_in_rate_limit_and_bad_email(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, _ = app_client
    token = csrf(client)
    bad = client.post("/sign-in", data={"email": "not-an-address", "csrf": token})
    assert bad.status_code == 400 and "email address" in bad.text
    for _ in range(5):
        assert client.post("/sign-in", data={"email": "bob@example.org", "csrf": token}).status_code == 200
    assert client.post("/sign-in", data={"email": "bob@example.org", "csrf": token}).status_code == 429


def test_xss_payloads_render_inert(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    sign_in(client, mailer)
    token = client.cookies[CSRF_COOKIE]
    me = client.get("/").text.split('href="/users/')[1].split('"')[0]
    client.post("/account/name", data={"display_name": XSS, "csrf": token})
    for path in ("/trending", f"/users/{me}", "/papers/fresh0", "/"):
        text = client.get(path).text
        assert "<script>alert(1)" not in text and "<img src=x" not in text, path
    feed = client.get("/feeds/trending.atom").text
    assert "<script>" not in feed and "&lt;script&gt;" in feed


def test_sign_out_ends_the_session(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    sign_in(client, mailer)
    session = client.cookies[SESSION_COOKIE]
    assert client.post("/sign-out", data={"csrf": client.cookies[CSRF_COOKIE]}, follow_redirects=False).status_code == 303
    client.cookies.set(SESSION_COOKIE, session, domain="testserver.local")  # replaying the old cookie does not work
    assert "Sign in</a>" in client.get("/").text


SQL_PAYLOADS = ["' OR '1'='1", "fresh0'; DROP TABLE votes; --", "1 UNION SELECT email FROM users", "%", "?", "\\x00"]


def test_sql_injection_payloads_are_plain_values(app_client: tuple[TestClient, CapturingMailer]) -> None:
    """Payloads in every community input are data: unknown ids are 4xx, nothing breaks,
    the tables are all still there afterwards."""
    client, mailer = app_client
    sign_in(client, mailer)
    headers = {"X-CSRF-Token": client.cookies[CSRF_COOKIE]}
    clock = [0.0]
    client.app.state.rate_limiter.clock = lambda: clock[0]  # type: ignore[attr-defined]
    for payload in SQL_PAYLOADS:
        clock[0] += 61  # a fresh rate-limit window each round: this test is about the payloads
        assert client.post("/api/v1/votes", json={"paper_id": payload}, headers=headers).status_code == 400
        assert client.get("/api/v1/comments", params={"paper_id": payload}).json()["comments"] == []
        assert client.get("/api/v1/trending", params={"view": payload}).status_code == 400
        assert client.get("/api/v1/search", params={"q": payload, "category": payload}).status_code in (200, 400)
        response = client.post("/comments", data={"paper_id": "fresh0", "body": payload,
                                                  "csrf": client.cookies[CSRF_COOKIE]}, follow_redirects=False)
        assert response.status_code == 303
    bodies = [c["body"] for c in client.get("/api/v1/comments", params={"paper_id": "fresh0"}).json()["comments"]]
    assert bodies == [p.strip() for p in SQL_PAYLOADS]
    assert client.post("/api/v1/votes", json={"paper_id": "fresh0"}, headers=headers).json()["votes"] == 1


def test_a_vote_draws_a_sparkline_on_cards_and_the_paper_page(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    assert "<svg class=\"spark\"" not in client.get("/papers/fresh1").text  # no votes: no line
    sign_in(client, mailer)
    client.post("/api/v1/votes", json={"paper_id": "fresh1"}, headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]})
    label = 'aria-label="1 vote in the last 14 days"'
    assert label in client.get("/papers/fresh1").text
    trending = client.get("/trending").text
    cards = {card.split('href="/papers/')[1].split('"')[0].split('#')[0]: card for card in trending.split('<article class="card">')[1:]}
    assert label in cards["fresh1"] and trending.count(label) == 1


def test_subscribing_from_an_account_links_the_subscription_to_it(app_client: tuple[TestClient, CapturingMailer]) -> None:
    """Issue 7: "subscribe ... or from an account". Only the account's own address (proven by
    its sign-in link) is linked; any other address typed while signed in stays unlinked, and
    every address still confirms by mail (double opt-in)."""
    client, mailer = app_client
    store = client.app.state.engine.store  # type: ignore[attr-defined]
    client.post("/subscribe", data={"email": "ada@example.org"})  # before signing in: not linked
    assert store.mail.find_subscriber("ada@example.org").user_id is None
    sign_in(client, mailer)
    user = store.community.session_user(digest(client.cookies[SESSION_COOKIE]), now=datetime.now(timezone.utc))
    assert user is not None and user.email == "ada@example.org"
    for typed in ("Ada@Example.org", "eve@example.org"):
        assert client.post("/subscribe", data={"email": typed}).status_code == 200
    ada, eve = store.mail.find_subscriber("ada@example.org"), store.mail.find_subscriber("eve@example.org")
    assert ada.user_id == user.id and ada.status == "pending"
    assert eve.user_id is None and eve.status == "pending"
