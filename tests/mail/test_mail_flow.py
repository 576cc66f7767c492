"""The pieces together, from settings to a parsed mail on a real SMTP server: the links a
reader would click carry tokens that verify for their purpose and for nothing else."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from paperfeed.config import Settings
from paperfeed.mail.message import build_message, stable_message_id, unsubscribe_links
from paperfeed.mail.render import DigestSection, paper_entry, render_confirmation, render_digest, render_sign_in
from paperfeed.mail.transport import ConsoleMailer, Outcome, mailer_from_settings, sender_from_settings
from paperfeed.mail.urls import SiteUrls
from paperfeed.models import Paper
from paperfeed.tokens import RULES, InvalidToken, Purpose, TokenSigner, signing_key

from tests.mail.smtp_sink import SmtpServer, body

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=timezone.utc)


def _settings(tmp_path: Path, server: SmtpServer) -> Settings:
    return Settings.load(environ={
        "PAPERFEED_DATA_DIR": str(tmp_path / "data"),
        "PAPERFEED_PUBLIC_URL": "https://papers.example.org",
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(server.port),
        "PAPERFEED_SMTP_SECURITY": "none",
        "PAPERFEED_MAIL_FROM": "paperfeed <digest@example.org>",
    }, dotenv=tmp_path / ".env")


def _token_in(url: str, route: str) -> str:
    match = re.fullmatch(rf"https://papers\.example\.org/{route}/([A-Za-z0-9_.-]+)", url)
    assert match, url
    return match.group(1)


def test_a_confirmation_mail_carries_a_working_single_purpose_link(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = _settings(tmp_path, smtp_server)
    signer = TokenSigner(signing_key(settings), clock=lambda: NOW)
    urls = SiteUrls(settings.public_url)
    confirm_url = urls.confirm(signer.issue(Purpose.CONFIRM, "17"))
    rendered = render_confirmation(email="new@example.org", confirm_url=confirm_url, urls=urls, valid_for=RULES[Purpose.CONFIRM].lifetime or timedelta(0))
    message = build_message(rendered.to("new@example.org"), sender=sender_from_settings(settings), now=NOW)
    mailer = mailer_from_settings(settings)
    try:
        assert mailer.send(message).outcome is Outcome.DELIVERED
    finally:
        mailer.close()
    [received] = smtp_server.handler.messages()
    assert received["List-Unsubscribe"] is None  # not subscribed yet: nothing to unsubscribe from
    text = body(received, "plain")
    [link] = re.findall(r"https://papers\.example\.org/\S+", text)
    token = _token_in(link, "subscribe/confirm")
    assert signer.verify(token, Purpose.CONFIRM).subject == "17"
    assert f'href="{link}"' in body(received, "html")
    with pytest.raises(InvalidToken):
        signer.verify(token, Purpose.UNSUBSCRIBE)


def test_a_digest_unsubscribes_from_its_header_and_its_footer(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = _settings(tmp_path, smtp_server)
    signer = TokenSigner(signing_key(settings), clock=lambda: NOW)
    urls = SiteUrls(settings.public_url)
    unsubscribe_url = urls.unsubscribe(signer.issue(Purpose.UNSUBSCRIBE, "17"))
    preferences_url = urls.preferences(signer.issue(Purpose.PREFERENCES, "17"))
    paper = Paper(title="Retrieval <b>augmented</b> generation", id="2005.11401", abstract="RAG.", authors=["P. Lewis"])
    rendered = render_digest(email="reader@example.org", heading="Your daily papers, Friday 27 November",
                             sections=[DigestSection("Saved search: rag", (paper_entry(paper, urls),))], urls=urls,
                             preferences_url=preferences_url, unsubscribe_url=unsubscribe_url)
    sender = sender_from_settings(settings)
    mail = rendered.to("reader@example.org", message_id=stable_message_id("outbox:1", sender=sender),
                       unsubscribe=unsubscribe_links(unsubscribe_url, mailbox="digest@example.org",
                                                     token=_token_in(unsubscribe_url, "unsubscribe")))
    mailer = mailer_from_settings(settings)
    try:
        assert mailer.send(build_message(mail, sender=sender, now=NOW)).outcome is Outcome.DELIVERED
    finally:
        mailer.close()
    [received] = smtp_server.handler.messages()
    header_url = re.match(r"<(https://[^>]+)>, <mailto:digest@example\.org\?subject=unsubscribe%20([^>]+)>",
                          received["List-Unsubscribe"])
    assert header_url and header_url.group(1) == unsubscribe_url
    assert signer.verify(header_url.group(2), Purpose.UNSUBSCRIBE).subject == "17"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = body(received, "plain")
    assert f"Unsubscribe: {unsubscribe_url}" in text and preferences_url in text
    assert signer.verify(_token_in(preferences_url, "subscription"), Purpose.PREFERENCES).subject == "17"
    html = body(received, "html")
    assert "Retrieval &lt;b&gt;augmented&lt;/b&gt; generation" in html
    assert "https://papers.example.org/papers/2005.11401" in html
    assert received["Subject"] == "Your daily papers, Friday 27 November: 1 new paper"


def test_a_magic_link_in_development_is_printed_and_expires(tmp_path: Path) -> None:
    settings = Settings.load(environ={"PAPERFEED_DATA_DIR": str(tmp_path / "data")}, dotenv=tmp_path / ".env")
    now = [NOW]
    signer = TokenSigner(signing_key(settings), clock=lambda: now[0])
    urls = SiteUrls(settings.public_url)
    sign_in_url = urls.sign_in(signer.issue(Purpose.SIGN_IN, "user:5"))
    assert RULES[Purpose.SIGN_IN].lifetime == timedelta(minutes=15)
    rendered = render_sign_in(email="me@example.org", sign_in_url=sign_in_url, urls=urls, valid_for=timedelta(minutes=15))
    out = io.StringIO()
    message = build_message(rendered.to("me@example.org"), sender=sender_from_settings(settings), now=NOW)
    ConsoleMailer(out).send(message)
    [link] = re.findall(r"http://127\.0\.0\.1:8000/sign-in/(\S+)", out.getvalue())
    assert signer.verify(link, Purpose.SIGN_IN).subject == "user:5"
    now[0] = NOW + timedelta(minutes=16)
    with pytest.raises(InvalidToken):
        signer.verify(link, Purpose.SIGN_IN)
