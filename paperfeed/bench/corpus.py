"""Synthetic but realistic paper text for benchmarks: arXiv-snapshot records with
Zipf-distributed vocabulary, ~150-word abstracts, several authors and versions."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Iterator

_ROOTS = (
    "learn model train data network language vision graph attention transform token "
    "embed retriev search rank query document knowledge distill pretrain fine tune "
    "benchmark dataset evaluat metric loss gradient optimiz sparse dense contrast "
    "represent generat diffus reinforce policy reward agent robot plan reason memory "
    "scale effici compress quantiz prune latency throughput hardware kernel parallel "
    "protein molecul cell gene clinic patient image video audio speech text code "
    "program proof theorem logic causal bayes infer sampl estimat uncertain robust "
    "adversari privacy fair align safety interpret explain feature layer head"
).split()
_SUFFIXES = ("", "s", "ing", "ed", "er", "ation", "al", "ive", "ity", "ness")
_CATEGORIES = ("cs.CL", "cs.LG", "cs.CV", "cs.AI", "cs.IR", "stat.ML", "q-bio.QM", "physics.comp-ph")
_FIRST = ("Ada", "Alan", "Grace", "Yann", "Fei", "Geoffrey", "Yoshua", "Daphne", "Andrew", "Jia")
_LAST = ("Lovelace", "Turing", "Hopper", "LeCun", "Li", "Hinton", "Bengio", "Koller", "Ng", "Deng")


def vocabulary(size: int = 5000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = {root + suffix for root in _ROOTS for suffix in _SUFFIXES}
    while len(words) < size:
        words.add("".join(rng.choice("abcdefghiklmnoprstuvy") for _ in range(rng.randint(4, 10))))
    ordered = sorted(words)
    rng.shuffle(ordered)
    return ordered


class TextMaker:
    """Zipf-weighted words: a few very common, a long tail of rare ones, as in real text."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary()
        weights = [1.0 / (rank + 1) for rank in range(len(self.words))]
        self.cum_weights = list(itertools.accumulate(weights))

    def words_(self, count: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cum_weights, k=count))

    def title(self) -> str:
        return self.words_(self.rng.randint(5, 12)).capitalize()

    def abstract(self) -> str:
        return self.words_(self.rng.randint(110, 190)) + "."


# Ids below repeat with this period (lcm of 12 months and 100,000 numbers); records past it
# get ids of another year prefix ("07MM.NNNNN" on), so n < 300,000 keeps its old id.
_ID_PERIOD = 300_000


def snapshot_records(count: int, seed: int = 7) -> Iterator[dict[str, object]]:
    maker = TextMaker(seed)
    for n in range(count):
        yield snapshot_record(n, maker)


def snapshot_record(n: int, maker: TextMaker) -> dict[str, object]:
    """Record number `n` (its id comes from n, its text from `maker`'s random stream)."""
    rng = maker.rng
    month = 1 + n % 12
    arxiv_id = f"{2000 + (n // 1_000_000) % 26:04d}"[2:] + f"{month:02d}.{n % 100000:05d}"
    if n >= _ID_PERIOD:  # that scheme repeats every 300,000 records: give later ones their own
        arxiv_id = f"{7 + n // 1_200_000:02d}{1 + (n // 100000) % 12:02d}.{n % 100000:05d}"
    authors = [(rng.choice(_LAST), rng.choice(_FIRST)) for _ in range(rng.randint(1, 6))]
    versions = rng.randint(1, 3)
    return {
        "id": arxiv_id,
        "submitter": authors[0][1] + " " + authors[0][0],
        "authors": ", ".join(f"{first} {last}" for last, first in authors),
        "title": maker.title(),
        "comments": "12 pages, 4 figures" + (f"; code at https://github.com/lab{n}/repo{n}" if n % 5 == 0 else ""),
        "journal-ref": None,
        "doi": f"10.5555/bench.{n}" if n % 3 == 0 else None,
        "categories": " ".join(rng.sample(_CATEGORIES, rng.randint(1, 3))),
        "abstract": maker.abstract(),
        "versions": [
            {"version": f"v{v}", "created": f"Mon, {1 + v:d} {['Jan','Feb','Mar','Apr','May','Jun','Jul','Aug','Sep','Oct','Nov','Dec'][month - 1]} 2024 10:00:00 GMT"}
            for v in range(1, versions + 1)
        ],
        "update_date": f"2024-{month:02d}-{1 + versions:02d}",
        "authors_parsed": [[last, first, ""] for last, first in authors],
    }


def write_snapshot(path: Path, count: int, seed: int = 7) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for record in snapshot_records(count, seed):
            out.write(json.dumps(record) + "\n")
    return path
