"""The search box's query syntax, parsed. Pure: no I/O, no Tantivy import.

    knowledge distillation          free words, OR semantics, ranked by BM25
    "masked autoencoder" vision     a quoted phrase
    ti:transformer au:hinton        fields (ti, au, abs) apply to the next word or "phrase"
    abs:"contrastive loss"
    cat:cs.CL                       a category filter
    year:2023  year:2021..2025  year:..2020  year:2021..   inclusive year filters
    -survey  -"related work"        exclusion: only a leading `-` on a token
    +required                       must match

Field prefixes are case-insensitive and only the names above count, so pasted text
such as `BERT: Pre-training` stays text (an unknown `foo:bar` is the words foo, bar).
User text only ever reaches Tantivy as `\\w+` words inside double quotes, so no user
character can be read as Tantivy syntax; `AND`, `*`, brackets and the like are inert.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date

from paperfeed.errors import InvalidInput, QuerySyntaxError
from paperfeed.models import PaperFilter

MAX_QUERY_CHARS = 1000
MAX_CLAUSES = 64
YEAR_MIN, YEAR_MAX = 1000, 2999
TEXT_FIELDS = {"ti": "title", "au": "authors", "abs": "abstract"}
FILTER_FIELDS = ("cat", "year")
# Tantivy's tokenizers drop tokens of 40+ bytes (RemoveLongFilter).
_TANTIVY_MAX_TOKEN_BYTES = 40
# The Tantivy index keeps the abstract only inside `text` (title + abstract): a field of its
# own stemmed every abstract twice, 43% of keyword-indexing CPU (docs/search.md). So `abs:`
# matches the title too, here and on PostgreSQL (postgres_search.FIELD_WEIGHTS).
_TANTIVY_FIELDS = {"abstract": "text"}
_PREFIX = re.compile(r"([A-Za-z]+):")
_YEARS = re.compile(r"([0-9]{4})?(\.\.([0-9]{4})?)?")
# arXiv-shaped: cs.CL, hep-th, cond-mat.mes-hall, q-bio.NC; stored raw, so case is kept.
_CATEGORY = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*(?:\.[A-Za-z]+(?:-[A-Za-z]+)*)?")
_FIELD_HINT = 'Put a word or a quoted phrase right after the colon: ti:transformer, ti:"masked autoencoder".'


@dataclass(frozen=True, slots=True)
class Clause:
    """One piece of text to match. `field` is the index field ("title", "authors",
    "abstract") or None for the default fields; `text` is the user's words (case kept)
    joined by single spaces; `phrase` when quoted or when one token held several words
    (`pre-trained`); `exclude` for a leading `-`, `required` for a leading `+`."""

    field: str | None
    text: str
    phrase: bool
    exclude: bool
    required: bool = False


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A parsed search box: text clauses for the keyword index, filters for the rest."""

    clauses: list[Clause] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None

    @property
    def free_text(self) -> str:
        """The words a dense embedder should embed: every non-excluded clause's text,
        without field prefixes, categories or years."""
        return " ".join(c.text for c in self.clauses if not c.exclude)

    def has_constraints(self) -> bool:
        """Whether some clause must (or must not) match: a field, a + or a - word."""
        return any(c.field or c.required or c.exclude for c in self.clauses)

    def is_empty(self) -> bool:
        """Nothing to match and nothing to filter by: an empty search box."""
        return not self.clauses and not self.categories and self.year_from is None and self.year_to is None

    def to_tantivy(self) -> str:
        """A query string in Tantivy's grammar, or "" when there is no text to match.

        Fielded clauses are required (`au:hinton` means "by Hinton", not "rank Hinton
        higher"); free words and phrases stay optional (OR, BM25). Tantivy refuses a
        query whose clauses are all exclusions or empty (no token survives its
        tokenizer), so: only exclusions -> `* -"x"` (everything but x); no positive
        clause surely yields a token -> that first clause alone (it matches nothing,
        as the user's words would).
        """
        clauses = _without_stopwords(self.clauses)
        pieces = list(dict.fromkeys(_render(c) for c in clauses))
        positive = [c for c in clauses if not c.exclude]
        if not pieces:
            return ""
        if not positive:
            return " ".join(["*", *pieces])
        if not any(_indexable(c) for c in positive):
            return _render(positive[0])
        return " ".join(pieces)

    def filters(self, base: PaperFilter | None = None) -> PaperFilter:
        """`base` narrowed by this query's cat: and year:. What the query says wins:
        cat: replaces base.category and year: replaces base's whole date window (so
        `year:2021..` also clears base.date_to); has_code is kept from base."""
        base = base or PaperFilter()
        if len(self.categories) > 1:
            raise InvalidInput(
                f"Only one cat: per query is supported yet; got {', '.join(self.categories)}.",
                hint="Keep a single cat: term.",
                field="q",
            )
        changes: dict[str, object] = {}
        if self.categories:
            changes["category"] = self.categories[0]
        if self.year_from is not None or self.year_to is not None:
            changes["date_from"] = date(self.year_from, 1, 1) if self.year_from is not None else None
            changes["date_to"] = date(self.year_to, 12, 31) if self.year_to is not None else None
        return replace(base, **changes)


