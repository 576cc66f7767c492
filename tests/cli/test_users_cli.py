"""`paperfeed users ...`: moderators and suspensions without touching the database, on
both stores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from paperfeed.store import open_store

from tests.cli.test_cli import run  # noqa: F401  (the fixture)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def _account(store_url: str, email: str) -> int:
    store = open_store(store_url)
    store.migrate()
    user = store.community.get_or_create_user(email, display_name="Ada", now=NOW)
    store.community.create_session("session-hash", user.id, now=NOW, expires_at=NOW + timedelta(days=400))
    store.close()
    return user.id


def _user(store_url: str, user_id: int):  # type: ignore[no-untyped-def]
    store = open_store(store_url)
    try:
        return store.community.get_user(user_id), store.community.session_user("session-hash", now=NOW)
    finally:
        store.close()


def test_grant_and_revoke_moderator(run, store_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    run("db", "migrate")
    uid = _account(store_url, "ada@example.org")
    granted = run("users", "grant-moderator", "ADA@example.org ")
    assert granted.exit_code == 0, granted.output
    assert f"ada@example.org (id {uid}, 'Ada'): moderator" in granted.output
    assert _user(store_url, uid)[0].is_moderator
    revoked = run("users", "revoke-moderator", "ada@example.org")
    assert revoked.exit_code == 0 and "regular user" in revoked.output
    assert not _user(store_url, uid)[0].is_moderator


def test_suspend_ends_sessions_and_unsuspend_lifts_it(run, store_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    run("db", "migrate")
    uid = _account(store_url, "bob@example.org")
    assert _user(store_url, uid)[1] is not None  # signed in somewhere
    result = run("users", "suspend", "bob@example.org")
    assert result.exit_code == 0 and "suspended" in result.output
    user, session = _user(store_url, uid)
    assert user.suspended and session is None
    assert run("users", "unsuspend", "bob@example.org").exit_code == 0
    assert not _user(store_url, uid)[0].suspended
    shown = run("users", "show", "bob@example.org")
    assert shown.exit_code == 0 and "regular user" in shown.output


def test_unknown_email_is_one_line_and_exit_1(run) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    for command in ("grant-moderator", "revoke-moderator", "suspend", "unsuspend", "show"):
        result = run("users", command, "nobody@example.org")
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: No account with email 'nobody@example.org'")
