"""Keyword index: BM25 over title + abstract (title boosted) and authors, with Snowball
stemming, in a Tantivy index on disk.

The store is the source of truth; this index follows it. Every paper row carries the
`rev` of the write batch that last changed it, and the index remembers the newest rev it
has absorbed (`params.json`, written after each commit). `sync()` indexes whatever came
after, replacing documents by row number, so a crash between a store write and an index
commit only means the next sync redoes that batch. Why Tantivy and not SQLite FTS5:
FTS5 must score every match to rank an OR query (p99 ~560 ms at 1M papers here) and
slows bulk loads to ~4k papers/s; Tantivy answers in ~1 ms with block-max WAND.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable, Sequence

import tantivy

from paperfeed.errors import ConfigError, IndexUnavailable
from paperfeed.models import KeywordChange, PaperFilter, SearchHit
from paperfeed.store import Store, open_store

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: no separate `abstract` field (query.py, _TANTIVY_FIELDS)
# Free words search `text` (title + abstract as one field), plus a light title boost and
# the authors. Chosen on SciFact train / NFCorpus dev (docs/search.md): one combined field
# scored 0.701 nDCG@10 on SciFact train where separate title(x2) + abstract fields scored
# 0.624, because BM25 length-normalises each field on its own.
FIELD_BOOSTS = {"text": 1.0, "title": 0.3, "authors": 1.0}
WRITER_HEAP_BYTES = 128_000_000


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("pk", stored=True, indexed=True, fast=True)
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("text", tokenizer_name="en_stem")  # title + abstract; `abs:` searches it too
    builder.add_text_field("title", tokenizer_name="en_stem")
    builder.add_text_field("authors", tokenizer_name="default")
    builder.add_text_field("category", tokenizer_name="raw")
    builder.add_integer_field("day", indexed=True, fast=True)  # yyyymmdd of publication, 0 if unknown
    builder.add_integer_field("year", indexed=True, fast=True)
    builder.add_integer_field("has_code", indexed=True)
    return builder.build()


def day_number(day: date | None) -> int:
    """yyyymmdd as an integer (the `day` field), 0 for an unknown date."""
    return day.year * 10000 + day.month * 100 + day.day if day else 0


@dataclass(frozen=True)
class IndexParams:
    schema_version: int
    store_identity: str
    indexed_rev: int
    documents: int


class KeywordIndex:
    """A Tantivy index in `path`, following the store at `store_identity`."""

    def __init__(self, path: Path, *, store_identity: str) -> None:
        self.path = path
        self.store_identity = store_identity
        self.params_path = path / "params.json"
        self.schema = _schema()
        self._sync_lock = threading.Lock()
        path.mkdir(parents=True, exist_ok=True)
        # An index of this store from an older release still answers (in its own schema)
        # until the next sync rebuilds it; the server's start-up does one.
        self._older_schema = self._is_older_schema()
        if self._older_schema:
            self.index = tantivy.Index.open(str(path))
        else:
            self._check_params()
            self.index = tantivy.Index(self.schema, path=str(path), reuse=True)

    @staticmethod
    def reset(path: Path) -> None:
        """Delete the index in `path` (even one built for another store or schema)."""
        if path.exists():
            for child in path.iterdir():
                if child.is_file():
                    child.unlink()

    # -- params -----------------------------------------------------------------------
    def params(self) -> IndexParams:
        if not self.params_path.exists():
            return IndexParams(SCHEMA_VERSION, self.store_identity, 0, 0)
        return IndexParams(**json.loads(self.params_path.read_text(encoding="utf-8")))

    def _save_params(self, params: IndexParams) -> None:
        tmp = self.params_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(params.__dict__, indent=2), encoding="utf-8")
        tmp.replace(self.params_path)

    def _is_older_schema(self) -> bool:
        params = self.params()
        return params.store_identity == self.store_identity and params.schema_version < SCHEMA_VERSION

    def _start_over_in_current_schema(self) -> None:
        """The index is derived data: drop the older-schema files, index everything again."""
        log.warning("the keyword index at %s is schema v%d; rebuilding it as v%d from the store",
                    self.path, self.params().schema_version, SCHEMA_VERSION)
        self.reset(self.path)
        self.index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        self._older_schema = False

    def _check_params(self) -> None:
        params = self.params()
        if params.schema_version != SCHEMA_VERSION or params.store_identity != self.store_identity:
            raise ConfigError(
                f"The keyword index at {self.path} was built for schema v{params.schema_version} "
                f"of store {params.store_identity}, not schema v{SCHEMA_VERSION} of store {self.store_identity}.",
                hint="Rebuild it with `paperfeed reindex --keyword`, or point PAPERFEED_DATA_DIR elsewhere.",
            )

    # -- writing ----------------------------------------------------------------------
    def sync(self, store: Store, *, on_progress: Callable[[int], None] | None = None) -> int:
        """Index every paper written since the last sync; returns how many."""
        with self._sync_lock:
            if self._older_schema:
                self._start_over_in_current_schema()
            params = self.params()
            target = store.max_rev()
            if target <= params.indexed_rev:
                return 0
            fresh = params.indexed_rev == 0
            writer = self.index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
            done = 0
            for changes in store.iter_keyword_changes(after_rev=params.indexed_rev):
                self._add(writer, changes, replace=not fresh)
                done += len(changes)
                if on_progress:
                    on_progress(done)
            writer.commit()
            writer.wait_merging_threads()
            self.index.reload()
            total = self.index.searcher().num_docs
            self._save_params(IndexParams(SCHEMA_VERSION, self.store_identity, target, total))
            return done

    def sync_in_own_process(self, store_url: str) -> int:
        """`sync` in a fresh process, for a bulk load: its Python half (reading rows, building
        documents) then does not share this process's GIL with the vector sync running
        beside it (docs/benchmarks.md: 100k papers, both indexes 55.7 -> 48.2 s)."""
        with self._sync_lock:
            context = multiprocessing.get_context("spawn")  # no forked copy of a server's threads
            try:
                with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                    done = pool.submit(_sync_in_this_process, str(self.path), self.store_identity, store_url).result()
            except BrokenProcessPool as exc:  # errors raised in the child arrive as themselves
                raise IndexUnavailable(
                    f"The keyword index process for {self.path} ended before it finished (killed, or out of memory?).",
                    hint="The store is intact and the index keeps its last commit; run the command again "
                         "(or `paperfeed reindex --keyword`) to index the rest.",
                ) from exc
            if self._older_schema:  # the child rebuilt the files in the current schema
                self.index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
                self._older_schema = False
            return done

    def _add(self, writer: tantivy.IndexWriter, changes: Sequence[KeywordChange], *, replace: bool) -> None:
        for change in changes:
            if replace:
                writer.delete_documents_by_term("pk", change.pk)
            day = day_number(change.published)
            writer.add_document(
                tantivy.Document(
                    pk=change.pk,
                    id=change.id,
                    text=f"{change.title}\n{change.abstract}",
                    title=change.title,
                    authors=" ; ".join(change.authors),
                    category=change.categories,
                    day=day,
                    year=day // 10000,
                    has_code=int(change.has_code),
                )
            )

    # -- reading ----------------------------------------------------------------------
    def parse(self, query_text: str) -> tantivy.Query:
        """Parse a query string in Tantivy's grammar (callers build it safely quoted)."""
        return self.index.parse_query(
            query_text, default_field_names=list(FIELD_BOOSTS), field_boosts=FIELD_BOOSTS
        )

    def search(
        self, query: tantivy.Query | None, *, filters: PaperFilter, limit: int, newest: bool = False
    ) -> list[SearchHit]:
        """Top `limit` by BM25 (or newest first); `query=None` matches every paper."""
        self.index.reload()
        searcher = self.index.searcher()
        combined = self._with_filters(query or tantivy.Query.all_query(), filters)
        if newest:
            result = searcher.search(combined, limit, count=False, order_by_field="day")
        else:
            result = searcher.search(combined, limit, count=False)
        hits = []
        for rank, (score, address) in enumerate(result.hits, start=1):
            paper_id = searcher.doc(address)["id"][0]
            hits.append(SearchHit(paper_id=paper_id, score=float(score), rank=rank, source="bm25"))
        return hits

    def scores_for(self, query: tantivy.Query, paper_ids: Sequence[str]) -> dict[str, float]:
        """The BM25 score of `query` for each of these papers that matches it at all
        (hybrid score fusion needs the score of papers only the dense ranker found)."""
        if not paper_ids:
            return {}
        self.index.reload()
        searcher = self.index.searcher()
        # a filter must add nothing to the score (a bare term-set query scores 1.0)
        only = tantivy.Query.const_score_query(tantivy.Query.term_set_query(self.schema, "id", list(paper_ids)), 0.0)
        combined = tantivy.Query.boolean_query([(tantivy.Occur.Must, query), (tantivy.Occur.Must, only)])
        result = searcher.search(combined, len(paper_ids), count=False)
        return {searcher.doc(address)["id"][0]: float(score) for score, address in result.hits}

    def _with_filters(self, query: tantivy.Query, filters: PaperFilter) -> tantivy.Query:
        if filters.is_empty():
            return query
        must = [(tantivy.Occur.Must, query)]
        if filters.date_from or filters.date_to:
            low = day_number(filters.date_from) or None
            high = day_number(filters.date_to) or None
            must.append((tantivy.Occur.Must, tantivy.Query.range_query(
                self.schema, "day", tantivy.FieldType.Integer, low, high)))
        if filters.category:
            must.append((tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "category", filters.category)))
        if filters.has_code is not None:
            must.append((tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "has_code", int(filters.has_code))))
        return tantivy.Query.boolean_query(must)

    def document_count(self) -> int:
        self.index.reload()
        return int(self.index.searcher().num_docs)


def _sync_in_this_process(path: str, store_identity: str, store_url: str) -> int:
    store = open_store(store_url)
    try:
        return KeywordIndex(Path(path), store_identity=store_identity).sync(store)
    finally:
        store.close()