def plain_query(text: str) -> ParsedQuery:
    """The text as a bag of words with no syntax at all: for pasted passages, claims and
    benchmark queries, where a stray quote or colon is just punctuation."""
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"The query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}.",
            hint="Shorten the query.",
            field="q",
        )
    words = list(dict.fromkeys(_words(text)))
    return ParsedQuery(clauses=[Clause(None, word, phrase=False, exclude=False) for word in words])


def parse_query(text: str) -> ParsedQuery:
    """Parse the search box. Raises QuerySyntaxError (with a 0-based position) for
    malformed fields, years, categories or an unterminated quote, and InvalidInput
    when the query is over MAX_QUERY_CHARS characters or MAX_CLAUSES terms."""
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"The query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}.",
            hint="Shorten the query.",
            field="q",
        )
    parts = _Parts()
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
        else:
            pos = _token(text, pos, parts)
    return ParsedQuery(parts.clauses, parts.categories, parts.year_from, parts.year_to)


@dataclass
class _Parts:
    """What parsing has collected so far; counts terms against MAX_CLAUSES."""

    clauses: list[Clause] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    has_year: bool = False
    terms: int = 0

    def count(self) -> None:
        self.terms += 1
        if self.terms > MAX_CLAUSES:
            raise InvalidInput(
                f"The query has more than {MAX_CLAUSES} terms.",
                hint="Use fewer words, or quote a phrase.",
                field="q",
            )

    def add(self, words: list[str], *, fld: str | None, quoted: bool, modifier: str) -> None:
        if not words:
            return
        self.count()
        self.clauses.append(Clause(fld, " ".join(words), quoted or len(words) > 1,
                                   exclude=modifier == "-", required=modifier == "+"))


def _token(text: str, start: int, parts: _Parts) -> int:
    """Parse one token at `start` (not whitespace): [-|+][field:](word|"phrase").
    Returns where the token ends."""
    pos, modifier = start, ""
    if text[pos] in "-+":
        modifier, pos = text[pos], pos + 1
        if pos == len(text) or text[pos].isspace():
            return pos  # a lone - or + means nothing
    prefix = _PREFIX.match(text, pos)
    name = prefix.group(1).lower() if prefix else ""
    value = prefix.end() if prefix else pos
    if name in FILTER_FIELDS:
        return _filter(text, start, pos, value, name, modifier, parts)
    if name in TEXT_FIELDS:
        if value == len(text) or text[value].isspace():
            raise QuerySyntaxError(f"{name}: has nothing after it", position=pos, hint=_FIELD_HINT)
        words, quoted, end = _value(text, value)
        if not words:
            raise QuerySyntaxError(f"{name}: has no words after it", position=pos, hint=_FIELD_HINT)
        parts.add(words, fld=TEXT_FIELDS[name], quoted=quoted, modifier=modifier)
        return end
    if text[pos] == '"':
        words, _, end = _value(text, pos)
        parts.add(words, fld=None, quoted=True, modifier=modifier)
        return end
    end = _bare_end(text, pos)
    # Unknown `foo:bar` is text; the colon separates words rather than joining a phrase.
    for piece in text[pos:end].split(":"):
        parts.add(_words(piece), fld=None, quoted=False, modifier=modifier)
    return end


def _value(text: str, pos: int) -> tuple[list[str], bool, int]:
    """A quoted phrase or a bare word at `pos`: (words, quoted, end)."""
    if text[pos] != '"':
        end = _bare_end(text, pos)
        return _words(text[pos:end]), False, end
    close = text.find('"', pos + 1)
    if close < 0:
        raise QuerySyntaxError("Unterminated quote", position=pos, hint='Close the phrase with another ".')
    return _words(text[pos + 1:close]), True, close + 1


def _bare_end(text: str, pos: int) -> int:
    """A bare word runs to whitespace or a quote (a quote always starts a phrase)."""
    end = pos
    while end < len(text) and not text[end].isspace() and text[end] != '"':
        end += 1
    return end


