"""Collections in and out: export as BibTeX or JSON, import from BibTeX.

Import reads each entry's arXiv id (eprint, arxiv, or an arxiv.org URL), DOI or title and
matches it to a stored paper the way search does (find_id / find_matches); entries that
match nothing are reported back, not invented. The parser handles what reference managers
write: @type{key, field = {nested {braces}} or "quoted" or bare, ...}; @comment, @string
and @preamble are skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from paperfeed.engine import SearchEngine
from paperfeed.errors import InvalidInput
from paperfeed.identity import normalise_doi, normalise_title
from paperfeed.models import Paper
from paperfeed.store.community import NO_COUNTS, CardCounts, Collection
from paperfeed.web.cite import bibtex

MAX_IMPORT_ENTRIES = 500
_ENTRY_START = re.compile(r"@([A-Za-z]+)\s*[{(]")
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([^\s}\"v]+(?:v\d+)?)", re.I)


@dataclass(frozen=True)
class ImportResult:
    added: list[str]  # paper ids
    unmatched: list[str]  # entry keys (or titles) that matched no stored paper


def export_bibtex(papers: list[Paper]) -> str:
    return "\n".join(bibtex(p) for p in papers)


def export_json(collection: Collection, items: list[tuple[Paper, str]], counts: Mapping[str, CardCounts]) -> str:
    from paperfeed.web.views import paper_dict

    data: dict[str, Any] = {"id": collection.id, "name": collection.name, "public": collection.public,
                            "created_at": collection.created_at.isoformat(),
                            "papers": [{**paper_dict(p, counts=counts.get(p.id, NO_COUNTS)), "note": note}
                                       for p, note in items]}
    return json.dumps(data, ensure_ascii=False, indent=2)


def parse_bibtex(text: str) -> list[dict[str, str]]:
    """Entries as {field: value} with `_key` and `_type`; fields lower-cased."""
    entries: list[dict[str, str]] = []
    pos = 0
    while (match := _ENTRY_START.search(text, pos)) is not None:
        kind = match.group(1).lower()
        body, pos = _balanced(text, match.end() - 1)
        if kind in ("comment", "string", "preamble"):
            continue
        key, _, rest = body.partition(",")
        entry = {"_type": kind, "_key": key.strip()}
        entry.update(_fields(rest))
        entries.append(entry)
        if len(entries) > MAX_IMPORT_ENTRIES:
            raise InvalidInput(f"At most {MAX_IMPORT_ENTRIES} entries per import.", field="bibtex",
                               hint="Split the file.")
    return entries


def _balanced(text: str, start: int) -> tuple[str, int]:
    """The text inside the bracket at `start` and the index after its match."""
    close = "}" if text[start] == "{" else ")"
    depth, i = 0, start
    while i < len(text):
        ch = text[i]
        if ch in "{(" and (ch == text[start] or ch == "{"):
            depth += 1
        elif ch in "})" and (ch == close or ch == "}"):
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    raise InvalidInput("The BibTeX ends inside an entry (unbalanced braces).", field="bibtex",
                       hint="Check the file is complete.")


def _fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    i = 0
    while (eq := text.find("=", i)) != -1:
        name = text[i:eq].strip().strip(",").strip().lower()
        j = eq + 1
        while j < len(text) and text[j].isspace():
            j += 1
        if j < len(text) and text[j] == "{":
            value, j = _balanced(text, j)
        elif j < len(text) and text[j] == '"':
            end = text.find('"', j + 1)
            value, j = text[j + 1 : end if end != -1 else len(text)], (end + 1 if end != -1 else len(text))
        else:
            end = text.find(",", j)
            value, j = text[j : end if end != -1 else len(text)], (end if end != -1 else len(text))
        fields[name] = " ".join(value.replace("{", "").replace("}", "").split())
        i = j
    return fields


def match_entry(engine: SearchEngine, entry: dict[str, str]) -> str | None:
    """The stored paper an entry names, by arXiv id, then DOI, then exact title."""
    from paperfeed.sources.arxiv_atom import parse_arxiv_id

    candidates = [entry.get("eprint", ""), entry.get("arxiv", "")]
    candidates += _ARXIV_URL.findall(entry.get("url", "") + " " + entry.get("howpublished", ""))
    for raw in candidates:
        try:
            arxiv_id, _ = parse_arxiv_id(raw) if raw else (None, None)
        except InvalidInput:
            continue
        if arxiv_id and (found := engine.store.find_id(arxiv_id=arxiv_id)):
            return found
    doi = normalise_doi(entry.get("doi"))
    if doi:
        matches = engine.store.find_matches(arxiv_ids=[], dois=[doi], title_keys=[])
        if matches:
            return matches[0].paper.id
    title = entry.get("title", "")
    return engine.store.find_id(title=normalise_title(title)) if title else None


def import_bibtex(engine: SearchEngine, text: str) -> tuple[list[str], list[str]]:
    """(paper ids matched, entry keys unmatched)."""
    matched, unmatched = [], []
    for entry in parse_bibtex(text):
        found = match_entry(engine, entry)
        if found:
            matched.append(found)
        else:
            unmatched.append(entry["_key"] or entry.get("title", "?"))
    return list(dict.fromkeys(matched)), unmatched
