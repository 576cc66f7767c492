"""Command line: `paperfeed serve | ingest | search | papers | db | mail | digest | settings | users | bench`.

User mistakes print one line (`error: ...`) and exit non-zero; no tracebacks.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import click

from paperfeed.cli_bench import bench
from paperfeed.cli_users import users
from paperfeed.config import SPECS, Settings
from paperfeed.errors import ConfigError, PaperfeedError
from paperfeed.ingest import DEFAULT_BATCH_SIZE, IngestReport
from paperfeed.store import Store, open_store

if TYPE_CHECKING:
    from paperfeed.engine import SearchEngine


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_root().obj["settings"]  # type: ignore[no-any-return]


def _open_store(ctx: click.Context) -> Store:
    store = open_store(_settings(ctx).database_url)
    store.migrate()
    ctx.call_on_close(store.close)
    return store


def _open_engine(ctx: click.Context) -> "SearchEngine":
    from paperfeed.engine import SearchEngine

    return SearchEngine.open(_settings(ctx), _open_store(ctx))


class _Main(click.Group):
    """Translate core errors into one readable line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PaperfeedError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Main, invoke_without_command=True)
@click.option("--data-dir", envvar="PAPERFEED_DATA_DIR", help="Overrides PAPERFEED_DATA_DIR.")
@click.option("--database-url", envvar="PAPERFEED_DATABASE_URL", help="Overrides PAPERFEED_DATABASE_URL.")
@click.version_option("0.1.0", prog_name="paperfeed")
@click.pass_context
def main(ctx: click.Context, data_dir: str | None, database_url: str | None) -> None:
    """paperfeed: self-hosted research-paper discovery. Without a command, serves the web app."""
    try:
        settings = Settings.load({"data_dir": data_dir, "database_url": database_url})
    except PaperfeedError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(1)
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("faiss").setLevel(logging.WARNING)  # its loader logs CPU-feature probing at INFO
    ctx.obj = {"settings": settings}
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
@click.option("--host", default=None, help="Bind address (default from PAPERFEED_HOST).")
@click.option("--port", default=None, type=int, help="Port (default from PAPERFEED_PORT).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes; more than 1 needs a PostgreSQL database.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int) -> None:
    """Serve the web app and JSON API (loads the demo corpus into an empty store)."""
    import os

    import uvicorn

    from paperfeed.web.app import create_app
    from paperfeed.startup import prepare_engine

    settings = _settings(ctx)
    if workers > 1 and settings.database_url.startswith("sqlite"):
        raise ConfigError(
            f"--workers {workers} needs a PostgreSQL database; SQLite's search indexes are files one process keeps.",
            hint="Set PAPERFEED_DATABASE_URL=postgresql://..., or serve with --workers 1.",
        )
    store = open_store(settings.database_url)
    engine = prepare_engine(store, settings)  # before binding: a bad store fails here, in one line
    if engine.notice:
        click.echo(f"paperfeed: {engine.notice}", err=True)
    address = f"http://{host or settings.host}:{port or settings.port}"
    click.echo(f"paperfeed: {store.count_papers()} papers; serving on {address} ({workers} worker(s))", err=True)
    if workers == 1:
        app = create_app(settings, engine=engine)
        uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level=settings.log_level)
        return
    store.close()
    # Each worker process builds its own app (and connection pool) from these settings.
    os.environ.update({spec.env_var: settings.raw[spec.name] for spec in SPECS})
    os.environ["PAPERFEED_DATABASE_URL"] = settings.database_url
    uvicorn.run("paperfeed.web.app:app_from_environment", factory=True, workers=workers,
                host=host or settings.host, port=port or settings.port, log_level=settings.log_level)


@main.command()
@click.pass_context
def settings(ctx: click.Context) -> None:
    """Print every setting, its value (secrets hidden) and what it does."""
    values = _settings(ctx).public_view()
    for spec in SPECS:
        click.echo(f"{spec.env_var}={values[spec.env_var]}\n    {spec.help}")


