"""Highlighting the searched words in titles and snippets, and choosing the snippet.

Words are matched loosely, by a crude stem prefix (`models` marks `model` and `modelling`),
as the keyword index stems too; everything else is escaped."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from paperfeed.errors import InvalidInput
from paperfeed.query import STOPWORDS, parse_query

SNIPPET_CHARS = 320
_SUFFIXES = ("ing", "ed", "es", "s", "ly")
_WORD = re.compile(r"\w+")


def query_terms(query: str) -> list[str]:
    """Lower-cased stems of the words a query looks for in titles and abstracts."""
    try:
        parsed = parse_query(query)
    except InvalidInput:
        return []
    terms: list[str] = []
    for clause in parsed.clauses:
        if clause.exclude or clause.field == "authors":
            continue
        for word in _WORD.findall(clause.text.lower()):
            if len(word) > 1 and word not in STOPWORDS:
                terms.append(_stem(word))
    return list(dict.fromkeys(terms))


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _pattern(terms: list[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\w*", re.IGNORECASE)


def highlight(text: str, terms: list[str]) -> Markup:
    """`text` escaped, with each match of `terms` wrapped in <mark>."""
    pattern = _pattern(terms)
    if pattern is None:
        return escape(text)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out += [str(escape(text[last : match.start()])), "<mark>", str(escape(match.group())), "</mark>"]
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def snippet(text: str, terms: list[str], *, chars: int = SNIPPET_CHARS) -> str:
    """About `chars` characters of `text`, starting near the first match when that lies
    beyond the first few lines, cut at word boundaries."""
    text = " ".join(text.split())
    start = 0
    pattern = _pattern(terms)
    match = pattern.search(text) if pattern else None
    if match and match.start() > chars // 2:
        start = text.rfind(" ", 0, match.start() - 60) + 1
    piece = text[start:]
    if len(piece) > chars:
        cut = piece.rfind(" ", 0, chars)
        piece = piece[: cut if cut > 0 else chars].rstrip(",;: ") + " …"
    return ("… " if start else "") + piece
