"""Message building, the console mailer, mailer choice, and the retry and throttle policies."""

from __future__ import annotations

import email
import email.policy
import io
import random
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from paperfeed.config import Settings
from paperfeed.errors import ConfigError, InvalidInput
from paperfeed.mail.message import (
    OutgoingMail, build_message, one_line, stable_message_id, to_bytes, unsubscribe_links, wire_bytes,
)
from paperfeed.mail.pacing import RetryPolicy, Throttle
from paperfeed.mail.transport import (
    DEVELOPMENT_SENDER, ConsoleMailer, Outcome, SmtpMailer, mailer_from_settings, sender_from_settings,
)

NOW = datetime(2026, 11, 27, 7, 30, tzinfo=timezone.utc)
SENDER = "paperfeed <digest@example.org>"


def _mail(**fields: object) -> OutgoingMail:
    values: dict[str, object] = {"to": "reader@example.org", "subject": "Hello", "text": "text body"}
    values.update(fields)
    return OutgoingMail(**values)  # type: ignore[arg-type]


def test_headers_of_a_built_message() -> None:
    message = build_message(_mail(html="<p>hi</p>"), sender=SENDER, now=NOW)
    assert parsedate_to_datetime(message["Date"]) == NOW
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@example.org>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
    assert [part.get_content_type() for part in message.walk()] == ["multipart/alternative", "text/plain", "text/html"]
    text_only = build_message(_mail(), sender=SENDER, now=NOW)
    assert text_only.get_content_type() == "text/plain" and not text_only.is_multipart()


def test_what_goes_on_the_wire_parses_back_exactly() -> None:
    """Quoted-printable by hand (binascii) must round-trip: long lines, '=' signs, trailing
    spaces, a line that is a lone dot, non-ASCII text, names and subjects."""
    text = ("Zoë's paper = 2× faster   \n.\n" + "long line " * 40 + "\nend =3D literal\n")
    html = '<p style="margin:0">Ünïcödé — “quotes” & <a href="https://x.org/?a=1&amp;b=2">x</a></p>\n' * 3
    mail = _mail(to="Zoë Ärzt <zoe@example.org>", subject="Naïve Bayes, revisited ✓", text=text, html=html,
                 unsubscribe=unsubscribe_links("https://p.example.org/unsubscribe/" + "t" * 150,
                                               mailbox="d@example.org", token="t" * 150))
    wire = to_bytes(build_message(mail, sender="Päper Feed <digest@example.org>", now=NOW))
    assert wire.isascii() and b"\r\n" in wire and b"\n" not in wire.replace(b"\r\n", b"")
    assert max(len(line) for line in wire.split(b"\r\n")) <= 998  # the SMTP line limit
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert parsed["Subject"] == "Naïve Bayes, revisited ✓"
    assert parsed["To"].addresses[0].display_name == "Zoë Ärzt" and parsed["To"].addresses[0].addr_spec == "zoe@example.org"
    assert parsed["From"].addresses[0].display_name == "Päper Feed"
    assert parsed["List-Unsubscribe"] == f"<https://p.example.org/unsubscribe/{'t' * 150}>, " \
        f"<mailto:d@example.org?subject=unsubscribe%20{'t' * 150}>"
    # Received text keeps the wire's CRLF line ends (so does any message parsed from SMTP).
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == text  # type: ignore[union-attr]
    assert parsed.get_body(("html",)).get_content().replace("\r\n", "\n") == html  # type: ignore[union-attr]
    assert [part["MIME-Version"] for part in parsed.walk()] == ["1.0", None, None]  # top level only


def test_header_values_we_did_not_check_are_refused() -> None:
    with pytest.raises(ValueError):
        build_message(_mail(message_id="<a b@example.org>"), sender=SENDER, now=NOW)
    with pytest.raises(ValueError):
        build_message(_mail(message_id="<x@example.org>\r\nBcc: y@example.org"), sender=SENDER, now=NOW)
    with pytest.raises(ValueError):
        unsubscribe_links("https://p.example.org/u/t\r\nBcc: y@example.org", mailbox="d@example.org", token="t")


