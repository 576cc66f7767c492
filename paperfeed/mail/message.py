"""Building a well-formed message: multipart text + HTML, Date, Message-ID, From/To, and the
RFC 8058 one-click unsubscribe headers. Pure: the caller passes the clock's time."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

from paperfeed.addresses import parse_address

MAX_SUBJECT_CHARS = 200


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Both forms RFC 8058 asks for: the https URL a mail client POSTs
    `List-Unsubscribe=One-Click` to, and a mailto for clients that only mail."""

    url: str
    mailto: str

    def header(self) -> str:
        return f"<{self.url}>, <{self.mailto}>"


def unsubscribe_links(url: str, *, mailbox: str, token: str) -> UnsubscribeLinks:
    """The mailto goes to `mailbox` (the From address) with the token in the subject, so a
    person or a later inbound handler can act on it without guessing who sent it."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"unsubscribe URL must be http(s): {url!r}")
    return UnsubscribeLinks(url=url, mailto=f"mailto:{mailbox}?subject={quote('unsubscribe ' + token)}")


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    text: str
    html: str | None = None
    unsubscribe: UnsubscribeLinks | None = None
    # The outbox sets it from the outbox row, so a retried send carries the same Message-ID
    # and a receiver that saw the first attempt can recognise the second.
    message_id: str | None = None


def build_message(mail: OutgoingMail, *, sender: str, now: datetime) -> EmailMessage:
    """An EmailMessage ready for `Mailer.send`. Raises InvalidInput for a bad recipient."""
    if now.tzinfo is None:
        raise ValueError("build_message needs an aware datetime")
    sender_address = parse_address(sender, field="mail_from")
    recipient = parse_address(mail.to, field="email")
    message = EmailMessage()
    message["From"] = sender_address
    message["To"] = recipient
    message["Subject"] = one_line(mail.subject, MAX_SUBJECT_CHARS)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = mail.message_id or make_msgid(domain=sender_address.domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders stay quiet
    if mail.unsubscribe is not None:
        message["List-Unsubscribe"] = mail.unsubscribe.header()
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    return message


def stable_message_id(key: str, *, sender: str) -> str:
    """A Message-ID derived from `key` (e.g. the outbox row's id), on the sender's domain."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{parse_address(sender, field='mail_from').domain}>"


def one_line(text: str, limit: int) -> str:
    """One line of printable text: control characters (CR/LF among them, so no header
    injection) become spaces, runs of space collapse, and long text is cut at a word."""
    printable = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    line = " ".join(printable.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if line[limit - 1] != " " and " " in cut:  # mid-word: back up to the last whole word
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"
