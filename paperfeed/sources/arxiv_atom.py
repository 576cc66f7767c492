"""Pure parser for arXiv API (export.arxiv.org/api/query) Atom responses.

No I/O happens here so the parsing rules can be tested on recorded
documents; `arxiv_api` does the HTTP. The feed is Atom 1.0 with OpenSearch
paging counters and arXiv extension elements. arXiv reports query errors as a
one-entry feed whose entry id is `http://arxiv.org/api/errors#...`; that is
turned into `ArxivApiError` (a `SourceError`) so callers do not mistake it for
a paper. One bad entry becomes a `Rejected` and the rest still parse.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone

from paperfeed import identity
from paperfeed.errors import InvalidInput, SourceError
from paperfeed.models import Link, Paper, Rejected, Version

SOURCE = "arxiv-api"
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
    "arxiv": "http://arxiv.org/schemas/atom",
}
_FEED_TAG = f"{{{NS['atom']}}}feed"
_ID_HINT = f"Use an arXiv id like {identity.ARXIV_ID_EXAMPLES}."

_ERROR_ID = re.compile(r"^https?://arxiv\.org/api/errors", re.IGNORECASE)


class ArxivApiError(SourceError):
    """arXiv answered with its error feed (bad query or id): retrying won't help."""


@dataclass(frozen=True)
class FeedPage:
    """One API response: OpenSearch counters plus the parsed entries in order."""

    total_results: int
    start_index: int
    items_per_page: int
    items: list[Paper | Rejected]


