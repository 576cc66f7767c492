"""When to try a message again, and how fast to send: the policies the outbox applies.
Both are pure apart from the clock and sleep they are given, so tests can drive them."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for RETRY outcomes: 1, 3, 9, 27, 81 minutes, then
    every 2 hours, until the first attempt is `give_up_after` old. Giving up loses no paper:
    a digest holds the papers new since the last digest the subscriber *received*, so the
    next one carries them (docs/email.md)."""

    first_delay: timedelta = timedelta(minutes=1)
    factor: float = 3.0
    max_delay: timedelta = timedelta(hours=2)
    give_up_after: timedelta = timedelta(hours=20)
    jitter: float = 0.1  # +-10%, so messages refused together do not come back together

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """Wait after the `attempts`-th failed attempt (1 for the first)."""
        if attempts < 1:
            raise ValueError("attempts counts failed attempts and starts at 1")
        seconds = self.first_delay.total_seconds() * self.factor ** min(attempts - 1, 64)
        seconds = min(seconds, self.max_delay.total_seconds())
        if rng is not None and self.jitter:
            seconds *= 1 + rng.uniform(-self.jitter, self.jitter)
        return timedelta(seconds=seconds)

    def next_attempt(
        self, *, attempts: int, first_attempt: datetime, now: datetime, rng: random.Random | None = None
    ) -> datetime | None:
        """When to try again, or None to give up."""
        when = now + self.delay(attempts, rng)
        return None if when - first_attempt > self.give_up_after else when


class Throttle:
    """At most `per_second` messages per second, evenly spaced (no bursts after a pause:
    relays count per second, and a burst is what trips their limits). 0 means no limit."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second < 0:
            raise ValueError("per_second must be >= 0")
        self.interval = 1.0 / per_second if per_second else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next_slot: float | None = None

    def wait(self) -> float:
        """Block until the next message may go; returns the seconds slept."""
        now = self._clock()
        slept = 0.0
        if self._next_slot is not None and self._next_slot > now:
            slept = self._next_slot - now
            self._sleep(slept)
            now = self._next_slot
        self._next_slot = now + self.interval
        return slept
