"""Which parser reads which source, and the runs the CLI starts: a file (with a progress
bar on a terminal) or the live arXiv API (polite, resumable)."""

from __future__ import annotations

import gzip
import sys
from contextlib import ExitStack
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from paperfeed.bulk import LineParser, run_bulk_ingest
from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, SourceError
from paperfeed.ingest import DEFAULT_BATCH_SIZE, IngestReport, ingest_batch, prepare, run_ingest
from paperfeed.models import SourceItem
from paperfeed.sources import arxiv_snapshot
from paperfeed.sources.arxiv_snapshot import parse_arxiv_snapshot
from paperfeed.sources.hf_daily import parse_hf_daily
from paperfeed.sources.jsonl import parse_jsonl
from paperfeed.store import Store

Parser = Callable[[BinaryIO], Iterator[SourceItem]]

FILE_PARSERS: dict[str, Parser] = {
    "arxiv-snapshot": parse_arxiv_snapshot,
    "hf-daily": parse_hf_daily,
    "jsonl": parse_jsonl,
    "beir": parse_jsonl,
}
# Line-per-record sources whose parsing bulk loads spread over worker processes.
LINE_PARSERS: dict[str, LineParser] = {"arxiv-snapshot": arxiv_snapshot.parse_line}
DEFAULT_ARXIV_LOOKBACK_DAYS = 7


def _open_input(path: str | None, stack: ExitStack) -> BinaryIO:
    """The file (or stdin for '-'), transparently gunzipped, with a progress bar on a tty."""
    if path is None:
        raise InvalidInput("This source reads a file; give its PATH (or '-' for stdin).", field="path")
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
    else:
        file = Path(path)
        if not file.is_file():
            raise InvalidInput(f"No file at {path}.", hint="Check the path.", field="path")
        raw = stack.enter_context(_progress_open(file))
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if head == b"\x1f\x8b" or path.endswith(".gz"):
        return stack.enter_context(gzip.GzipFile(fileobj=raw))  # type: ignore[return-value]
    return raw


def _progress_open(file: Path):  # type: ignore[no-untyped-def]
    if not sys.stderr.isatty():
        return open(file, "rb")
    from rich.progress import open as rich_open

    return rich_open(file, "rb", description=f"ingesting {file.name}")


def ingest_file(
    store: Store, source: str, path: str | None, *, batch_size: int = DEFAULT_BATCH_SIZE, workers: int | None = None
) -> IngestReport:
    """Load a file (or stdin for '-'); line-per-record sources parse in `workers` processes
    (default: one per core; 0 parses in this process)."""
    if source == "demo":
        from paperfeed.startup import load_demo_corpus

        return load_demo_corpus(store)
    parser = FILE_PARSERS[source]
    with ExitStack() as stack:
        stream = _open_input(path, stack)
        try:
            if source in LINE_PARSERS:
                return run_bulk_ingest(store, stream, LINE_PARSERS[source], batch_size=batch_size, workers=workers)
            return run_ingest(store, parser(stream), batch_size=batch_size)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise SourceError(f"Cannot read {path}: {exc}.", hint="Check the file is complete.") from exc


def ingest_arxiv(
    store: Store,
    settings: Settings,
    *,
    category: str | None,
    ids: list[str],
    since: date | None,
    until: date | None,
) -> IngestReport:
    """Fetch from the arXiv API into the store: by ids, or a category's new submissions
    (resuming from the saved cursor; each page is stored before the cursor moves)."""
    from paperfeed.sources import arxiv_api

    with arxiv_api.new_client() as client:
        if ids:
            items = arxiv_api.fetch_by_ids(ids, client=client, base_url=settings.arxiv_api_url)
            return run_ingest(store, items)
        if not category:
            raise InvalidInput("Give --category (e.g. cs.CL) or one or more --id.", field="category")
        start = since or (date.today() - timedelta(days=DEFAULT_ARXIV_LOOKBACK_DAYS))
        report = IngestReport()
        pages = arxiv_api.iter_category(
            category=category, since=start, until=until, client=client, cursor=store,
            base_url=settings.arxiv_api_url,
        )
        for batch in pages:
            for rejection in batch.rejected:
                report.reject(rejection)
            now = datetime.now(timezone.utc)
            papers = [prepare(paper, fetched_at=now) for paper in batch.papers]
            if papers:
                ingest_batch(store, papers, report, now=now)
            batch.commit()
        return report
