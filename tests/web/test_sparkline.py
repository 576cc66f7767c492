"""Sparkline geometry: running totals over the window, drawn bottom (0) to top (total)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from paperfeed.web.sparkline import HEIGHT, PAD, WINDOW_DAYS, running_totals, sparkline_svg, window_start


def test_running_totals_cover_the_window_oldest_first() -> None:
    today = date(2026, 11, 27)
    totals = running_totals({"2026-11-14": 2, "2026-11-20": 1, "2026-11-27": 3, "2026-11-13": 9}, today)
    assert len(totals) == WINDOW_DAYS
    assert totals[0] == 2 and totals[6] == 3 and totals[-1] == 6  # 11-13 is outside the window


def test_svg_rises_from_the_baseline_to_the_top() -> None:
    svg = str(sparkline_svg([0] * 13 + [4]))
    points = svg.split('points="')[1].split('"')[0].split()
    ys = [float(point.split(",")[1]) for point in points]
    assert ys[0] == HEIGHT - PAD and ys[-1] == PAD
    assert 'aria-label="4 votes in the last 14 days"' in svg
    assert str(sparkline_svg([0] * WINDOW_DAYS)) == ""


def test_window_starts_at_midnight_thirteen_days_back() -> None:
    now = datetime(2026, 11, 27, 15, 30, tzinfo=timezone.utc)
    assert window_start(now) == datetime(2026, 11, 14, tzinfo=timezone.utc)