def test_message_ids_are_unique_unless_the_outbox_fixes_one() -> None:
    ids = {build_message(_mail(), sender=SENDER, now=NOW)["Message-ID"] for _ in range(50)}
    assert len(ids) == 50
    fixed = stable_message_id("outbox:42", sender=SENDER)
    assert fixed == stable_message_id("outbox:42", sender=SENDER) != stable_message_id("outbox:43", sender=SENDER)
    assert build_message(_mail(message_id=fixed), sender=SENDER, now=NOW)["Message-ID"] == fixed


def test_line_breaks_in_a_subject_cannot_add_headers() -> None:
    message = build_message(_mail(subject="Papers\r\nBcc: everyone@example.org\n\tX: y"), sender=SENDER, now=NOW)
    assert message["Subject"] == "Papers Bcc: everyone@example.org X: y"
    assert message["Bcc"] is None and message["X"] is None
    assert "\nBcc:" not in message.as_string()


def test_long_subjects_are_cut_at_a_word() -> None:
    assert one_line("word " * 100, 30) == "word word word word word word…"
    assert len(one_line("x" * 500, 200)) <= 200


@pytest.mark.parametrize("to", ["", "not-an-address", "a@b", "a@example.org, b@example.org",
                                "a@example.org\r\nBcc: x@example.org", "ü@example.org"])
def test_bad_recipients_are_refused_with_the_field_named(to: str) -> None:
    with pytest.raises(InvalidInput) as error:
        build_message(_mail(to=to), sender=SENDER, now=NOW)
    assert error.value.field == "email"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        build_message(_mail(), sender=SENDER, now=datetime(2026, 11, 27, 7, 30))


def test_unsubscribe_links_must_be_http() -> None:
    links = unsubscribe_links("https://p.example.org/unsubscribe/t", mailbox="d@example.org", token="t")
    assert links.header() == "<https://p.example.org/unsubscribe/t>, <mailto:d@example.org?subject=unsubscribe%20t>"
    with pytest.raises(ValueError):
        unsubscribe_links("javascript:alert(1)", mailbox="d@example.org", token="t")


def test_the_console_mailer_prints_headers_and_the_text_part() -> None:
    out = io.StringIO()
    links = unsubscribe_links("https://p.example.org/u/t", mailbox="d@example.org", token="t")
    message = build_message(_mail(text="Open https://p.example.org/sign-in/abc", html="<b>x</b>", unsubscribe=links),
                            sender=SENDER, now=NOW)
    assert ConsoleMailer(out).send(message).outcome is Outcome.DELIVERED
    printed = out.getvalue()
    assert "To: reader@example.org" in printed and "https://p.example.org/sign-in/abc" in printed
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in printed and "<b>x</b>" not in printed


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.load(environ=env, dotenv=tmp_path / ".env")


def test_which_mailer_the_settings_give(tmp_path: Path) -> None:
    assert isinstance(mailer_from_settings(_settings(tmp_path)), ConsoleMailer)
    assert sender_from_settings(_settings(tmp_path)) == DEVELOPMENT_SENDER
    smtp = mailer_from_settings(_settings(tmp_path, PAPERFEED_SMTP_HOST="smtp.example.org",
                                          PAPERFEED_MAIL_FROM="d@example.org", PAPERFEED_SMTP_SECURITY="ssl"))
    assert isinstance(smtp, SmtpMailer) and smtp.config.port == 465 and smtp.config.security == "ssl"
    production = _settings(tmp_path, PAPERFEED_ENVIRONMENT="production", PAPERFEED_SECRET_KEY="k" * 40,
                           PAPERFEED_PUBLIC_URL="https://papers.example.org")
    with pytest.raises(ConfigError) as error:
        mailer_from_settings(production)  # never print mail to a console in production
    assert "PAPERFEED_SMTP_HOST" in error.value.message