def _filter(text: str, start: int, pos: int, value: int, name: str, modifier: str, parts: _Parts) -> int:
    """cat: or year: at `pos` (its value at `value`); they become filters, not text."""
    end = value
    while end < len(text) and not text[end].isspace():
        end += 1
    if modifier == "-":
        raise QuerySyntaxError(f"-{name}: (excluding by {name}) is not supported", position=start,
                               hint=f"Drop the - before {name}:.")
    if end == value:
        example = "cat:cs.CL" if name == "cat" else "year:2023 or year:2021..2025"
        raise QuerySyntaxError(f"{name}: has nothing after it", position=pos, hint=f"Write it like {example}.")
    parts.count()
    if name == "cat":
        _category(text[value:end], value, parts)
    else:
        if parts.has_year:
            raise QuerySyntaxError("Only one year: per query", position=pos,
                                   hint="Use one range, e.g. year:2021..2025.")
        parts.year_from, parts.year_to = _years(text[value:end], value)
        parts.has_year = True
    return end


def _category(token: str, position: int, parts: _Parts) -> None:
    if not _CATEGORY.fullmatch(token):
        raise QuerySyntaxError(f"'{token}' is not a category", position=position,
                               hint="Use an arXiv category like cat:cs.CL or cat:hep-th.")
    if token not in parts.categories:
        parts.categories.append(token)


def _years(token: str, position: int) -> tuple[int | None, int | None]:
    """`2023`, `2021..2025`, `..2020` or `2021..` -> (from, to), inclusive."""
    match = _YEARS.fullmatch(token)
    if not match or token == "..":
        raise QuerySyntaxError(f"'{token}' is not a year or year range", position=position,
                               hint="Write year:2023, year:2021..2025, year:..2020 or year:2021..")
    low, is_range, high = match.group(1), match.group(2), match.group(3)
    for number, at in ((low, position), (high, position + len(low or "") + 2)):
        if number is not None and not YEAR_MIN <= int(number) <= YEAR_MAX:
            raise QuerySyntaxError(f"Year {number} is out of range", position=at,
                                   hint=f"Years go from {YEAR_MIN} to {YEAR_MAX}.")
    year_from = int(low) if low else None
    year_to = (int(high) if high else None) if is_range else year_from
    if year_from is not None and year_to is not None and year_from > year_to:
        raise QuerySyntaxError(f"Year range {token} is reversed", position=position,
                               hint=f"Write year:{year_to}..{year_from}.")
    return year_from, year_to


def _is_word_char(ch: str) -> bool:
    """`\\w` (letters, digits, `_`) plus combining marks, so `é` typed as e + U+0301 or
    Devanagari vowel signs stay inside their word as they do in the indexed text."""
    return ch.isalnum() or ch == "_" or unicodedata.category(ch).startswith("M")


def _words(text: str) -> list[str]:
    """The runs of word characters in `text`; everything else only separates them."""
    words: list[str] = []
    current: list[str] = []
    for ch in text + " ":
        if _is_word_char(ch):
            current.append(ch)
        elif current:
            words.append("".join(current))
            current = []
    return words


# Dropped from free words only (never from phrases, fields or +/- words): on the train
# and dev splits this was neutral on SciFact and +0.006 nDCG@10 on NFCorpus (docs/search.md).
STOPWORDS = frozenset(
    "a an and are as at be been being but by can could did do does for from had has have how "
    "if in into is it its may might no not of on or our such than that the their them then "
    "there these they this those to was we were what when where which while who whom whose "
    "why will with would".split()
)


def _without_stopwords(clauses: list[Clause]) -> list[Clause]:
    """Free single stop-words add noise to BM25's OR query; keep them if nothing else is left."""
    kept = [
        c for c in clauses
        if c.field or c.phrase or c.exclude or c.required or c.text.lower() not in STOPWORDS
    ]
    return kept if any(not c.exclude for c in kept) else clauses


def _render(clause: Clause) -> str:
    """One clause as Tantivy text: [+|-][field:]"words". The words hold no quote or
    backslash, the only characters that mean anything inside a Tantivy phrase."""
    occur = "-" if clause.exclude else "+" if (clause.required or clause.field) else ""
    prefix = f"{_TANTIVY_FIELDS.get(clause.field, clause.field)}:" if clause.field else ""
    return f'{occur}{prefix}"{clause.text.lower()}"'


def _indexable(clause: Clause) -> bool:
    """Whether Tantivy's tokenizer surely keeps a token of this clause: a word with a
    letter or digit (Python's isalnum chars are all alphanumeric to Rust too) that is
    shorter than Tantivy's long-token limit. Tokens never span our spaces, so a short
    word can only yield short tokens."""
    return any(
        any(ch.isalnum() for ch in word) and len(word.encode()) < _TANTIVY_MAX_TOKEN_BYTES
        for word in clause.text.lower().split(" ")
    )
