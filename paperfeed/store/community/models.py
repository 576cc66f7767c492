"""What the community store hands out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class User:
    id: int
    email: str
    display_name: str
    created_at: datetime
    is_moderator: bool = False
    suspended: bool = False
    has_password: bool = False  # may also sign in with email + password (docs/community.md)


@dataclass(frozen=True)
class Comment:
    id: int
    paper_id: str
    user_id: int
    author: str  # display name
    parent_id: int | None
    body: str  # Markdown source; "" once deleted
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    hidden: bool


@dataclass(frozen=True)
class Collection:
    id: int
    user_id: int
    name: str
    public: bool
    created_at: datetime


@dataclass(frozen=True)
class TrendingEntry:
    paper_id: str
    heat: float
    votes: int


@dataclass(frozen=True)
class CardCounts:
    """What a paper's card shows beside its title."""
    votes: int = 0
    comments: int = 0  # visible ones: not deleted, not hidden


NO_COUNTS = CardCounts()