def test_retry_delays_grow_then_level_off_then_give_up() -> None:
    policy = RetryPolicy()
    minutes = [policy.delay(n).total_seconds() / 60 for n in range(1, 9)]
    assert minutes == [1, 3, 9, 27, 81, 120, 120, 120]
    first = NOW
    assert policy.next_attempt(attempts=1, first_attempt=first, now=first) == first + timedelta(minutes=1)
    late = first + timedelta(hours=19)
    assert policy.next_attempt(attempts=9, first_attempt=first, now=late) is None  # 19 h + 2 h > 20 h
    rng = random.Random(7)
    jittered = [policy.delay(3, rng).total_seconds() for _ in range(200)]
    assert 9 * 60 * 0.9 <= min(jittered) < max(jittered) <= 9 * 60 * 1.1
    with pytest.raises(ValueError):
        policy.delay(0)


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_throttle_spaces_messages_and_does_not_burst_after_a_pause() -> None:
    fake = FakeTime()
    throttle = Throttle(4, clock=fake.clock, sleep=fake.sleep)
    for _ in range(5):
        throttle.wait()
    assert fake.now == pytest.approx(101.0) and fake.slept == pytest.approx([0.25] * 4)
    fake.now += 10  # a long pause earns no burst
    throttle.wait()
    throttle.wait()
    assert fake.slept[-1] == pytest.approx(0.25)
    unlimited = Throttle(0, clock=fake.clock, sleep=fake.sleep)
    assert [unlimited.wait() for _ in range(3)] == [0, 0, 0]


_LONG_URL = "https://papers.example.org/unsubscribe/" + "t" * 1200


@pytest.mark.parametrize("fields", [
    {"html": "<p>hi</p>\n"},
    {},  # text only
    {"to": "Zoë Çelik <reader@example.org>", "subject": "Café ünïcode digest " + "é" * 90,
     "text": "line  \nsoft " + "x" * 200 + "\n=3D é\r\nlone\rcr\n", "html": "<p>a=b</p>\r\n\t\n"},
    {"subject": "x" * 195, "text": "no trailing newline", "html": "no newline either"},
    {"html": "<b>x</b>", "unsubscribe": unsubscribe_links(_LONG_URL, mailbox="digest@example.org", token="t")},
    {"html": "<b>x</b>", "unsubscribe": unsubscribe_links("https://e.org/u/1", mailbox="d@example.org", token="1"),
     "message_id": "<fixed@example.org>", "to": '"Doe, Jane" <jane.doe+tag@mail.example.org>'},
])
def test_wire_bytes_match_the_email_package_byte_for_byte(fields: dict[str, object]) -> None:
    mail = _mail(message_id="<same@example.org>", **fields) if "message_id" not in fields else _mail(**fields)
    fast = wire_bytes(mail, sender="Päper Feed <digest@example.org>", now=NOW)
    slow = to_bytes(build_message(mail, sender="Päper Feed <digest@example.org>", now=NOW))
    boundaries = re.findall(rb'boundary="([^"]+)"', fast), re.findall(rb'boundary="([^"]+)"', slow)
    assert len(boundaries[0]) == len(boundaries[1]) == (0 if mail.html is None else 1)
    if boundaries[0]:  # the one random part: the multipart boundary
        fast = fast.replace(boundaries[0][0], boundaries[1][0])
    assert fast == slow


def test_a_digest_encoded_with_its_shared_body_matches_the_email_package() -> None:
    """Digests name the papers part they share with other subscribers' digests; wire_bytes
    encodes it once, and the bytes must not change for it (first message and cached ones)."""
    from paperfeed.bench.mail import URLS, _sample_sections
    from paperfeed.mail.render import render_digest

    for n in range(3):
        token = f"v1.token{n}"
        rendered = render_digest(email=f"r{n}@example.org", heading="Your daily papers", sections=_sample_sections(),
                                 urls=URLS, preferences_url=URLS.preferences(token), unsubscribe_url=URLS.unsubscribe(token))
        assert len(rendered.shared) == 2 and all(piece in (rendered.text + rendered.html) for piece in rendered.shared)
        mail = rendered.to(f"r{n}@example.org", message_id="<same@example.org>")
        fast = wire_bytes(mail, sender=SENDER, now=NOW)
        slow = to_bytes(build_message(mail, sender=SENDER, now=NOW))
        [fast_boundary], [slow_boundary] = re.findall(rb'boundary="([^"]+)"', fast), re.findall(rb'boundary="([^"]+)"', slow)
        assert fast.replace(fast_boundary, slow_boundary) == slow
