"""`paperfeed mail test ADDRESS`: one message through the configured mailer, so an operator
can check the SMTP settings before the first digest run depends on them."""

from __future__ import annotations

from datetime import datetime, timezone

from paperfeed.config import Settings
from paperfeed.mail.message import OutgoingMail, build_message
from paperfeed.mail.transport import DeliveryResult, Mailer, mailer_from_settings, sender_from_settings


def send_test_message(settings: Settings, to: str, *, mailer: Mailer | None = None,
                      now: datetime | None = None) -> DeliveryResult:
    """Build and send a short plain-text message to `to`; the classified outcome.
    Raises InvalidInput for a bad address and MailerUnusable for unusable settings."""
    text = (
        f"This is a test message from paperfeed at {settings.public_url}.\n"
        "If you can read it, outgoing mail works.\n"
    )
    mail = OutgoingMail(to=to, subject="paperfeed test message", text=text)
    message = build_message(mail, sender=sender_from_settings(settings), now=now or datetime.now(timezone.utc))
    active = mailer or mailer_from_settings(settings)
    try:
        return active.send(message)
    finally:
        if mailer is None:
            active.close()


def describe_route(settings: Settings) -> str:
    """Where mail goes, for the command's output (never the password)."""
    mail = settings.mail
    if not mail.smtp_host:
        return "the console (PAPERFEED_SMTP_HOST is not set)"
    login = f" as {mail.smtp_username}" if mail.smtp_username else ""
    return f"{mail.smtp_host}:{mail.smtp_port} ({mail.smtp_security}){login}"
