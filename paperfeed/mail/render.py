"""Mail bodies from plain data, through Jinja2 templates in mail/templates/ (an HTML and a
plain-text twin of each mail).

Escaping: HTML templates autoescape every value. Text from papers is also made one line at
the boundary (`paper_entry`), so a title with line breaks cannot forge lines such as a fake
"Unsubscribe:" in the plain-text part, and every link passes `safe_url` (http/https only),
so no data can become a `javascript:` link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from paperfeed.mail.message import OutgoingMail, UnsubscribeLinks, one_line
from paperfeed.mail.urls import SiteUrls
from paperfeed.models import Paper

TEMPLATES = Path(__file__).resolve().parent / "templates"
SITE_NAME = "paperfeed"
TITLE_CHARS = 300
SNIPPET_CHARS = 320
AUTHORS_SHOWN = 5
_UNSAFE_IN_URL = re.compile(r"[\s\"'<>\\]")  # \s is str.isspace's set


@dataclass(frozen=True)
class PaperEntry:
    """One paper as a mail shows it; build it with `paper_entry`."""

    title: str
    authors: str  # already formatted: "A, B, C et al."
    url: str
    snippet: str


@dataclass(frozen=True)
class DigestSection:
    heading: str  # e.g. "Trending", "Saved search: diffusion", "New from Ada Lovelace"
    papers: tuple[PaperEntry, ...]


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    shared: tuple[str, ...] = ()  # see OutgoingMail.shared

    def to(self, address: str, *, unsubscribe: UnsubscribeLinks | None = None,
           message_id: str | None = None) -> OutgoingMail:
        return OutgoingMail(to=address, subject=self.subject, text=self.text, html=self.html,
                            unsubscribe=unsubscribe, message_id=message_id, shared=self.shared)


def paper_entry(paper: Paper, urls: SiteUrls) -> PaperEntry:
    authors = [one_line(name, 100) for name in paper.authors[:AUTHORS_SHOWN]]
    more = " et al." if len(paper.authors) > AUTHORS_SHOWN else ""
    return PaperEntry(
        title=one_line(paper.title, TITLE_CHARS) or paper.id,
        authors=", ".join(name for name in authors if name) + more,
        url=urls.paper(paper.id),
        snippet=one_line(paper.abstract, SNIPPET_CHARS),
    )


def render_confirmation(*, email: str, confirm_url: str, urls: SiteUrls, valid_for: timedelta) -> RenderedMail:
    return _render("confirm", subject=f"Confirm your {SITE_NAME} subscription", email=email,
                   confirm_url=confirm_url, valid_for=_duration(valid_for), urls=urls)


def render_sign_in(*, email: str, sign_in_url: str, urls: SiteUrls, valid_for: timedelta) -> RenderedMail:
    return _render("sign_in", subject=f"Sign in to {SITE_NAME}", email=email,
                   sign_in_url=sign_in_url, valid_for=_duration(valid_for), urls=urls)


def render_digest(
    *,
    email: str,
    heading: str,
    sections: Sequence[DigestSection],
    urls: SiteUrls,
    preferences_url: str,
    unsubscribe_url: str,
) -> RenderedMail:
    """`heading` names the period, e.g. "Your daily papers, Friday 27 November"."""
    count = sum(len(section.papers) for section in sections)
    if count == 0:
        raise ValueError("an empty digest is skipped, not rendered")
    heading = one_line(heading, 120)
    subject = f"{heading}: {count} new paper{'' if count == 1 else 's'}"
    text_body, html_body = _digest_body(heading, tuple(s for s in sections if s.papers))
    env = _environment()
    context = dict(site_name=SITE_NAME, home_url=urls.home(), title=subject, email=email,
                   preferences_url=preferences_url, unsubscribe_url=unsubscribe_url)
    return RenderedMail(subject=subject, text=env.get_template("digest.txt").render(context, body=text_body),
                        html=env.get_template("digest.html").render(context, body=Markup(html_body)),
                        shared=(text_body, html_body))


@lru_cache(maxsize=256)
def _digest_body(heading: str, sections: tuple[DigestSection, ...]) -> tuple[str, str]:
    """The papers part of a digest (text, HTML), the same for every subscriber who gets the
    same papers in the same period: rendered once per distinct content, not per subscriber
    (a run of 100,000 digests spent a third of its CPU here). Bounded, so a run where
    everyone's content differs holds at most 256 bodies."""
    env = _environment()
    context = dict(heading=heading, sections=sections, paper_count=sum(len(s.papers) for s in sections))
    return env.get_template("digest_body.txt").render(context), env.get_template("digest_body.html").render(context)


def _render(name: str, *, subject: str, urls: SiteUrls, **context: Any) -> RenderedMail:
    env = _environment()
    context.update(site_name=SITE_NAME, home_url=urls.home(), title=subject)
    return RenderedMail(
        subject=subject,
        text=env.get_template(f"{name}.txt").render(context),
        html=env.get_template(f"{name}.html").render(context),
    )


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["safe_url"] = safe_url
    return env


def safe_url(url: str) -> str:
    """Links in mail are http(s) with no whitespace or quotes; anything else is a bug in the
    caller, refused rather than rendered."""
    if not url.startswith(("https://", "http://")) or _UNSAFE_IN_URL.search(url):
        raise ValueError(f"refusing to put {url!r} in a mail link")
    return url


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"{days} day{'s' if days != 1 else ''}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
