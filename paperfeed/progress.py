"""A one-line progress counter on stderr, for long CLI and benchmark runs."""

from __future__ import annotations

import sys
from typing import Callable


def counter(label: str, total: int, *, offset: int = 0, only_tty: bool = False) -> Callable[[int], None]:
    """A callback for `on_progress=` that redraws "label done/total" in place."""

    def show(done: int) -> None:
        if only_tty and not sys.stderr.isatty():
            return
        end = "\n" if offset + done >= total else ""
        print(f"\r  {label} {offset + done:,}/{total:,}", end=end, file=sys.stderr, flush=True)

    return show
