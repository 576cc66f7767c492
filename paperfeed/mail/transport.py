"""Delivery: the Mailer seam, a real SMTP mailer (stdlib smtplib) and a console mailer for
development, with every attempt classified so the outbox knows what to do next.

Classification, the rule the outbox relies on:
- DELIVERED: the server answered 250 to the end of DATA; the message is its problem now.
- RETRY: a 4xx reply, or no reply at all (refused, reset, timed out, dropped): try later.
- FAILED: a 5xx reply to RCPT TO or to the message itself: this address (or this message)
  is refused for good; the outbox counts it as a bounce.
A 5xx before any recipient was named (greeting, EHLO, AUTH, MAIL FROM), a refused
certificate, or a missing STARTTLS says nothing about the recipient: it means every send will
fail the same way, so it raises MailerUnusable and the run stops with that message instead
of marking every subscriber as bouncing.
"""

from __future__ import annotations

import smtplib
import ssl
import sys
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.utils import getaddresses
from enum import Enum
from typing import Protocol, TextIO

from paperfeed.config import Secret, Settings
from paperfeed.errors import ConfigError
from paperfeed.mail.message import to_bytes

IDLE_PROBE_SECONDS = 5.0  # servers may close idle sessions; RFC 5321 asks them to wait 5 min
DEVELOPMENT_SENDER = "paperfeed <paperfeed@localhost.invalid>"  # RFC 2606: never deliverable


