"""The search engine: the store plus the indexes that follow it (keyword always; dense
vectors when an embedding model loads), opened from settings."""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.index.embed import Embedder, load_embedder
from paperfeed.index.keyword import KeywordIndex
from paperfeed.index.vectors import VectorIndex
from paperfeed.store import Store

log = logging.getLogger(__name__)
BULK_SYNC_PAPERS = 20_000  # new papers from which the keyword index syncs in a process of its own


def model_slug(model_name: str) -> str:
    """A folder name for a model's vector index."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model_name).strip("_") or "default"


def vector_index_path(settings: Settings, model_name: str) -> Path:
    """Each model keeps its own vector index, so a re-embed never clobbers the live one."""
    return settings.data_dir / "index" / "vectors" / model_slug(model_name)


@dataclass
class SearchEngine:
    store: Store
    # Files beside a SQLite store; PgKeywordIndex / PgVectorIndex (store/postgres_search.py),
    # which answer the same calls, for a PostgreSQL one.
    keyword: KeywordIndex
    vectors: VectorIndex | None = None
    embedder: Embedder | None = None
    notice: str | None = None  # shown to users when search runs degraded
    bulk_sync_papers: int = BULK_SYNC_PAPERS

    @classmethod
    def open(cls, settings: Settings, store: Store, *, embedder: Embedder | None = None) -> "SearchEngine":
        """Open the indexes under `<data_dir>/index/`. A model that cannot load leaves
        keyword search working and says so (`notice`), never a crash."""
        identity = store.identity()
        notice = None
        if embedder is None and settings.embed_model.lower() not in ("", "none", "off"):
            try:
                embedder = load_embedder(settings.embed_model, precision=settings.embed_precision)
            except ConfigError as exc:
                log.warning("semantic search is off: %s", exc)
                notice = f"Semantic search is off ({exc.message}); showing keyword results only."
        in_database = getattr(store, "search_backends", None)
        if in_database is not None:  # PostgreSQL: keyword ranking and vectors live in the database
            keyword, vectors = in_database(embedder.name if embedder else None, embedder.dim if embedder else None)
            return cls(store=store, keyword=keyword, vectors=vectors, embedder=embedder, notice=notice)
        keyword = KeywordIndex(settings.data_dir / "index" / "keyword", store_identity=identity)
        vectors = None
        if embedder is not None:
            vectors = VectorIndex(
                vector_index_path(settings, embedder.name),
                store_identity=identity, model_name=embedder.name, dim=embedder.dim,
            )
        return cls(store=store, keyword=keyword, vectors=vectors, embedder=embedder, notice=notice)

    def sync(self, *, on_progress: Callable[[int], None] | None = None) -> int:
        """Bring every index up to the store's newest write; returns papers keyword-indexed.

        The two file indexes are independent, so they sync side by side: the vectors on a
        second thread, the keyword index on this one, or for a bulk load in a process of its
        own, because both sides spend much of their time in Python, holding the GIL
        (docs/benchmarks.md)."""
        if self.vectors is None or self.embedder is None:
            return self.keyword.sync(self.store, on_progress=on_progress)
        if not isinstance(self.vectors, VectorIndex):  # PostgreSQL: one database does both
            done = self.keyword.sync(self.store, on_progress=on_progress)
            self.vectors.sync(self.store, self.embedder)
            return done
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vector-sync") as pool:
            vectors = pool.submit(self.vectors.sync, self.store, self.embedder)
            if self._is_bulk():
                done = self.keyword.sync_in_own_process(self.store.url)
            else:
                done = self.keyword.sync(self.store, on_progress=on_progress)
            vectors.result()
        return done

    def _is_bulk(self) -> bool:
        """Enough new papers that a process of its own (~1 s to start) pays for the keyword sync."""
        return self.store.count_papers() - self.keyword.document_count() >= self.bulk_sync_papers
