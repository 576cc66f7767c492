"""BibTeX for the paper page's "cite" box."""

from __future__ import annotations

import re
import unicodedata

from paperfeed.models import Paper

_SPECIAL = re.compile(r"([&%$#_{}])")
_KEY_WORD = re.compile(r"[A-Za-z]+")


def _escape(text: str) -> str:
    """Escape characters BibTeX/LaTeX would read as syntax; keep the text readable."""
    text = text.replace("\\", r"\textbackslash{}")
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _ascii(text: str) -> str:
    """Letters without their accents (Noël -> Noel): BibTeX keys must be plain ASCII."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def cite_key(paper: Paper) -> str:
    """`surname` + year + first title word, e.g. `vaswani2017attention`; `paper` when unknown."""
    names = paper.authors[0].split() if paper.authors else []
    surname = _KEY_WORD.findall(_ascii(names[-1])) if names else []
    first_word = next((w for w in _KEY_WORD.findall(_ascii(paper.title)) if len(w) > 3), "")
    year = str(paper.published.year) if paper.published else ""
    key = ("".join(surname) + year + first_word).lower()
    return key or "paper"


def bibtex(paper: Paper) -> str:
    fields: list[tuple[str, str]] = [("title", "{" + _escape(paper.title) + "}")]
    if paper.authors:
        fields.append(("author", " and ".join(_escape(a) for a in paper.authors)))
    if paper.published:
        fields.append(("year", str(paper.published.year)))
    if paper.arxiv_id:
        fields += [("eprint", paper.arxiv_id), ("archivePrefix", "arXiv")]
        if paper.categories:
            fields.append(("primaryClass", paper.categories[0]))
    if paper.doi:
        fields.append(("doi", paper.doi))
    if paper.journal_ref:
        fields.append(("journal", _escape(paper.journal_ref)))
    url = paper.links_of("abs")[:1] or paper.links_of("doi")[:1]
    if url:
        fields.append(("url", url[0]))
    kind = "article" if paper.journal_ref else "misc"
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{kind}{{{cite_key(paper)},\n{body}\n}}"
