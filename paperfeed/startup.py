"""What a store needs before serving: migrations, the demo corpus on first start,
and indexes caught up with the store."""

from __future__ import annotations

import logging
from importlib import resources

from paperfeed.config import Settings
from paperfeed.ingest import IngestReport, run_ingest
from paperfeed.engine import SearchEngine
from paperfeed.sources.jsonl import parse_jsonl
from paperfeed.store import Store

log = logging.getLogger("paperfeed")
DEMO_FILE = "hf-papers-search-page.jsonl"


def load_demo_corpus(store: Store) -> IngestReport:
    with (resources.files("paperfeed.demo") / DEMO_FILE).open("rb") as stream:
        return run_ingest(store, parse_jsonl(stream, source="seed"))


def prepare_engine(store: Store, settings: Settings) -> SearchEngine:
    """Migrate, load the demo corpus into an empty store if asked, catch indexes up."""
    applied = store.migrate()
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    if settings.load_demo and store.count_papers() == 0:
        report = load_demo_corpus(store)
        log.info("loaded the demo corpus: %s", report.summary())
    engine = SearchEngine.open(settings, store)
    indexed = engine.sync()
    if indexed:
        log.info("indexed %d papers", indexed)
    return engine
