"""Optional passwords through the app, on both stores: set on the profile page, sign in
with email + password, wrong/unset/removed passwords refused alike, CSRF, rate limit."""

from __future__ import annotations

from fastapi.testclient import TestClient

from paperfeed.web.passwords import WRONG
from paperfeed.web.session import CSRF_COOKIE, SESSION_COOKIE
from tests.web.test_community_web import CapturingMailer, app_client, csrf, sign_in  # noqa: F401 - fixture

GOOD = "correct horse battery staple"


def _post(client: TestClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={**data, "csrf": client.cookies[CSRF_COOKIE]}, follow_redirects=False)


def _set_password(client: TestClient, password: str = GOOD, confirm: str | None = None):  # type: ignore[no-untyped-def]
    return _post(client, "/account/password", password=password, confirm=password if confirm is None else confirm)


def _sign_out(client: TestClient) -> None:
    assert _post(client, "/sign-out").status_code == 303
    assert "ada</a>" not in client.get("/").text


def _password_sign_in(client: TestClient, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/sign-in/password", data={"email": email, "password": password, "csrf": csrf(client)},
                       follow_redirects=False)


def test_set_password_then_sign_in_with_it(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    sign_in(client, mailer)
    done = _set_password(client)
    assert done.status_code == 303
    profile = client.get(done.headers["location"]).text
    assert "Password saved." in profile and "Remove password" in profile
    stored = client.app.state.engine.store.community.password_hash_of("ada@example.org")[1]  # type: ignore[attr-defined]
    assert stored.startswith("$argon2id$") and GOOD not in stored
    _sign_out(client)
    before = client.cookies.get(SESSION_COOKIE)
    answer = _password_sign_in(client, "ADA@example.org", GOOD)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert client.cookies[SESSION_COOKIE] != before  # a fresh session id
    assert "ada</a>" in client.get("/").text


def test_wrong_unset_and_removed_passwords_are_refused_alike(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    clock = [1000.0]  # this test makes more attempts than the hourly limit allows: it moves time on
    client.app.state.rate_limiter.clock = lambda: clock[0]  # type: ignore[attr-defined]
    sign_in(client, mailer, "bob@example.org")  # bob has an account but no password
    _sign_out(client)
    sign_in(client, mailer)
    assert _set_password(client).status_code == 303
    _sign_out(client)
    for email, password in (("ada@example.org", "wrong password!"), ("bob@example.org", GOOD),
                            ("nobody@example.org", GOOD), ("ada@example.org", "")):
        answer = _password_sign_in(client, email, password)
        assert answer.status_code == 400 and WRONG.split(" (")[0] in answer.text, (email, password)
        assert "ada</a>" not in client.get("/").text and "bob</a>" not in client.get("/").text
    assert _password_sign_in(client, "ada@example.org", GOOD).status_code == 303
    assert _post(client, "/account/password/remove").status_code == 303
    _sign_out(client)
    clock[0] += 3601
    assert _password_sign_in(client, "ada@example.org", GOOD).status_code == 400


def test_bad_new_password_names_the_field(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    sign_in(client, mailer)
    short = _set_password(client, "short")
    assert short.status_code == 400 and "10 to 256 characters" in short.text
    differ = _set_password(client, GOOD, GOOD + "!")
    assert differ.status_code == 400 and "The two passwords differ" in differ.text
    assert client.app.state.engine.store.community.password_hash_of("ada@example.org")[1] is None  # type: ignore[attr-defined]


def test_password_forms_need_csrf_and_a_session(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    csrf(client)
    assert _set_password(client).status_code in (401, 303) and \
        client.app.state.engine.store.community.password_hash_of("ada@example.org") == (None, None)  # type: ignore[attr-defined]
    sign_in(client, mailer)
    no_token = client.post("/account/password", data={"password": GOOD, "confirm": GOOD}, follow_redirects=False)
    assert no_token.status_code == 403
    no_token = client.post("/sign-in/password", data={"email": "ada@example.org", "password": GOOD},
                           follow_redirects=False)
    assert no_token.status_code == 403


def test_password_attempts_are_rate_limited_and_recover(app_client: tuple[TestClient, CapturingMailer]) -> None:
    client, mailer = app_client
    sign_in(client, mailer)
    assert _set_password(client).status_code == 303
    _sign_out(client)
    clock = [1000.0]
    client.app.state.rate_limiter.clock = lambda: clock[0]  # type: ignore[attr-defined]
    for _ in range(5):  # sign_in_limit: 5 per hour, per email and per client
        assert _password_sign_in(client, "ada@example.org", "guess guess guess").status_code == 400
    assert _password_sign_in(client, "ada@example.org", GOOD).status_code == 429  # even the right one
    clock[0] += 3601
    assert _password_sign_in(client, "ada@example.org", GOOD).status_code == 303