def _print_report(report: IngestReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    click.echo(report.summary())
    for rejection in report.rejected[:20]:
        click.echo(f"  rejected {rejection}", err=True)
    if report.rejected_count > 20:
        click.echo(f"  ... and {report.rejected_count - 20} more rejected", err=True)


@main.command()
@click.argument("source", type=click.Choice(["arxiv", "arxiv-snapshot", "hf-daily", "jsonl", "beir", "demo"]))
@click.argument("path", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--category", help="arxiv: category to fetch, e.g. cs.CL.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="arxiv: first submission day (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="arxiv: last submission day.")
@click.option("--id", "ids", multiple=True, help="arxiv: fetch these arXiv ids instead of a category.")
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True, type=click.IntRange(1, 100_000),
              help="Records per transaction.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def ingest(ctx: click.Context, source: str, path: str | None, category: str | None, since: Any,
           until: Any, ids: tuple[str, ...], batch_size: int, as_json: bool) -> None:
    """Load papers from SOURCE (a file PATH, '-' for stdin, or the live arXiv API)."""
    from paperfeed.loaders import ingest_arxiv, ingest_file

    engine = _open_engine(ctx)
    if source == "arxiv":
        report = ingest_arxiv(
            engine.store, _settings(ctx), category=category, ids=list(ids),
            since=since.date() if since else None, until=until.date() if until else None,
        )
    else:
        report = ingest_file(engine.store, source, path, batch_size=batch_size)
    engine.sync()
    _print_report(report, as_json)
    if report.records and report.rejected_count == report.records:
        ctx.exit(1)


@main.command()
@click.argument("query")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print hits as JSON.")
@click.pass_context
def search(ctx: click.Context, query: str, limit: int, as_json: bool) -> None:
    """Search the store and print ranked papers."""
    from paperfeed.search import search as run_search

    results = run_search(_open_engine(ctx), query, limit=limit)
    if as_json:
        hits = [
            {"rank": hit.rank, "id": paper.id, "score": round(hit.score, 6), "title": paper.title}
            for hit, paper in results
        ]
        click.echo(json.dumps({"query": query, "hits": hits}, ensure_ascii=False))
        return
    for hit, paper in results:
        click.echo(f"{hit.rank:>3}. {paper.title}  [{paper.id}]")
    if not results.hits:
        click.echo("no papers match", err=True)


@main.command()
@click.option("--model", default=None, help="Embed with this model (name or path) instead of PAPERFEED_EMBED_MODEL.")
@click.option("--keyword", "keyword_only", is_flag=True, help="Rebuild only the keyword index.")
@click.pass_context
def reindex(ctx: click.Context, model: str | None, keyword_only: bool) -> None:
    """Rebuild the keyword index and the vector index of a model from the store.

    With --model, the papers are embedded by that model into its own index; set
    PAPERFEED_EMBED_MODEL to it to serve from it (the old index stays until then)."""
    from paperfeed.engine import vector_index_path
    from paperfeed.index.embed import load_embedder
    from paperfeed.index.keyword import KeywordIndex
    from paperfeed.index.vectors import VectorIndex
    from paperfeed.progress import counter

    settings = _settings(ctx)
    store = _open_store(ctx)
    in_database = getattr(store, "search_backends", None)
    if in_database is not None:  # PostgreSQL: postings recomputed in place; vectors re-embedded
        keyword, _ = in_database(None, None)
        indexed = keyword.rebuild(on_progress=counter("keyword-indexed", store.count_papers(), only_tty=True))
        keyword.sync(store)
        click.echo(f"keyword postings in the database: {indexed} papers")
        if keyword_only:
            return
        embedder = load_embedder(model or settings.embed_model, precision=settings.embed_precision)
        _, vectors = in_database(embedder.name, embedder.dim)
        count = vectors.rebuild(store, embedder, on_progress=counter("embedded", store.count_papers(), only_tty=True))
        click.echo(f"vectors in the database ({embedder.name}, {embedder.dim}-d): {count} papers")
        return
    keyword_path = settings.data_dir / "index" / "keyword"
    KeywordIndex.reset(keyword_path)
    indexed = KeywordIndex(keyword_path, store_identity=store.identity()).sync(store)
    click.echo(f"keyword index: {indexed} papers")
    if keyword_only:
        return
    embedder = load_embedder(model or settings.embed_model, precision=settings.embed_precision)
    vectors = VectorIndex.reset(
        vector_index_path(settings, embedder.name),
        store_identity=store.identity(), model_name=embedder.name, dim=embedder.dim,
    )
    count = vectors.sync(store, embedder, on_progress=counter("embedded", store.count_papers(), only_tty=True))
    click.echo(f"vector index ({embedder.name}, {embedder.dim}-d): {count} papers")


@main.group()
def papers() -> None:
    """Look at stored papers."""


@papers.command("show")
@click.argument("paper_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def papers_show(ctx: click.Context, paper_id: str, as_json: bool) -> None:
    """Print one paper."""
    from paperfeed.web.views import card_counts, paper_page

    engine = _open_engine(ctx)
    page = paper_page(engine, paper_id)
    data = page.as_dict(card_counts(engine, [page.paper]))["paper"]
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(data["title"])
    click.echo(", ".join(data["authors"]))
    for key in ("id", "arxiv_id", "doi", "published"):
        if data.get(key):
            click.echo(f"{key}: {data[key]}")
    for link in data["links"]:
        click.echo(f"{link['kind']}: {link['url']}")
    click.echo("\n" + data["abstract"])


@main.group()
def db() -> None:
    """Database housekeeping."""


@db.command("migrate")
@click.pass_context
def db_migrate(ctx: click.Context) -> None:
    """Apply pending schema migrations."""
    store = open_store(_settings(ctx).database_url)
    ctx.call_on_close(store.close)
    applied = store.migrate()
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@db.command("copy")
@click.argument("source_url")
@click.argument("destination_url")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1, 100_000),
              help="Papers per transaction.")
