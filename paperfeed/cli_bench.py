"""`paperfeed bench ...`: the benchmark commands (not tests). Each prints measured figures
and ratios to a baseline taken in the same run; the work lives in paperfeed/bench/."""

from __future__ import annotations

import json
from pathlib import Path

import click


def _echo(result: dict[str, object], as_json: bool, *, nested: bool = False) -> None:
    """One JSON line with --json; otherwise `key: value` lines, or indented JSON when the
    result nests (latency, render, trending)."""
    if as_json:
        click.echo(json.dumps(result))
    elif nested:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo("\n".join(f"{k}: {v}" for k, v in result.items()))


@click.group()
def bench() -> None:
    """Benchmarks (not tests): print measured figures and ratios to a baseline."""


@bench.command("quality")
@click.option("--dataset", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A BEIR-format directory: corpus.jsonl[.gz], queries.jsonl, qrels/<split>.tsv.")
@click.option("--split", default="test", show_default=True, help="Which qrels file to score against.")
@click.option("--model", "models", multiple=True, help="Embedders to compare (default: every installed one).")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per method.")
@click.option("--store", "store_url", default=None,
              help="An empty database to load the corpus into (e.g. postgresql://...). Default: a temp SQLite file.")
def bench_quality(dataset: Path, split: str, models: tuple[str, ...], as_json: bool, store_url: str | None) -> None:
    """nDCG@10 and Recall@100 of bm25, dense and hybrid search on a BEIR dataset."""
    from paperfeed.bench.quality import run_quality_bench

    for row in run_quality_bench(dataset, split=split, embedders=list(models) or None, store_url=store_url):
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(f"{row['dataset']:<18} {row['method']:<28} nDCG@10 {row['ndcg@10']:.4f}  "
                       f"Recall@100 {row['recall@100']:.4f}  {row['ms_per_query']} ms/query")


@bench.command("embed-speed")
@click.option("--dataset", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A BEIR-format directory whose corpus supplies the texts.")
@click.option("--docs", default=1000, show_default=True, type=click.IntRange(32, 1_000_000))
@click.option("--model", default="minilm", show_default=True, help="A transformer embedder (see PAPERFEED_EMBEDDER).")
@click.option("--json", "as_json", is_flag=True)
def bench_embed_speed(dataset: Path, docs: int, model: str, as_json: bool) -> None:
    """Papers/s of a transformer embedder, and its share of what this machine's GEMM speed allows."""
    from paperfeed.bench.embed_speed import run_embed_speed

    result = run_embed_speed(dataset, docs=docs, model=model)
    _echo(result, as_json)


@bench.command("latency")
@click.option("--papers", default=100_000, show_default=True, type=click.IntRange(100, 10_000_000))
@click.option("--data-dir", "bench_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to build the store (kept, so a second run reuses it). Default: a temp dir.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--store", "store_url", default=None,
              help="A database to build in and query (e.g. postgresql://...). Default: SQLite in the data dir.")
def bench_latency(papers: int, bench_dir: Path | None, as_json: bool, store_url: str | None) -> None:
    """p50/p95/p99 of keyword, vector and hybrid queries at N papers, build time, peak RSS."""
    import tempfile

    from paperfeed.bench.latency import run_latency_bench

    if bench_dir is None:
        with tempfile.TemporaryDirectory(prefix="paperfeed-latency-") as tmp:
            result = run_latency_bench(papers, Path(tmp), progress=not as_json, store_url=store_url)
    else:
        result = run_latency_bench(papers, bench_dir, progress=not as_json, store_url=store_url)
    _echo(result, as_json, nested=True)


@bench.command("mail")
@click.option("--messages", default=2000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--sink", type=click.Choice(["fast", "aiosmtpd"]), default="fast", show_default=True,
              help="SMTP sink on loopback: paperfeed's minimal one, or aiosmtpd (test extra).")
@click.option("--json", "as_json", is_flag=True)
def bench_mail(messages: int, sink: str, as_json: bool) -> None:
    """Render, build and deliver a 30-paper digest N times; ms per message, CPU and wall."""
    from paperfeed.bench.mail import run_mail_bench

    result = run_mail_bench(messages, sink=sink)
    _echo(result, as_json)


@bench.command("digest")
@click.option("--subscribers", default=100_000, show_default=True, type=click.IntRange(1, 10_000_000))
@click.option("--store-url", default=None, help="A PostgreSQL URL to run against (default: a fresh SQLite file).")
@click.option("--workers", type=click.IntRange(0, 64), default=None,
              help="Composing processes (default: PAPERFEED_DIGEST_WORKERS; 0: one per CPU core).")
@click.option("--json", "as_json", is_flag=True)
def bench_digest(subscribers: int, store_url: str | None, workers: int | None, as_json: bool) -> None:
    """Compose and deliver N digests to a local SMTP sink (docs/benchmarks.md)."""
    from paperfeed.bench.digest import run_digest_bench

    result = run_digest_bench(subscribers, store_url=store_url, workers=workers)
    _echo(result, as_json)


@bench.command("render")
@click.option("--papers", default=100_000, show_default=True, type=click.IntRange(100, 10_000_000))
@click.option("--data-dir", "bench_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to build the store (kept, so a second run reuses it). Default: a temp dir.")
@click.option("--json", "as_json", is_flag=True)
def bench_render(papers: int, bench_dir: Path | None, as_json: bool) -> None:
    """p50/p95 server-side render time of home, paper, search and feed pages at N papers."""
    import tempfile

    from paperfeed.bench.render import run_render_bench

    if bench_dir is None:
        with tempfile.TemporaryDirectory(prefix="paperfeed-render-") as tmp:
            result = run_render_bench(papers, Path(tmp), progress=not as_json)
    else:
        result = run_render_bench(papers, bench_dir, progress=not as_json)
    _echo(result, as_json, nested=True)


@bench.command("trending")
@click.option("--papers", default=1_000_000, show_default=True, type=click.IntRange(100, 10_000_000))
@click.option("--votes", default=100_000, show_default=True, type=click.IntRange(1, 10_000_000))
@click.option("--data-dir", "bench_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to build the store (kept, so a second run reuses it). Default: a temp dir.")
@click.option("--json", "as_json", is_flag=True)
def bench_trending(papers: int, votes: int, bench_dir: Path | None, as_json: bool) -> None:
    """p50/p95 render time of the trending page, its JSON and Atom feed at N papers, V votes."""
    import tempfile

    from paperfeed.bench.trending import run_trending_bench

    if bench_dir is None:
        with tempfile.TemporaryDirectory(prefix="paperfeed-trending-") as tmp:
            result = run_trending_bench(papers, votes, Path(tmp), progress=not as_json)
    else:
        result = run_trending_bench(papers, votes, bench_dir, progress=not as_json)
    _echo(result, as_json, nested=True)


@bench.command("ingest")
@click.option("--records", default=200_000, show_default=True, type=click.IntRange(1, 50_000_000))
@click.option("--json", "as_json", is_flag=True)
def bench_ingest(records: int, as_json: bool) -> None:
    """Bulk-load N generated arXiv-snapshot records into a fresh SQLite file."""
    from paperfeed.bench.ingest import run_ingest_bench

    result = run_ingest_bench(records, progress=not as_json)
    _echo(result, as_json)
