"""Mail templates: content, links, and hostile paper data rendered inert in both parts."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest

from paperfeed.mail.render import (
    DigestSection, paper_entry, render_confirmation, render_digest, render_sign_in, safe_url,
)
from paperfeed.mail.urls import SiteUrls
from paperfeed.models import Paper

URLS = SiteUrls("https://papers.example.org")
PREFS = URLS.preferences("v1.prefs.sig")
UNSUB = URLS.unsubscribe("v1.unsub.sig")

XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "</a><a href='javascript:alert(1)'>click</a>",
    "{{ 7*7 }} {% raw %}",
    "Title\r\nUnsubscribe: https://evil.example.com/\n\nClick here",
]


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _tags(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    return parser


def _digest(papers: list[Paper]):  # type: ignore[no-untyped-def]
    sections = [
        DigestSection("Trending", tuple(paper_entry(p, URLS) for p in papers[:1])),
        DigestSection("Saved search: diffusion", tuple(paper_entry(p, URLS) for p in papers[1:])),
        DigestSection("Empty sections are left out", ()),
    ]
    return render_digest(email="reader@example.org", heading="Your daily papers, Friday 27 November",
                         sections=sections, urls=URLS, preferences_url=PREFS, unsubscribe_url=UNSUB)


def test_a_digest_lists_its_papers_with_links_and_the_footer_links() -> None:
    papers = [
        Paper(title="Attention Is All You Need", id="1706.03762", abstract="The dominant sequence transduction models.",
              authors=["Ashish Vaswani", "Noam Shazeer", "Niki Parmar", "Jakob Uszkoreit", "Llion Jones",
                       "Aidan Gomez"]),
        Paper(title="An old one", id="hep-th/9901001", abstract="word " * 200, authors=[]),
    ]
    mail = _digest(papers)
    assert mail.subject == "Your daily papers, Friday 27 November: 2 new papers"
    for part in (mail.text, mail.html):
        assert "Attention Is All You Need" in part and "Saved search: diffusion" in part
        assert "https://papers.example.org/papers/1706.03762" in part
        assert "https://papers.example.org/papers/hep-th/9901001" in part
        assert PREFS in part and UNSUB in part and "Empty sections" not in part
        assert "Ashish Vaswani, Noam Shazeer, Niki Parmar, Jakob Uszkoreit, Llion Jones et al." in part
    assert "2 new papers since your last digest" in mail.text
    snippet_line = next(line for line in mail.text.splitlines() if line.strip().startswith("word word"))
    assert len(snippet_line.strip()) <= 320 and snippet_line.rstrip().endswith("…")
    hrefs = [dict(attrs)["href"] for tag, attrs in _tags(mail.html).tags if tag == "a"]
    assert hrefs == [URLS.home(), URLS.paper("1706.03762"), URLS.paper("hep-th/9901001"), PREFS, UNSUB]


@pytest.mark.parametrize("payload", XSS)
def test_hostile_titles_authors_abstracts_and_ids_render_inert(payload: str) -> None:
    paper = Paper(title=payload, id=payload, abstract=payload, authors=[payload, "Ada"])
    mail = _digest([paper, paper])
    tags = _tags(mail.html)
    assert {tag for tag, _ in tags.tags} <= {"html", "head", "meta", "title", "body", "div", "p", "a", "h1", "h2"}
    for tag, attrs in tags.tags:
        assert not [name for name, _ in attrs if name.startswith("on")], (tag, attrs)
        if tag == "a":
            assert (dict(attrs)["href"] or "").startswith("https://papers.example.org/"), attrs
    assert "<script" not in mail.html
    if "<" in payload:
        assert payload not in mail.html  # escaped, not pasted
    # Plain text: the payload stays one inert line; it cannot forge a footer line.
    lines = mail.text.splitlines()
    assert [line for line in lines if line.startswith("Unsubscribe:")] == [f"Unsubscribe: {UNSUB}"]
    if "{{" in payload:  # data is never evaluated as a template
        assert "{{ 7*7 }}" in mail.text and "{{ 7*7 }}" in mail.html


def test_a_hostile_paper_id_stays_a_path_on_the_site() -> None:
    for paper_id in ["javascript:alert(1)", "//evil.example.com/x", "../../admin", "a b?c#d"]:
        url = URLS.paper(paper_id)
        assert url.startswith("https://papers.example.org/papers/") and " " not in url and "?" not in url
        assert "#" not in url


def test_an_empty_digest_is_not_rendered() -> None:
    with pytest.raises(ValueError):
        render_digest(email="r@example.org", heading="Daily", sections=[DigestSection("Trending", ())], urls=URLS,
                      preferences_url=PREFS, unsubscribe_url=UNSUB)


def test_links_must_be_http() -> None:
    assert safe_url("https://papers.example.org/x") == "https://papers.example.org/x"
    for bad in ["javascript:alert(1)", "data:text/html,x", "https://x.org/a b", 'https://x.org/"onmouseover=1']:
        with pytest.raises(ValueError):
            safe_url(bad)


def test_confirmation_and_sign_in_mails() -> None:
    confirm_url = URLS.confirm("v1.body.sig")
    mail = render_confirmation(email="new@example.org", confirm_url=confirm_url, urls=URLS, valid_for=timedelta(days=7))
    assert mail.subject == "Confirm your paperfeed subscription"
    for part in (mail.text, mail.html):
        assert confirm_url in part and "new@example.org" in part and "7 days" in part and "ignore this mail" in part
    sign_in = render_sign_in(email="me@example.org", sign_in_url=URLS.sign_in("v1.a.b"), urls=URLS,
                             valid_for=timedelta(minutes=15))
    assert "https://papers.example.org/sign-in/v1.a.b" in sign_in.text and "15 minutes" in sign_in.html
    hostile = render_confirmation(email='"<b>x</b>"@example.org', confirm_url=confirm_url, urls=URLS,
                                  valid_for=timedelta(days=7))
    assert "<b>x</b>" not in hostile.html and "&lt;b&gt;x&lt;/b&gt;" in hostile.html
