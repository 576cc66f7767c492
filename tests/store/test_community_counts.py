"""Card counts (votes + visible comments in one query), bulk vote import, passwords in
the users table: on both stores (real SQLite file, real PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from paperfeed.store import Store
from paperfeed.store.community import CardCounts, CommunityError
from paperfeed.trending import heat
from tests.conftest import VOTING_DAY

NOW = VOTING_DAY


def _users(store: Store, count: int) -> list[int]:
    return [store.community.get_or_create_user(f"u{i}@example.org", display_name=f"u{i}", now=NOW).id
            for i in range(count)]


def test_card_counts_are_votes_and_visible_comments(store: Store, dated_papers: list[str]) -> None:
    c = store.community
    ada, bob, cy = _users(store, 3)
    c.toggle_vote(ada, "p0", now=NOW)
    c.toggle_vote(bob, "p0", now=NOW)
    c.toggle_vote(cy, "p2", now=NOW)
    kept = c.add_comment(ada, "p0", "first", now=NOW)
    c.add_comment(bob, "p0", "reply", now=NOW, parent_id=kept)
    hidden = c.add_comment(bob, "p1", "spam", now=NOW)
    deleted = c.add_comment(cy, "p1", "oops", now=NOW)
    c.add_comment(cy, "p3", "only comment", now=NOW)
    c.set_hidden(hidden, True)
    assert c.delete_comment(deleted, cy)
    counts = c.card_counts([*dated_papers, "p0", "missing"])
    assert counts == {"p0": CardCounts(2, 2), "p2": CardCounts(1, 0), "p3": CardCounts(0, 1)}
    assert c.card_counts([]) == {}


def test_import_votes_matches_one_by_one_voting(store: Store, dated_papers: list[str]) -> None:
    c = store.community
    users = _users(store, 4)
    votes = [(users[0], "p1", NOW - timedelta(hours=5)), (users[1], "p1", NOW - timedelta(hours=1)),
             (users[2], "p1", NOW), (users[0], "p3", NOW - timedelta(days=2))]
    assert c.import_votes(votes) == 4
    assert c.import_votes(votes[:2] + [(users[3], "p1", NOW)]) == 1  # repeats ignored, one new
    assert c.vote_counts(dated_papers) == {"p1": 4, "p3": 1}
    heats = c.heats(dated_papers)
    expected = heat([NOW - timedelta(hours=5), NOW - timedelta(hours=1), NOW, NOW], NOW - timedelta(days=1))
    assert heats["p1"] == pytest.approx(expected, abs=1e-9)
    assert heats["p3"] == pytest.approx(heat([NOW - timedelta(days=2)], NOW - timedelta(days=3)), abs=1e-9)
    # the heat the toggle path keeps agrees: withdraw one imported vote, recomputed exactly
    assert c.toggle_vote(users[3], "p1", now=NOW) == (False, 3)
    assert c.heats(["p1"])["p1"] == pytest.approx(heat([NOW - timedelta(hours=5), NOW - timedelta(hours=1), NOW],
                                                       NOW - timedelta(days=1)), abs=1e-9)
    with pytest.raises(CommunityError, match="No paper with id 'nope'"):
        c.import_votes([(users[0], "nope", NOW)])
    assert c.vote_counts(dated_papers) == {"p1": 3, "p3": 1}  # nothing half-written


def test_password_hash_is_stored_and_cleared(store: Store) -> None:
    c = store.community
    [uid] = _users(store, 1)
    assert c.password_hash_of("U0@example.org") == (c.get_user(uid), None)
    assert not c.get_user(uid).has_password  # type: ignore[union-attr]
    c.set_password_hash(uid, "$argon2id$v=19$stand-in")
    user, stored = c.password_hash_of("u0@example.org")
    assert stored == "$argon2id$v=19$stand-in" and user is not None and user.has_password
    c.set_password_hash(uid, None)
    assert c.password_hash_of("u0@example.org")[1] is None
    assert c.password_hash_of("nobody@example.org") == (None, None)
    assert c.user_by_email(" U0@EXAMPLE.org") == c.get_user(uid)
