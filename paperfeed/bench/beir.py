"""Reading a BEIR-format directory: corpus.jsonl[.gz], queries.jsonl, qrels/<split>.tsv."""

from __future__ import annotations

import csv
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from paperfeed.errors import InvalidInput


@dataclass(frozen=True)
class BeirSet:
    name: str
    corpus: Path
    queries: dict[str, str]  # only the queries that have qrels in the split
    qrels: dict[str, dict[str, int]]


def corpus_path(folder: Path) -> Path:
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    raise InvalidInput(
        f"No corpus.jsonl or corpus.jsonl.gz in {folder}.",
        hint="Point --dataset at a BEIR-format directory.",
        field="dataset",
    )


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise InvalidInput(f"No qrels file {path}.", hint="BEIR keeps them in qrels/<split>.tsv.", field="split")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def read_queries(path: Path, wanted: set[str]) -> dict[str, str]:
    opener = gzip.open if path.suffix == ".gz" else open
    queries: dict[str, str] = {}
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        for line in handle:
            if line.strip():
                record = json.loads(line)
                if str(record["_id"]) in wanted:
                    queries[str(record["_id"])] = record["text"]
    return queries


def load_beir(folder: Path, split: str = "test") -> BeirSet:
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInput(f"No directory {folder}.", hint="Give a BEIR-format directory.", field="dataset")
    qrels = read_qrels(folder / "qrels" / f"{split}.tsv")
    queries = read_queries(folder / "queries.jsonl", set(qrels))
    return BeirSet(folder.name, corpus_path(folder), queries, {q: qrels[q] for q in queries})
