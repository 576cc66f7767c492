"""SmtpMailer against a real SMTP server on 127.0.0.1: what arrives, and how every kind of
refusal is classified."""

from __future__ import annotations

import socket
import ssl
import time
from datetime import datetime, timezone
from email.message import Message
from email.utils import parsedate_to_datetime

import pytest

from paperfeed.config import Secret
from paperfeed.mail import transport
from paperfeed.mail.message import OutgoingMail, build_message, unsubscribe_links
from paperfeed.mail.pacing import Throttle
from paperfeed.mail.transport import MailerUnusable, Outcome

from tests.mail.smtp_sink import (
    PASSWORD, USERNAME, RecordingHandler, ServerFactory, SmtpServer, authenticator, body, free_port,
)

TlsPair = tuple[ssl.SSLContext, ssl.SSLContext]  # server side, client side
SENDER = "paperfeed <digest@example.org>"
NOW = datetime(2026, 11, 27, 7, 30, tzinfo=timezone.utc)


PAPER_URL = "https://papers.example.org/papers/2401.01234"


def _message(to: str = "reader@example.org", message_id: str | None = None) -> Message:
    mail = OutgoingMail(
        to=to,
        subject="Your daily papers",
        text=f"Plain text body with a link {PAPER_URL}",
        html=f'<p>HTML body, <a href="{PAPER_URL}">paper</a></p>',
        unsubscribe=unsubscribe_links("https://papers.example.org/unsubscribe/v1.abc.def",
                                      mailbox="digest@example.org", token="v1.abc.def"),
        message_id=message_id,
    )
    return build_message(mail, sender=SENDER, now=NOW)


def test_a_sent_message_arrives_whole_with_its_headers(smtp_server: SmtpServer) -> None:
    with smtp_server.mailer() as mailer:
        result = mailer.send(_message(message_id="<outbox-17@example.org>"))
    assert result.outcome is Outcome.DELIVERED, result
    [(_, envelope)] = smtp_server.handler.received
    assert envelope.mail_from == "digest@example.org" and envelope.rcpt_tos == ["reader@example.org"]
    [received] = smtp_server.handler.messages()
    assert received["From"] == SENDER and received["To"] == "reader@example.org"
    assert received["Subject"] == "Your daily papers"
    assert parsedate_to_datetime(received["Date"]) == NOW
    assert received["Message-ID"] == "<outbox-17@example.org>"
    assert received["List-Unsubscribe"] == (
        "<https://papers.example.org/unsubscribe/v1.abc.def>, "
        "<mailto:digest@example.org?subject=unsubscribe%20v1.abc.def>"
    )
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in received.iter_parts()]
    assert parts == ["text/plain", "text/html"]  # the last part is the preferred one
    assert PAPER_URL in body(received, "plain")
    assert f'<a href="{PAPER_URL}">' in body(received, "html")


def test_one_connection_carries_many_messages_and_a_refusal_does_not_spoil_it(start_smtp: ServerFactory) -> None:
    handler = RecordingHandler()
    server = start_smtp(handler)
    with server.mailer() as mailer:
        assert mailer.send(_message("a@example.org")).outcome is Outcome.DELIVERED
        handler.rcpt_reply = "550 5.1.1 No such user"
        refused = mailer.send(_message("gone@example.org"))
        handler.rcpt_reply = None
        assert mailer.send(_message("b@example.org")).outcome is Outcome.DELIVERED
    assert refused.outcome is Outcome.FAILED and refused.code == 550 and "No such user" in refused.detail
    assert [env.rcpt_tos for _, env in handler.received] == [["a@example.org"], ["b@example.org"]]


@pytest.mark.parametrize(
    ("stage", "reply", "outcome"),
    [
        ("rcpt", "450 4.2.1 Mailbox busy, try later", Outcome.RETRY),
        ("rcpt", "452 4.5.3 Too many recipients", Outcome.RETRY),
        ("rcpt", "421 4.7.0 Closing, come back later", Outcome.RETRY),
        ("rcpt", "550 5.1.1 No such user", Outcome.FAILED),
        ("rcpt", "553 5.1.3 Bad address syntax", Outcome.FAILED),
        ("data", "451 4.3.0 Temporary local problem", Outcome.RETRY),
        ("data", "554 5.7.1 Message refused as spam", Outcome.FAILED),
    ],
)
def test_refusals_are_classified_by_reply_code(start_smtp: ServerFactory, stage: str, reply: str,
                                               outcome: Outcome) -> None:
    handler = RecordingHandler()
    setattr(handler, f"{stage}_reply", reply)
    with start_smtp(handler).mailer() as mailer:
        result = mailer.send(_message())
    assert result.outcome is outcome and result.code == int(reply[:3]) and reply[4:] in result.detail
    assert handler.received == []