@click.option("--json", "as_json", is_flag=True, help="Print the verification report as JSON.")
def db_copy(source_url: str, destination_url: str, batch_size: int, as_json: bool) -> None:
    """Copy every paper from SOURCE_URL into DESTINATION_URL (e.g. sqlite:///... to
    postgresql://...), then verify row counts and per-table checksums. Resumable: run it
    again after an interruption and it goes on where it stopped."""
    from paperfeed.progress import counter
    from paperfeed.store.copy import copy_store

    source = open_store(source_url)
    destination = open_store(destination_url)
    try:
        source.migrate()
        destination.migrate()
        already = destination.count_papers()
        progress = counter("papers copied", source.count_papers(), offset=already, only_tty=True)
        report = copy_store(source, destination, batch_size=batch_size, on_progress=progress)
    finally:
        source.close()
        destination.close()
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        click.echo(f"copied {report.copied_papers} papers (resumed after pk {report.resumed_after_pk})")
        for table, (src, dst) in report.counts.items():
            same = "ok" if report.checksums[table][0] == report.checksums[table][1] else "DIFFERENT"
            click.echo(f"  {table}: {src} -> {dst} rows, checksum {same}")
    if not report.verified:
        raise PaperfeedError("The copy does not match its source (see the table lines above).",
                             hint="Run the command again; if it persists, copy into a fresh database.")


@db.command("stats")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def db_stats(ctx: click.Context, as_json: bool) -> None:
    """Counts and sizes."""
    stats = _open_store(ctx).stats()
    if as_json:
        click.echo(json.dumps(stats))
        return
    for key, value in stats.items():
        click.echo(f"{key}: {value}")


@main.group()
def mail() -> None:
    """Outgoing mail (docs/email.md)."""


@mail.command("test")
@click.argument("address")
@click.pass_context
def mail_test(ctx: click.Context, address: str) -> None:
    """Send one test message to ADDRESS with the configured settings; exit 1 unless delivered."""
    from paperfeed.mail.check import describe_route, send_test_message
    from paperfeed.mail.transport import Outcome

    settings = _settings(ctx)
    result = send_test_message(settings, address)
    verdict = {Outcome.DELIVERED: "delivered", Outcome.RETRY: "not delivered, would retry later",
               Outcome.FAILED: "refused for good"}[result.outcome]
    click.echo(f"{verdict}: {result.detail} (to {address} via {describe_route(settings)})",
               err=result.outcome is not Outcome.DELIVERED)
    if result.outcome is not Outcome.DELIVERED:
        ctx.exit(1)


@main.group()
def digest() -> None:
    """Email digests: compose and send what is due (docs/email.md)."""


@digest.command("run")
@click.pass_context
def digest_run(ctx: click.Context) -> None:
    """Compose due digests and send due mail; for cron or a systemd timer (docs/deploying.md)."""
    from paperfeed.digest_run import run_digests

    engine = _open_engine(ctx)
    engine.sync()
    click.echo(run_digests(engine, _settings(ctx)).summary())


@digest.command("preview")
@click.argument("email")
@click.pass_context
def digest_preview(ctx: click.Context, email: str) -> None:
    """Print what the next digest for EMAIL would hold, without recording or sending it."""
    from paperfeed.digest import DigestComposer
    from paperfeed.subscriptions import Subscriptions

    engine = _open_engine(ctx)
    from paperfeed.tokens import utc_now

    plan = DigestComposer(engine, Subscriptions(engine.store, _settings(ctx)), utc_now).preview(email)
    if plan is None:
        click.echo(f"error: {email} is not a confirmed subscriber.", err=True)
        ctx.exit(1)
    if not plan.paper_count:
        click.echo(f"{email}: nothing new since the last digest ({plan.period_key}); none would be sent.")
        return
    click.echo(f"{email}: {plan.period_key}, {plan.paper_count} papers")
    for heading, papers in plan.sections:
        for paper in papers:
            click.echo(f"  [{heading}] {paper.id}  {paper.title}")


main.add_command(users)
main.add_command(bench)


if __name__ == "__main__":  # pragma: no cover
    main()
