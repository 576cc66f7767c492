"""Building a well-formed message: multipart text + HTML, Date, Message-ID, From/To, and the
RFC 8058 one-click unsubscribe headers. Pure: the caller passes the clock's time.

Built with the stdlib's compat32 message classes and bodies quoted-printable encoded by
binascii (C), not with EmailMessage.set_content, which re-parses every header and
QP-encodes in pure Python. On a 30-paper digest (38 KB) that is ~4 ms of CPU per message
instead of 9-11.6 ms (build + flatten; `paperfeed bench mail`, docs/email.md), which matters
at 100,000 digests per run. Every header value is therefore
checked or built here: addresses by parse_address/formataddr, the subject made one line,
the Message-ID and unsubscribe URLs refused if they hold anything but visible ASCII.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import formataddr, format_datetime, make_msgid
from urllib.parse import quote

from paperfeed.addresses import parse_address

MAX_SUBJECT_CHARS = 200
# SMTP wants CRLF line ends. Headers are folded only past SMTP's 998-octet line limit: the
# legacy folder would otherwise break "List-Unsubscribe:" before its first long URL.
WIRE_POLICY = compat32.clone(linesep="\r\n", max_line_length=998)
_MESSAGE_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")  # visible ASCII without < and >
_HEADER_URL = re.compile(r"[!-;=?-~]+")


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Both forms RFC 8058 asks for: the https URL a mail client POSTs
    `List-Unsubscribe=One-Click` to, and a mailto for clients that only mail."""

    url: str
    mailto: str

    def __post_init__(self) -> None:
        for url in (self.url, self.mailto):
            if not _HEADER_URL.fullmatch(url):
                raise ValueError(f"not a header-safe URL: {url!r}")

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


def build_message(mail: OutgoingMail, *, sender: str, now: datetime) -> Message:
    """A message ready for `Mailer.send`. Raises InvalidInput for a bad recipient."""
    if now.tzinfo is None:
        raise ValueError("build_message needs an aware datetime")
    sender_address = parse_address(sender, field="mail_from")
    recipient = parse_address(mail.to, field="email")
    message_id = mail.message_id or make_msgid(domain=sender_address.domain)
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    message = _text_part(mail.text, "plain") if mail.html is None else MIMEMultipart(
        "alternative", _subparts=[_text_part(mail.text, "plain", nested=True),
                                  _text_part(mail.html, "html", nested=True)])
    message["From"] = _mailbox(sender_address)
    message["To"] = _mailbox(recipient)
    message["Subject"] = one_line(mail.subject, MAX_SUBJECT_CHARS)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders stay quiet
    if mail.unsubscribe is not None:
        message["List-Unsubscribe"] = mail.unsubscribe.header()
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


def to_bytes(message: Message) -> bytes:
    """The message as it goes over SMTP (CRLF line ends); what the outbox stores."""
    return message.as_bytes(policy=WIRE_POLICY)


def _text_part(body: str, subtype: str, *, nested: bool = False) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    if nested:
        del part["MIME-Version"]  # only the top level carries it
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii"))
    return part


def _mailbox(address: Address) -> str:
    # formataddr RFC 2047-encodes a non-ASCII display name; the address itself is ASCII.
    return formataddr((address.display_name, address.addr_spec))


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