def test_a_temporarily_refused_sender_is_retried_but_a_refused_one_stops_the_run(start_smtp: ServerFactory) -> None:
    handler = RecordingHandler(mail_reply="451 4.7.1 Greylisted")
    server = start_smtp(handler)
    with server.mailer() as mailer:
        assert mailer.send(_message()).outcome is Outcome.RETRY
        handler.mail_reply = "550 5.7.1 Relaying denied for this sender"
        with pytest.raises(MailerUnusable) as error:  # not the recipient's fault: no bounce
            mailer.send(_message())
    assert "Relaying denied" in error.value.message and "PAPERFEED_MAIL_FROM" in error.value.hint


def test_connection_refused_is_retried_later() -> None:
    port = free_port()  # bound and released: nothing listens there
    mailer = transport.SmtpMailer(transport.SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=2))
    result = mailer.send(_message())
    assert result.outcome is Outcome.RETRY and result.code is None
    assert "ConnectionRefusedError" in result.detail


def test_a_server_that_never_answers_times_out_into_a_retry() -> None:
    with socket.socket() as silent:  # listens (the kernel accepts) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        config = transport.SmtpConfig(host="127.0.0.1", port=silent.getsockname()[1], security="none", timeout=0.5)
        started = time.monotonic()
        result = transport.SmtpMailer(config).send(_message())
    assert result.outcome is Outcome.RETRY and time.monotonic() - started < 5
    assert "timed out" in result.detail


def test_a_connection_closed_while_idle_is_reopened_before_sending(start_smtp: ServerFactory,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "IDLE_PROBE_SECONDS", 0.0)  # probe before every reuse
    first = start_smtp()
    mailer = first.mailer()
    assert mailer.send(_message("a@example.org")).outcome is Outcome.DELIVERED
    first.stop()  # the server goes away and comes back on the same port
    second = start_smtp(port=first.port)
    assert mailer.send(_message("b@example.org")).outcome is Outcome.DELIVERED
    mailer.close()
    assert [env.rcpt_tos for _, env in second.handler.received] == [["b@example.org"]]


def test_starttls_with_login(start_smtp: ServerFactory, tls_contexts: TlsPair) -> None:
    server_tls, client_tls = tls_contexts
    server = start_smtp(tls_context=server_tls, require_starttls=True, authenticator=authenticator,
                        auth_required=True, auth_require_tls=True, client_tls=client_tls)
    with server.mailer("starttls", username=USERNAME, password=Secret(PASSWORD)) as mailer:
        assert mailer.send(_message()).outcome is Outcome.DELIVERED
    with server.mailer("starttls", username=USERNAME, password=Secret("wrong")) as mailer:
        with pytest.raises(MailerUnusable) as error:
            mailer.send(_message())
    assert "PAPERFEED_SMTP_PASSWORD" in error.value.hint
    assert len(server.handler.received) == 1


def test_a_server_without_starttls_is_refused_not_spoken_to_in_clear(smtp_server: SmtpServer) -> None:
    with smtp_server.mailer("starttls") as mailer:
        with pytest.raises(MailerUnusable) as error:
            mailer.send(_message())
    assert "PAPERFEED_SMTP_SECURITY" in error.value.hint and smtp_server.handler.received == []


def test_implicit_tls_and_certificate_checking(start_smtp: ServerFactory, tls_contexts: TlsPair) -> None:
    server_tls, client_tls = tls_contexts
    server = start_smtp(ssl_context=server_tls, client_tls=client_tls)
    with server.mailer("ssl") as mailer:
        assert mailer.send(_message()).outcome is Outcome.DELIVERED
    config = transport.SmtpConfig(host="127.0.0.1", port=server.port, security="ssl", timeout=5)
    untrusting = transport.SmtpMailer(config)
    with pytest.raises(MailerUnusable) as error:  # the system CAs do not know the test CA
        untrusting.send(_message())
    assert "certificate" in error.value.message
    assert len(server.handler.received) == 1


def test_the_throttle_spaces_real_deliveries(smtp_server: SmtpServer) -> None:
    rate, count = 20.0, 11
    throttle = Throttle(rate)
    started = time.monotonic()
    with smtp_server.mailer() as mailer:
        for index in range(count):
            throttle.wait()
            assert mailer.send(_message(f"r{index}@example.org")).outcome is Outcome.DELIVERED
    elapsed = time.monotonic() - started
    arrivals = [when for when, _ in smtp_server.handler.received]
    assert len(arrivals) == count and elapsed >= (count - 1) / rate  # 0.5 s at least
    early = [k for k, when in enumerate(arrivals) if when < started + k / rate]
    assert not early, f"messages {early} arrived before their slot"  # never faster than the rate
    assert elapsed < (count - 1) / rate + 3.0  # and not much slower (loose: 2 shared cores)
