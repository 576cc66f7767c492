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
import random
import sys
import unicodedata
from dataclasses import dataclass
from typing import Sequence
from datetime import datetime
from functools import lru_cache
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
_NEWLINES = re.compile(r"\r\n?")
_PART_HEAD = b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'


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
    # Whole lines of `text` or `html` that many messages of a run share (a digest's papers):
    # a hint that lets `wire_bytes` encode them once; the bytes are the same without it.
    shared: tuple[str, ...] = ()


def build_message(mail: OutgoingMail, *, sender: str, now: datetime) -> Message:
    """A message ready for `Mailer.send`. Raises InvalidInput for a bad recipient."""
    headers = _headers(mail, sender=sender, now=now)
    message = _text_part(mail.text, "plain") if mail.html is None else MIMEMultipart(
        "alternative", _subparts=[_text_part(mail.text, "plain", nested=True),
                                  _text_part(mail.html, "html", nested=True)])
    for name, value in headers:
        message[name] = value
    return message


def to_bytes(message: Message) -> bytes:
    """The message as it goes over SMTP (CRLF line ends); what the outbox stores."""
    return message.as_bytes(policy=WIRE_POLICY)


def wire_bytes(mail: OutgoingMail, *, sender: str, now: datetime) -> bytes:
    """`to_bytes(build_message(...))` without the email package's generator: the same
    headers, in the same order and folding, the same parts and quoted-printable bodies,
    only another random boundary (a test compares the two byte for byte). The generator
    walks the bodies in Python, line by line; this costs a tenth of it per digest, which a
    100,000-digest run needs (docs/benchmarks.md)."""
    headers = b"".join(_header_line(name, value) for name, value in _headers(mail, sender=sender, now=now))
    if mail.html is None:
        return (b'Content-Type: text/plain; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
                b"Content-Transfer-Encoding: quoted-printable\r\n" + headers + b"\r\n" + quoted_printable(mail.text))
    # Quoted-printable output never holds "==" ("=" only starts "=XX" or a soft break), so
    # this boundary cannot occur in the parts and needs no search through them.
    boundary = f"{'=' * 15}{random.randrange(sys.maxsize):019d}==".encode("ascii")
    return b"".join((
        b'Content-Type: multipart/alternative; boundary="', boundary, b'"\r\nMIME-Version: 1.0\r\n', headers,
        b"\r\n--", boundary, b"\r\n", _PART_HEAD % b"plain", _encoded(mail.text, mail.shared),
        b"\r\n--", boundary, b"\r\n", _PART_HEAD % b"html", _encoded(mail.html, mail.shared),
        b"\r\n--", boundary, b"--\r\n"))


def quoted_printable(text: str) -> bytes:
    """A text body quoted-printable encoded (binascii, in C), with CRLF line ends."""
    return binascii.b2a_qp(_NEWLINES.sub("\n", text).encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def _encoded(text: str, shared: Sequence[str]) -> bytes:
    """quoted_printable(text), with a shared run of whole lines encoded once per run: the
    encoding works line by line, so a text split at line ends encodes piece by piece to the
    same bytes (the tests compare)."""
    for piece in shared:
        before, found, after = text.partition(piece)
        if found and piece.endswith("\n") and (not before or before.endswith("\n")) and "\r" not in piece:
            return quoted_printable(before) + _encoded_piece(piece) + _encoded(after, shared)
    return quoted_printable(text)


@lru_cache(maxsize=512)
def _encoded_piece(piece: str) -> bytes:
    return quoted_printable(piece)


def _header_line(name: str, value: str) -> bytes:
    if value.isascii() and len(name) + len(value) < 990:  # what the policy's fold returns for these
        return f"{name}: {value}\r\n".encode("ascii")
    return WIRE_POLICY.fold_binary(name, value)


def _headers(mail: OutgoingMail, *, sender: str, now: datetime) -> list[tuple[str, str]]:
    """The top-level headers after Content-Type and MIME-Version, checked and in order."""
    if now.tzinfo is None:
        raise ValueError("build_message needs an aware datetime")
    sender_address = sender_mailbox(sender)
    recipient = parse_address(mail.to, field="email")
    message_id = mail.message_id or make_msgid(domain=sender_address.domain)
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    headers = [("From", _mailbox(sender_address)), ("To", _mailbox(recipient)),
               ("Subject", one_line(mail.subject, MAX_SUBJECT_CHARS)), ("Date", format_datetime(now)),
               ("Message-ID", message_id),
               ("Auto-Submitted", "auto-generated")]  # RFC 3834: auto-responders stay quiet
    if mail.unsubscribe is not None:
        headers += [("List-Unsubscribe", mail.unsubscribe.header()),
                    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
    return headers


@lru_cache(maxsize=8)
def sender_mailbox(sender: str) -> Address:
    """The From setting parsed once (InvalidInput naming mail_from if it is unusable): it is
    the same for every message of a run."""
    return parse_address(sender, field="mail_from")


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
    return f"<{digest}@{sender_mailbox(sender).domain}>"


def one_line(text: str, limit: int) -> str:
    """One line of printable text: control characters (CR/LF among them, so no header
    injection) become spaces, runs of space collapse, and long text is cut at a word."""
    if text.isascii() and text.isprintable():  # no control characters: the common case, quickly
        line = " ".join(text.split())
    else:
        line = " ".join("".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text).split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if line[limit - 1] != " " and " " in cut:  # mid-word: back up to the last whole word
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"