class _BadEntry(Exception):
    """Internal: one entry is unusable; carries the Rejected fields."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def parse_arxiv_id(text: str) -> tuple[str, int | None]:
    """`identity.parse_arxiv_id` for user input (submit-by-id, the search box): any common
    spelling, incl. abs/pdf URLs; InvalidInput naming the field when it is not an id."""
    try:
        return identity.parse_arxiv_id(text)
    except identity.NotAnArxivId:
        raise InvalidInput(f"'{text}' is not an arXiv id.", hint=_ID_HINT, field="arxiv_id") from None


def parse_feed(xml_bytes: bytes) -> FeedPage:
    """Parse one API response; raise SourceError if it is not a usable feed."""
    root = _parse_root(xml_bytes)
    entries = root.findall("atom:entry", NS)
    _raise_if_error_feed(entries)
    items = [_entry_or_rejected(entry, n) for n, entry in enumerate(entries, start=1)]
    return FeedPage(
        total_results=_counter(root, "totalResults"),
        start_index=_counter(root, "startIndex"),
        items_per_page=_counter(root, "itemsPerPage"),
        items=items,
    )


def _parse_root(xml_bytes: bytes) -> ET.Element:
    """Parse and check the root; arXiv never sends a DTD, so refuse entity tricks."""
    if b"<!DOCTYPE" in xml_bytes or b"<!ENTITY" in xml_bytes:
        raise SourceError("arXiv response contains a DTD; refusing to parse it.")
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as exc:
        snippet = xml_bytes[:80].decode("utf-8", "replace").strip()
        raise SourceError(
            f"arXiv response is not valid XML ({exc}); it starts with {snippet!r}.",
            hint="The page may be truncated or a throttling notice; retry later.",
        ) from exc
    if root.tag != _FEED_TAG:
        raise SourceError(f"arXiv response is not an Atom feed (root element {root.tag!r}).")
    return root


def _raise_if_error_feed(entries: list[ET.Element]) -> None:
    for entry in entries:
        if _ERROR_ID.match(_text(entry, "atom:id")):
            message = _text(entry, "atom:summary") or _text(entry, "atom:id")
            raise ArxivApiError(
                f"arXiv API error: {message}",
                hint="Check the query or the arXiv ids sent to the API.",
            )


def _counter(root: ET.Element, name: str) -> int:
    raw = _text(root, f"opensearch:{name}")
    if not raw.isdigit():
        raise SourceError(f"arXiv feed has no usable opensearch:{name} (got {raw!r}).")
    return int(raw)


def _entry_or_rejected(entry: ET.Element, n: int) -> Paper | Rejected:
    raw_id = _text(entry, "atom:id")
    try:
        return _entry_to_paper(entry)
    except _BadEntry as bad:
        reason = f"{bad.reason} (id {raw_id})" if raw_id else bad.reason
        return Rejected(where=f"entry {n}", field=bad.field, reason=reason)


def _entry_to_paper(entry: ET.Element) -> Paper:
    """Map one <entry> to a Paper; raise _BadEntry naming the first bad field."""
    arxiv_id, version = _entry_id(entry)
    title = _collapse(_text(entry, "atom:title"))
    if not title:
        raise _BadEntry("title", "missing title")
    published = _date(entry, "published", required=True)
    updated = _date(entry, "updated", required=False)
    doi = _doi(entry)
    return Paper(
        title=title,
        abstract=_collapse(_text(entry, "atom:summary")),
        authors=[_collapse(_text(a, "atom:name")) for a in entry.findall("atom:author", NS)],
        categories=_categories(entry),
        arxiv_id=arxiv_id,
        arxiv_version=version,
        versions=_versions(version, published, updated),
        doi=doi,
        published=published,
        updated=updated,
        links=_links(arxiv_id, doi),
        comments=_collapse(_text(entry, "arxiv:comment")),
        journal_ref=_collapse(_text(entry, "arxiv:journal_ref")) or None,
        source=SOURCE,
        source_id=f"{arxiv_id}v{version}" if version else arxiv_id,
        extra=_affiliations(entry),
    )


def _entry_id(entry: ET.Element) -> tuple[str, int | None]:
    raw = _text(entry, "atom:id")
    if not raw:
        raise _BadEntry("id", "missing id")
    try:
        return parse_arxiv_id(raw)
    except InvalidInput:
        raise _BadEntry("id", f"not an arXiv abs URL: {raw!r}") from None


def _date(entry: ET.Element, name: str, *, required: bool) -> datetime | None:
    """Atom dates are RFC 3339; normalise to aware UTC (naive means UTC)."""
    raw = _text(entry, f"atom:{name}")
    if not raw:
        if required:
            raise _BadEntry(name, f"missing {name} date")
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _BadEntry(name, f"unparseable date {raw!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _versions(version: int | None, published: datetime | None,
              updated: datetime | None) -> list[Version]:
    """The API only dates v1 (published) and the current version (updated)."""
    if version is None:
        return []
    versions = [Version(v) for v in range(1, version + 1)]
    versions[0] = Version(1, published)
    if version > 1:
        versions[-1] = Version(version, updated)
    return versions


def _categories(entry: ET.Element) -> list[str]:
    primary = entry.find("arxiv:primary_category", NS)
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [c.get("term", "") for c in entry.findall("atom:category", NS)]
    seen: dict[str, None] = {}
    for term in terms:
        if term.strip():
            seen.setdefault(term.strip(), None)
    return list(seen)


def _doi(entry: ET.Element) -> str | None:
    """arxiv:doi may hold several DOIs separated by spaces; keep the first."""
    raw = _text(entry, "arxiv:doi")
    if not raw:
        for link in entry.findall("atom:link", NS):
            if link.get("title") == "doi":
                raw = link.get("href", "")
    raw = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", "", raw.strip(), flags=re.I)
    first = raw.split()[0] if raw.split() else ""
    return first if first.startswith("10.") else None


def _links(arxiv_id: str, doi: str | None) -> list[Link]:
    """Canonical unversioned https links, so they match other sources' links."""
    links = [
        Link("abs", f"https://arxiv.org/abs/{arxiv_id}"),
        Link("pdf", f"https://arxiv.org/pdf/{arxiv_id}"),
    ]
    if doi:
        links.append(Link("doi", f"https://doi.org/{doi}"))
    return links


def _affiliations(entry: ET.Element) -> dict[str, object]:
    """Per-author affiliations aligned with `authors`; omitted when none given."""
    per_author = [
        [_collapse(a.text or "") for a in author.findall("arxiv:affiliation", NS)]
        for author in entry.findall("atom:author", NS)
    ]
    return {"affiliations": per_author} if any(per_author) else {}


def _text(element: ET.Element, path: str) -> str:
    found = element.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def _collapse(text: str) -> str:
    """arXiv hard-wraps titles and abstracts; join to single spaces."""
    return " ".join(text.split())
