"""Digests end to end on both stores, as issue 7's "done means" reads: subscribe, confirm
from the received mail, save a search, ingest new matching papers, run the digest and
receive exactly one well-formed mail with those papers; never a paper twice; nothing sent
when nothing is new; one search per distinct saved query."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

from paperfeed.config import Settings
from paperfeed.digest import DigestComposer
from paperfeed.engine import SearchEngine
from paperfeed.ingest import run_ingest
from paperfeed.mail.outbox import SendReport, send_due
from paperfeed.mail.pacing import Throttle
from paperfeed.mail.transport import mailer_from_settings
from paperfeed.startup import prepare_engine
from paperfeed.store import open_store
from paperfeed.subscriptions import Preferences, Subscriptions

from tests.conftest import make_paper
from tests.mail.smtp_sink import SmtpServer, body

PUBLIC = "https://papers.example.org"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(tmp_path: Path, store_url: str, smtp_server: SmtpServer) -> Iterator[tuple[SearchEngine, Settings]]:
    settings = Settings.load({
        "data_dir": str(tmp_path / "data"), "load_demo": "false", "database_url": store_url,
        "public_url": PUBLIC, "smtp_host": "127.0.0.1", "smtp_port": str(smtp_server.port),
        "smtp_security": "none", "mail_from": "paperfeed <digest@example.org>", "mail_rate": "0",
    }, environ={}, dotenv=tmp_path / ".env")
    store = open_store(store_url)
    store.migrate()
    run_ingest(store, [make_paper("An old paper on diffusion models for images", categories=["cs.CV"])])
    engine = prepare_engine(store, settings)
    yield engine, settings
    store.close()


def _send(engine: SearchEngine, settings: Settings, clock: Clock) -> SendReport:
    mailer = mailer_from_settings(settings)
    try:
        return send_due(engine.store, mailer, sender=settings.mail.mail_from, clock=clock,
                        throttle=Throttle(0), max_bounces=settings.mail.max_bounces)
    finally:
        mailer.close()


def _subscribe(engine: SearchEngine, settings: Settings, clock: Clock, server: SmtpServer, email: str,
               searches: tuple[tuple[str, str], ...]) -> Subscriptions:
    subs = Subscriptions(engine.store, settings, clock=clock)
    subs.subscribe(email)
    _send(engine, settings, clock)
    confirm = re.search(rf"{PUBLIC}/subscribe/confirm/(\S+)", body(server.handler.messages()[-1], "plain"))
    assert confirm and server.handler.messages()[-1]["To"] == email
    subscriber = subs.confirm(confirm.group(1))
    preferences, _ = subs.link_tokens(subscriber)
    subs.save_preferences(preferences, Preferences("daily", None, 0, searches, (), ()))
    return subs


def test_saved_search_digest_exactly_once(world: tuple[SearchEngine, Settings], smtp_server: SmtpServer) -> None:
    engine, settings = world
    clock = Clock()
    subs = _subscribe(engine, settings, clock, smtp_server, "ada@example.org", (("diffusion", "cs.CV"),))
    _subscribe(engine, settings, clock, smtp_server, "alan@example.org", (("Diffusion ", "cs.CV"),))
    confirms = len(smtp_server.handler.messages())
    run_ingest(engine.store, [
        make_paper("Diffusion models for video generation", categories=["cs.CV"]),
        make_paper("Latent diffusion for satellite images", categories=["cs.CV"]),
        make_paper("Diffusion of innovations in economics", categories=["econ.GN"]),  # other category
        make_paper("Sparse attention routing", categories=["cs.CL"]),
    ])
    engine.sync()

    clock.now = datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)  # Tuesday's send time
    composer = DigestComposer(engine, subs, clock)
    report = composer.run()
    assert (report.due, report.queued, report.empty) == (2, 2, 0)
    assert report.searches_run == 1  # both saved the same search, spelled differently
    assert DigestComposer(engine, subs, clock).run().due == 0  # nobody is due twice for a period
    assert _send(engine, settings, clock).sent == 2
    digests = smtp_server.handler.messages()[confirms:]
    assert sorted(m["To"] for m in digests) == ["ada@example.org", "alan@example.org"]
    mail = next(m for m in digests if m["To"] == "ada@example.org")
    text, html = body(mail, "plain"), body(mail, "html")
    assert "Diffusion models for video generation" in text and "Latent diffusion for satellite images" in text
    assert "old paper" not in text and "economics" not in text and "Sparse attention" not in text
    assert "Saved search: diffusion" in html and "2 new papers" in mail["Subject"]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"<{PUBLIC}/unsubscribe/" in mail["List-Unsubscribe"] and "mailto:digest@example.org" in mail["List-Unsubscribe"]
    assert _send(engine, settings, clock).sent == 0  # sent rows are not sent again

    # Next day: nothing new, so nothing is sent (recorded as empty).
    clock.now = datetime(2026, 11, 25, 7, 0, tzinfo=timezone.utc)
    report = DigestComposer(engine, subs, clock).run()
    assert (report.due, report.queued, report.empty) == (2, 0, 2)
    # A new matching paper, and an update to an already-sent one: only the new one comes.
    run_ingest(engine.store, [make_paper("Diffusion models for video generation", categories=["cs.CV"],
                                         abstract="Revised abstract."),
                              make_paper("Consistency diffusion for images", categories=["cs.CV"])])
    engine.sync()
    clock.now = datetime(2026, 11, 26, 7, 0, tzinfo=timezone.utc)
    assert DigestComposer(engine, subs, clock).run().queued == 2
    _send(engine, settings, clock)
    latest = smtp_server.handler.messages()[-1]
    text = body(latest, "plain")
    assert "Consistency diffusion for images" in text and "video generation" not in text


def test_preview_and_paused_subscribers_get_nothing(world: tuple[SearchEngine, Settings], smtp_server: SmtpServer) -> None:
    engine, settings = world
    clock = Clock()
    subs = _subscribe(engine, settings, clock, smtp_server, "grace@example.org", (("diffusion", ""),))
    run_ingest(engine.store, [make_paper("Diffusion models for video generation", categories=["cs.CV"])])
    engine.sync()
    plan = DigestComposer(engine, subs, clock).preview("grace@example.org")
    assert plan is not None and [p.title for _, papers in plan.sections for p in papers] == [
        "Diffusion models for video generation"]
    subscriber = engine.store.mail.find_subscriber("grace@example.org")
    assert subscriber is not None
    subs.save_preferences(subs.link_tokens(subscriber)[0], Preferences("paused", None, 0, (), (), ()))
    clock.now += timedelta(days=3)
    assert DigestComposer(engine, subs, clock).run().due == 0


def test_cli_preview_and_in_process_scheduler(world: tuple[SearchEngine, Settings], smtp_server: SmtpServer,
                                              store_url: str) -> None:
    from click.testing import CliRunner

    from paperfeed.cli import main
    from paperfeed.digest_run import start_scheduler

    engine, settings = world
    clock = Clock()
    clock.now = datetime.now(timezone.utc) - timedelta(days=3)
    subs = _subscribe(engine, settings, clock, smtp_server, "edsger@example.org", (("diffusion", ""),))
    run_ingest(engine.store, [make_paper("Diffusion models for video generation", categories=["cs.CV"])])
    engine.sync()
    env = {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_DATABASE_URL": store_url,
           "PAPERFEED_LOAD_DEMO": "false", "PAPERFEED_PUBLIC_URL": PUBLIC}
    shown = CliRunner().invoke(main, ["digest", "preview", "edsger@example.org"], env=env)
    assert shown.exit_code == 0 and "[Saved search: diffusion]" in shown.output and "video generation" in shown.output
    unknown = CliRunner().invoke(main, ["digest", "preview", "nobody@example.org"], env=env)
    assert unknown.exit_code == 1 and "not a confirmed subscriber" in unknown.output
    assert subs is not None

    before = len(smtp_server.handler.messages())
    stop = start_scheduler(engine, settings, every_s=0.2)  # its own clock: now, and the digest is due
    try:
        deadline = datetime.now(timezone.utc) + timedelta(seconds=60)
        while len(smtp_server.handler.messages()) == before and datetime.now(timezone.utc) < deadline:
            import time
            time.sleep(0.05)
    finally:
        stop.set()
    assert "video generation" in body(smtp_server.handler.messages()[-1], "plain")
