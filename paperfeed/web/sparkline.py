"""Inline-SVG sparklines of a paper's votes over the last days (cards and paper pages).

Server-rendered, no script: a polyline of the running vote total per day over a fixed
window, drawn in the card's text colour, with a text alternative for screen readers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Mapping

from markupsafe import Markup

WINDOW_DAYS = 14
WIDTH, HEIGHT, PAD = 56, 16, 1.5


def window_start(now: datetime) -> datetime:
    """The first moment the sparkline covers: midnight UTC, WINDOW_DAYS - 1 days ago."""
    first = now.date() - timedelta(days=WINDOW_DAYS - 1)
    return datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)


def running_totals(per_day: Mapping[str, int], today: date) -> list[int]:
    """Votes cast in the window up to and including each day, oldest day first."""
    totals, total = [], 0
    for offset in range(WINDOW_DAYS - 1, -1, -1):
        total += per_day.get((today - timedelta(days=offset)).isoformat(), 0)
        totals.append(total)
    return totals


def sparkline_svg(totals: list[int]) -> Markup:
    """The SVG for these running totals; empty when no vote was cast in the window."""
    if not totals or totals[-1] == 0:
        return Markup("")
    step = (WIDTH - 2 * PAD) / (len(totals) - 1)
    scale = (HEIGHT - 2 * PAD) / totals[-1]
    points = " ".join(f"{PAD + i * step:.1f},{HEIGHT - PAD - value * scale:.1f}" for i, value in enumerate(totals))
    label = f"{totals[-1]} vote{'s' if totals[-1] != 1 else ''} in the last {WINDOW_DAYS} days"
    return Markup(
        f'<svg class="spark" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{label}"><title>{label}</title><polyline fill="none" stroke="currentColor" '
        f'stroke-width="1.5" points="{points}"/></svg>'
    )
