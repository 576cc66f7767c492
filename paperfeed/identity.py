"""How a paper is recognised: stable ids and the normalised-title key.

Dedup rules live here so ingest and every store agree on them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

from paperfeed.models import Paper

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_LATEX_MARKUP = re.compile(r"[\\{}$^_]")


def normalise_title(title: str) -> str:
    """Lower-case ASCII words only: 'BERT: Pre-training of  Deep...' -> 'bert pre training of deep'."""
    if title.isascii():  # most titles: nothing to fold; the regex below drops the markup too
        return _NON_ALNUM.sub(" ", title.lower()).strip()  # one space per run already
    folded = unicodedata.normalize("NFKD", _LATEX_MARKUP.sub(" ", title))
    ascii_only = folded.encode("ascii", "ignore").decode("ascii").lower()
    return _NON_ALNUM.sub(" ", ascii_only).strip()


def _first_author_key(authors: list[str]) -> str:
    if not authors:
        return ""
    words = normalise_title(authors[0]).split()
    return words[-1] if words else ""


def title_key(paper: Paper) -> str:
    """Normalised title plus the first author's surname: the fallback dedup key."""
    return _title_key(paper.title, paper.authors[0] if paper.authors else "")


@lru_cache(maxsize=65536)
def _title_key(title: str, first_author: str) -> str:
    # Cached: ingest asks for the same key several times per record (lookup, merge, write).
    return f"{normalise_title(title)}|{_first_author_key([first_author] if first_author else [])}"


def normalise_doi(doi: str | None) -> str | None:
    if not doi:
        return None
    cleaned = doi.strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if cleaned.startswith(prefix):
            cleaned = cleaned[len(prefix) :]
    return cleaned or None


def derive_id(paper: Paper) -> str:
    """The stable id used in URLs: the source's own id if it set one, else the arXiv id,
    else the DOI, else a short hash of the title key (stable across re-ingests)."""
    if paper.id:
        return paper.id
    if paper.arxiv_id:
        return paper.arxiv_id
    if paper.doi:
        return "doi:" + paper.doi
    digest = hashlib.sha1(title_key(paper).encode("utf-8")).hexdigest()
    return "pf-" + digest[:12]
