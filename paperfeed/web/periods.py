"""Days, weeks and months: the windows the home page, the map and the daily feed show.

A period is a closed date range by published date (UTC). Weeks are ISO weeks (Monday to
Sunday). Pure functions; no store, no HTTP.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from paperfeed.errors import InvalidInput

VIEWS = ("day", "week", "month")
NEW_FOR_DAYS = 3  # a paper published within this many days (today included) is "new"
MIN_YEAR, MAX_YEAR = 1900, 2200  # outside this, a date is a typo (and date.min - 1 day overflows)


@dataclass(frozen=True)
class Period:
    view: str
    start: date
    end: date  # inclusive

    @property
    def label(self) -> str:
        if self.view == "day":
            return f"{self.start:%A, %B} {self.start.day}, {self.start.year}"
        if self.view == "week":
            return f"Week of {self.start:%B} {self.start.day}, {self.start.year}"
        return f"{self.start:%B %Y}"

    def previous(self) -> "Period":
        return period_of(self.view, self.start - timedelta(days=1))

    def next(self) -> "Period":
        return period_of(self.view, self.end + timedelta(days=1))

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def as_dict(self) -> dict[str, str]:
        return {"view": self.view, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "label": self.label}


def check_view(view: str) -> str:
    if view not in VIEWS:
        raise InvalidInput(f"view must be one of {', '.join(VIEWS)}, got {view!r}.", field="view")
    return view


def check_day(day: date, *, field: str = "date") -> date:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise InvalidInput(f"{field} must be between {MIN_YEAR} and {MAX_YEAR}, got {day.isoformat()}.",
                           field=field)
    return day


def period_of(view: str, day: date) -> Period:
    """The day, ISO week or month holding `day`."""
    check_view(view)
    if view == "day":
        return Period(view, day, day)
    if view == "week":
        monday = day - timedelta(days=day.weekday())
        return Period(view, monday, monday + timedelta(days=6))
    last = calendar.monthrange(day.year, day.month)[1]
    return Period(view, day.replace(day=1), day.replace(day=last))


def is_new(published: date | None, today: date) -> bool:
    return published is not None and today - timedelta(days=NEW_FOR_DAYS - 1) <= published <= today
