"""How a paper is recognised: stable ids and the normalised-title key.

Dedup rules live here so ingest and every store agree on them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

from paperfeed.models import Paper

# arXiv ids. New style (since 2007-04): YYMM.NNNN (to 2014) or YYMM.NNNNN, month 01-12.
# Old style: archive[.SUBJ]/YYMMNNN, e.g. hep-th/9901001, math.GT/0309136.
_NEW_ARXIV_ID = r"(?P<new>\d{2}(?:0[1-9]|1[0-2])\.\d{4,5})"
_OLD_ARXIV_ID = r"(?P<old>(?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.[A-Z]{2})?/\d{2}(?:0[1-9]|1[0-2])\d{3})"
_ARXIV_ID = re.compile(
    r"(?:(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/|arxiv:)?"
    rf"(?:{_NEW_ARXIV_ID}|{_OLD_ARXIV_ID})(?:v(?P<version>[1-9]\d*))?(?:\.pdf)?/?",
    re.IGNORECASE,
)
ARXIV_ID_EXAMPLES = "2401.01234, 2401.01234v2, arXiv:2401.01234 or hep-th/9901001"
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_LATEX_MARKUP = re.compile(r"[\\{}$^_]")


class NotAnArxivId(ValueError):
    """The text is not an arXiv id; callers turn it into their own error (a rejected
    record's field, a 4xx naming the parameter)."""


def parse_arxiv_id(text: str) -> tuple[str, int | None]:
    """(id, version or None) from any common spelling of an arXiv id: bare
    ("2401.01234v2"), prefixed ("arXiv:2401.01234"), or an abs/pdf URL. Old ids lose their
    subject class ("math.GT/0309136" -> "math/0309136"), arXiv's canonical form, so the
    same paper gets the same id from every source. The one arXiv-id parser: every source
    and the search box use it."""
    match = _ARXIV_ID.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise NotAnArxivId(f"{str(text)[:100]!r} is not an arXiv id (expected e.g. {ARXIV_ID_EXAMPLES})")
    version = int(match["version"]) if match["version"] else None
    if match["new"]:
        return match["new"], version
    return f"{match['archive'].lower()}/{match['old'].rsplit('/', 1)[1]}", version


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