class Outcome(str, Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    detail: str  # the server's reply or the error, for the outbox's last_error
    code: int | None = None  # SMTP reply code when there was one


DELIVERED = DeliveryResult(Outcome.DELIVERED, "250 accepted", 250)


class MailerUnusable(ConfigError):
    """Every message would fail the same way (bad credentials, sender refused, TLS)."""

    code = "mailer_unusable"
    status = 503


class Mailer(Protocol):
    def send(self, message: Message) -> DeliveryResult:
        """Send a built message to its To address, from its From address."""

    def send_bytes(self, *, sender: str, recipient: str, data: bytes) -> DeliveryResult:
        """Send a message already flattened by `to_bytes` (what the outbox stores)."""

    def close(self) -> None: ...


def envelope(message: Message) -> tuple[str, str]:
    """(sender, recipient) addr-specs from a message built by build_message."""
    [(_, sender)] = getaddresses([str(message["From"])])
    [(_, recipient)] = getaddresses([str(message["To"])])
    return sender, recipient


def classify_reply(code: int, reply: bytes | str) -> DeliveryResult:
    """A refusal to a recipient or to the message, by its reply code."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    detail = f"{code} {text}".strip()
    if 500 <= code < 600:
        return DeliveryResult(Outcome.FAILED, detail, code)
    return DeliveryResult(Outcome.RETRY, detail, code)


def classify_error(exc: Exception) -> DeliveryResult:
    """Outcome of an exception raised while sending; MailerUnusable for config problems."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return classify_reply(code, reply)
    if isinstance(exc, smtplib.SMTPDataError):
        return classify_reply(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        raise MailerUnusable(f"The SMTP server refused the login: {_reply(exc)}.",
                             hint="Check PAPERFEED_SMTP_USERNAME and PAPERFEED_SMTP_PASSWORD.") from exc
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        raise MailerUnusable(f"The SMTP server does not offer what the settings ask: {exc}.",
                             hint="Check PAPERFEED_SMTP_SECURITY (starttls, ssl or none) and the port.") from exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        raise MailerUnusable(f"The SMTP server's certificate was refused: {exc.verify_message}.",
                             hint="Use the host name on its certificate in PAPERFEED_SMTP_HOST.") from exc
    if isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600:
        raise MailerUnusable(f"The SMTP server refused to send anything: {_reply(exc)}.",
                             hint="Check PAPERFEED_MAIL_FROM and that the server relays for this host.") from exc
    if isinstance(exc, smtplib.SMTPResponseException):
        return DeliveryResult(Outcome.RETRY, _reply(exc), exc.smtp_code)
    if isinstance(exc, (smtplib.SMTPException, OSError)):  # refused, reset, timeout, DNS, TLS
        return DeliveryResult(Outcome.RETRY, f"{type(exc).__name__}: {exc}")
    raise exc


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}".strip()


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # starttls | ssl | none
    username: str = ""
    password: Secret = Secret("")
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "SmtpConfig":
        mail = settings.mail
        return cls(host=mail.smtp_host, port=mail.smtp_port, security=mail.smtp_security,
                   username=mail.smtp_username, password=mail.smtp_password, timeout=mail.smtp_timeout)


class SmtpMailer:
    """Sends over one SMTP connection, kept open across messages (a bulk run would spend
    most of its time in handshakes otherwise) and reopened when it was dropped. Not
    thread-safe: one mailer per sending thread."""

    def __init__(self, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._connection: smtplib.SMTP | None = None
        self._last_used = 0.0

    def send(self, message: Message) -> DeliveryResult:
        sender, recipient = envelope(message)
        return self.send_bytes(sender=sender, recipient=recipient, data=to_bytes(message))

    def send_bytes(self, *, sender: str, recipient: str, data: bytes) -> DeliveryResult:
        try:
            refused = self._connect().sendmail(sender, [recipient], data)
        except Exception as exc:
            try:
                result = classify_error(exc)  # re-raises what it does not know
            except BaseException:
                self._drop()
                raise
            if result.outcome is Outcome.RETRY:  # the connection is suspect (4xx 421, dropped)
                self._drop()
            return result
        finally:
            self._last_used = time.monotonic()
        if refused:  # only some recipients refused; we send one recipient per message
            code, reply = next(iter(refused.values()))
            return classify_reply(code, reply)
        return DELIVERED

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()

    def __enter__(self) -> "SmtpMailer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None and self._alive(self._connection):
            return self._connection
        self._drop()
        config = self.config
        connection: smtplib.SMTP
        if config.security == "ssl":
            connection = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=self._ssl_context)
        else:
            connection = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        try:
            connection.ehlo()
            if config.security == "starttls":
                connection.starttls(context=self._ssl_context)  # raises SMTPNotSupportedError if not offered
                connection.ehlo()
            if config.username:
                connection.login(config.username, config.password.reveal())
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _alive(self, connection: smtplib.SMTP) -> bool:
        """A connection idle for a while may have been closed by the server: probe it with
        NOOP first rather than find out mid-message. (A blind resend after a drop could
        deliver twice if the drop came after the server had accepted the message.)"""
        if time.monotonic() - self._last_used < IDLE_PROBE_SECONDS:
            return True
        try:
            return connection.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None


class ConsoleMailer:
    """Development: prints each message (headers and the text part) instead of sending it,
    so a magic link or confirmation link can be followed from the terminal."""

    SHOWN_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, message: Message) -> DeliveryResult:
        sender, recipient = envelope(message)
        return self.send_bytes(sender=sender, recipient=recipient, data=to_bytes(message))

    def send_bytes(self, *, sender: str, recipient: str, data: bytes) -> DeliveryResult:
        message = message_from_bytes(data)
        stream = self._stream or sys.stderr
        lines = ["----- mail (console mailer, not sent) -----", f"Envelope: {sender} -> {recipient}"]
        lines += [f"{name}: {message[name]}" for name in self.SHOWN_HEADERS if message[name] is not None]
        lines += ["", _plain_text(message).rstrip(), "-----"]
        stream.write("\n".join(lines) + "\n")
        stream.flush()
        return DELIVERED

    def close(self) -> None:
        pass

    def __enter__(self) -> "ConsoleMailer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _plain_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return "(no text part)"


def mailer_from_settings(settings: Settings) -> Mailer:
    """SMTP when PAPERFEED_SMTP_HOST is set; the console in development; in production no
    host is a ConfigError, so mail is never silently printed instead of sent."""
    if settings.mail.smtp_host:
        return SmtpMailer(SmtpConfig.from_settings(settings))
    if settings.production:
        raise ConfigError(
            "PAPERFEED_SMTP_HOST is not set, and production does not print mail to the console.",
            hint="Set PAPERFEED_SMTP_HOST (and PAPERFEED_MAIL_FROM) to your mail relay.",
        )
    return ConsoleMailer()


def sender_from_settings(settings: Settings) -> str:
    """The From address; a reserved, undeliverable one for the development console."""
    return settings.mail.mail_from or DEVELOPMENT_SENDER

