"""The community tables on both stores: users, sessions, nonces, votes and heat,
submissions, comments, collections. Real SQLite file and real PostgreSQL (conftest)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from paperfeed.store import Store
from paperfeed.store.community import CommunityError
from paperfeed.trending import heat
from tests.conftest import VOTING_DAY

NOW = VOTING_DAY


def _user(store: Store, name: str) -> int:
    return store.community.get_or_create_user(f"{name}@example.org", display_name=name, now=NOW).id


def test_users_are_unique_by_lowercased_email(store: Store) -> None:
    first = store.community.get_or_create_user("Ada@Example.org", display_name="ada", now=NOW)
    again = store.community.get_or_create_user("ada@example.org ", display_name="other", now=NOW)
    assert again.id == first.id and again.display_name == "ada" and again.email == "ada@example.org"
    store.community.set_display_name(first.id, "Ada L.")
    assert store.community.get_user(first.id).display_name == "Ada L."  # type: ignore[union-attr]


def test_sessions_expire_and_end_on_suspension(store: Store) -> None:
    uid = _user(store, "ada")
    c = store.community
    c.create_session("h1", uid, now=NOW, expires_at=NOW + timedelta(hours=1))
    assert c.session_user("h1", now=NOW).id == uid  # type: ignore[union-attr]
    assert c.session_user("h1", now=NOW + timedelta(hours=2)) is None
    assert c.session_user("nope", now=NOW) is None
    c.set_suspended(uid, True)
    assert c.session_user("h1", now=NOW) is None
    c.set_suspended(uid, False)
    assert c.session_user("h1", now=NOW) is None  # the session was deleted, not just masked
    c.create_session("h2", uid, now=NOW, expires_at=NOW + timedelta(hours=1))
    c.delete_session("h2")
    assert c.session_user("h2", now=NOW) is None


def test_nonce_is_usable_once(store: Store) -> None:
    assert store.community.use_nonce("n1", now=NOW) is True
    assert store.community.use_nonce("n1", now=NOW) is False
    assert store.community.use_nonce("n2", now=NOW) is True


def test_vote_toggles_and_heat_matches_the_formula(store: Store, dated_papers: list[str]) -> None:
    c = store.community
    ada, bob = _user(store, "ada"), _user(store, "bob")
    assert c.toggle_vote(ada, "p1", now=NOW) == (True, 1)
    assert c.toggle_vote(bob, "p1", now=NOW + timedelta(hours=1)) == (True, 2)
    assert c.vote_counts(dated_papers) == {"p1": 2}
    assert c.voted_by(ada, dated_papers) == {"p1"}
    [entry] = c.trending_voted(since=NOW - timedelta(days=7), limit=10)
    expected = heat([NOW, NOW + timedelta(hours=1)], NOW - timedelta(days=1))
    assert entry.paper_id == "p1" and entry.votes == 2 and entry.heat == pytest.approx(expected, abs=1e-9)
    assert c.toggle_vote(ada, "p1", now=NOW) == (False, 1)
    [entry] = c.trending_voted(since=NOW - timedelta(days=7), limit=10)
    assert entry.heat == pytest.approx(heat([NOW + timedelta(hours=1)], NOW - timedelta(days=1)), abs=1e-9)
    assert c.toggle_vote(bob, "p1", now=NOW) == (False, 0)
    assert c.trending_voted(since=NOW - timedelta(days=7), limit=10) == []
    with pytest.raises(CommunityError, match="No paper"):
        c.toggle_vote(ada, "missing", now=NOW)


def test_trending_orders_by_heat_within_the_period(store: Store, dated_papers: list[str]) -> None:
    c = store.community
    users = [_user(store, f"u{i}") for i in range(3)]
    for uid in users:
        c.toggle_vote(uid, "p3", now=NOW)  # three votes on a 3-day-old paper
    c.toggle_vote(users[0], "p0", now=NOW)  # one vote on today's
    assert [e.paper_id for e in c.trending_voted(since=NOW - timedelta(days=7), limit=10)] == ["p3", "p0"]
    assert [e.paper_id for e in c.trending_voted(since=NOW - timedelta(days=1), limit=10)] == ["p0"]
    assert len(c.trending_voted(since=NOW - timedelta(days=7), limit=1)) == 1


def test_concurrent_votes_are_all_counted(store: Store, dated_papers: list[str]) -> None:
    """Sixteen users vote on one paper from eight threads at once; each toggles twice more
    on another paper. No vote may be lost and heat must agree with the votes."""
    c = store.community
    users = [_user(store, f"u{i}") for i in range(16)]
    errors: list[BaseException] = []

    def work(batch: list[int]) -> None:
        try:
            for uid in batch:
                c.toggle_vote(uid, "p0", now=NOW)
                c.toggle_vote(uid, "p1", now=NOW)
                c.toggle_vote(uid, "p1", now=NOW)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(users[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert c.vote_counts(dated_papers) == {"p0": 16}
    [entry] = c.trending_voted(since=NOW - timedelta(days=7), limit=10)
    assert entry.heat == pytest.approx(heat([NOW] * 16, NOW), abs=1e-9)


def test_submissions_merge_duplicates(store: Store, dated_papers: list[str]) -> None:
    c = store.community
    ada, bob = _user(store, "ada"), _user(store, "bob")
    assert c.record_submission(ada, "p2", now=NOW) == (ada, True)
    assert c.record_submission(bob, "p2", now=NOW + timedelta(hours=1)) == (ada, False)
    assert c.submitted_on("2026-11-27") == ["p2"]
    assert c.submitters(dated_papers) == {"p2": "ada"}
    assert c.submissions_by(ada) == ["p2"] and c.submissions_by(bob) == []


def test_comments_threads_edits_and_moderation(store: Store, dated_papers: list[str]) -> None:
    c = store.community
    ada, bob = _user(store, "ada"), _user(store, "bob")
    top = c.add_comment(ada, "p0", "first", now=NOW)
    reply = c.add_comment(bob, "p0", "a reply", now=NOW, parent_id=top)
    nested = c.add_comment(ada, "p0", "reply to reply", now=NOW, parent_id=reply)
    second = c.add_comment(bob, "p0", "second thread", now=NOW)
    thread = c.comments_for("p0")
    assert [x.id for x in thread] == [top, reply, nested, second]
    assert thread[2].parent_id == top  # one level: flattened into the thread
    with pytest.raises(CommunityError):
        c.add_comment(ada, "p1", "wrong paper", now=NOW, parent_id=top)
    assert c.edit_comment(top, bob, "hijack", now=NOW) is False
    assert c.delete_comment(top, bob) is False
    assert c.edit_comment(top, ada, "edited", now=NOW) is True
    assert c.get_comment(top).body == "edited"  # type: ignore[union-attr]
    assert c.comment_counts(dated_papers) == {"p0": 4}
    assert c.delete_comment(second, bob) is True
    c.report_comment(reply, ada, "spam", now=NOW)
    c.report_comment(reply, ada, "spam again", now=NOW)
    assert c.reported_comments() == [(reply, 1)]
    c.set_hidden(reply, True)
    assert c.comment_counts(dated_papers) == {"p0": 2}
    assert c.get_comment(second).body == "" and c.get_comment(second).deleted  # type: ignore[union-attr]


def test_collections_are_owned(store: Store, dated_papers: list[str]) -> None:
    c = store.community
    ada, bob = _user(store, "ada"), _user(store, "bob")
    reading = c.create_collection(ada, "Reading", public=False, now=NOW)
    with pytest.raises(CommunityError, match="already have"):
        c.create_collection(ada, "Reading", public=True, now=NOW)
    assert c.put_item(reading, ada, "p1", note="good", now=NOW)
    assert c.put_item(reading, ada, "p0", note="", now=NOW + timedelta(seconds=1))
    assert c.put_item(reading, ada, "p1", note="great", now=NOW)
    assert c.collection_items(reading) == [("p1", "great"), ("p0", "")]
    assert c.put_item(reading, bob, "p2", note="", now=NOW) is False
    assert c.remove_item(reading, bob, "p1") is False
    assert c.update_collection(reading, bob, name="x", public=True) is False
    assert c.collections_of(ada, public_only=True) == []
    assert c.update_collection(reading, ada, name="Reading list", public=True)
    assert [x.name for x in c.collections_of(ada, public_only=True)] == ["Reading list"]
    assert c.remove_item(reading, ada, "p1")
    assert c.collection_items(reading) == [("p0", "")]
    assert c.delete_collection(reading, bob) is False
    assert c.delete_collection(reading, ada) and c.get_collection(reading) is None


def test_digest_trending_section_orders_by_the_same_heat(store: Store, dated_papers: list[str]) -> None:
    """The digest's "trending top N" ranks candidates as the trending page does: a voted
    paper by its stored heat, unvoted ones by their freshness prior (newest first)."""

    from paperfeed.digest import trending_order

    users = [_user(store, f"v{i}") for i in range(3)]
    for uid in users:
        store.community.toggle_vote(uid, "p3", now=NOW)  # three fresh votes on the oldest paper
    candidates = store.get_papers(dated_papers)
    ordered = trending_order(store, candidates)
    assert [p.id for p in ordered] == ["p3", "p0", "p1", "p2"]
    assert store.community.heats(["p3", "p0"]).keys() == {"p3"}
