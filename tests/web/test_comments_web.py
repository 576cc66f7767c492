"""Comments through the app on both stores: Markdown made safe, one level of replies,
own edits only, reports, moderators hiding comments and suspending users."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from paperfeed.web.session import CSRF_COOKIE, SESSION_COOKIE
from tests.web.test_community_web import XSS, CapturingMailer, app_client, sign_in  # noqa: F401 - fixture

PAYLOADS = [XSS, "[x](javascript:alert(1))", '<a href="javascript:alert(1)">x</a>', "<svg onload=alert(1)>",
            '[y](https://ok.example "t\\" onmouseover=\\"alert(1)")']


def assert_inert(html: str) -> None:
    """No live script: no script/img/svg element, no event-handler attribute, no
    javascript: URL in any tag (as text, escaped, they are harmless)."""
    for tag in re.findall(r"<[a-zA-Z][^>]*>", html):
        lowered = tag.lower()
        assert not lowered.startswith(("<script", "<img", "<svg", "<iframe")), tag
        attributes = re.findall(r'([a-z][a-z0-9-]*)="([^"]*)"', lowered)
        assert "=" not in re.sub(r'[a-z][a-z0-9-]*="[^"]*"', "", lowered), tag  # every value quoted
        for name, value in attributes:
            assert not name.startswith("on"), tag
            assert not (name in ("href", "src", "action") and value.strip().startswith("javascript:")), tag


def _post(client: TestClient, path: str, **data: str) -> int:
    return client.post(path, data={**data, "csrf": client.cookies[CSRF_COOKIE]}, follow_redirects=False).status_code


def _ids(client: TestClient) -> list[int]:
    return [c["id"] for c in client.get("/api/v1/comments", params={"paper_id": "fresh0"}).json()["comments"]]


def test_comment_markdown_is_safe_and_links_are_nofollow(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    sign_in(client, mailer)
    assert _post(client, "/comments", paper_id="fresh0", body="See [the code](https://example.org/c) *now*") == 303
    for payload in PAYLOADS:
        assert _post(client, "/comments", paper_id="fresh0", body=payload) == 303
    page = client.get("/papers/fresh0").text
    assert '<a href="https://example.org/c" rel="nofollow ugc noopener">the code</a>' in page
    assert "<em>now</em>" in page
    assert_inert(page.split('<h2 id="comments-heading"')[1].split('</section>')[0])
    api = client.get("/api/v1/comments", params={"paper_id": "fresh0"}).json()["comments"]
    assert len(api) == 1 + len(PAYLOADS) and all("<script>" not in c["html"] for c in api)


def test_replies_edits_deletes_and_ownership(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    sign_in(client, mailer, "ada@example.org")
    _post(client, "/comments", paper_id="fresh0", body="top")
    [top] = _ids(client)
    assert _post(client, "/comments", paper_id="fresh0", body="reply", parent_id=str(top)) == 303
    assert _post(client, "/comments", paper_id="fresh0", body="x", parent_id="abc") == 400
    assert _post(client, "/comments", paper_id="fresh0", body="") == 400
    assert _post(client, "/comments", paper_id="fresh0", body="y" * 3001) == 400
    assert _post(client, "/comments", paper_id="missing", body="z") == 400
    ada_cookies = dict(client.cookies)
    client.cookies.clear()
    sign_in(client, mailer, "bob@example.org")
    assert _post(client, f"/comments/{top}/edit", body="hijacked") == 403
    assert _post(client, f"/comments/{top}/delete") == 403
    assert _post(client, f"/comments/{top}/hide") == 403  # bob is no moderator
    assert _post(client, f"/comments/{top}/report", reason="spam") == 303
    assert _post(client, "/comments/999999/edit", body="nothing") == 404
    comments = client.get("/api/v1/comments", params={"paper_id": "fresh0"}).json()["comments"]
    assert comments[0]["body"] == "top" and comments[1]["parent_id"] == top
    client.cookies.clear()
    for name, value in ada_cookies.items():
        client.cookies.set(name, value, domain="testserver.local")
    assert _post(client, f"/comments/{top}/edit", body="top, edited") == 303
    assert client.get("/api/v1/comments", params={"paper_id": "fresh0"}).json()["comments"][0]["body"] == "top, edited"
    assert _post(client, f"/comments/{top}/delete") == 303
    first = client.get("/api/v1/comments", params={"paper_id": "fresh0"}).json()["comments"][0]
    assert first["deleted"] and first["body"] == ""


def test_moderators_hide_and_suspend(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    community = client.app.state.engine.store.community  # type: ignore[attr-defined]
    sign_in(client, mailer, "spammer@example.org")
    spammer_session = client.cookies[SESSION_COOKIE]
    _post(client, "/comments", paper_id="fresh0", body="buy things")
    [spam] = _ids(client)
    client.cookies.clear()
    sign_in(client, mailer, "mod@example.org")
    mod = [u for u in (community.get_user(i) for i in range(1, 5)) if u and u.email == "mod@example.org"][0]
    spammer = [u for u in (community.get_user(i) for i in range(1, 5)) if u and u.email == "spammer@example.org"][0]
    assert _post(client, f"/users/{spammer.id}/suspend") == 403
    community.set_moderator(mod.id, True)
    assert _post(client, f"/comments/{spam}/hide") == 303
    shown = client.get("/api/v1/comments", params={"paper_id": "fresh0"}).json()["comments"][0]
    assert shown["hidden"] and shown["body"] == "" and "buy things" not in client.get("/papers/fresh0").text
    assert _post(client, f"/users/{spammer.id}/suspend") == 303
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, spammer_session, domain="testserver.local")
    client.get("/sign-in")
    assert _post(client, "/comments", paper_id="fresh0", body="again") == 401  # session ended
