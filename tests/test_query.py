"""The search-box syntax: parsing, the exact Tantivy text, error positions, filters,
and a seeded fuzz loop proving every output parses in a real Tantivy index."""

from __future__ import annotations

import random
import re
from datetime import date
from pathlib import Path

import pytest
import tantivy

from paperfeed.errors import InvalidInput, QuerySyntaxError
from paperfeed.index.keyword import _schema
from paperfeed.models import PaperFilter
from paperfeed.query import MAX_CLAUSES, MAX_QUERY_CHARS, Clause, ParsedQuery, parse_query

C = Clause


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        ("", []),
        ("   \t\n ", []),
        ("knowledge distillation", [C(None, "knowledge", False, False), C(None, "distillation", False, False)]),
        ('"masked autoencoder" vision', [C(None, "masked autoencoder", True, False), C(None, "vision", False, False)]),
        ('"vision"', [C(None, "vision", True, False)]),
        ("ti:transformer", [C("title", "transformer", False, False)]),
        ("TI:Transformer Au:Hinton", [C("title", "Transformer", False, False), C("authors", "Hinton", False, False)]),
        ('abs:"contrastive loss"', [C("abstract", "contrastive loss", True, False)]),
        ("ti:masked autoencoder", [C("title", "masked", False, False), C(None, "autoencoder", False, False)]),
        ("ti:pre-trained", [C("title", "pre trained", True, False)]),
        ("ti:foo:bar", [C("title", "foo bar", True, False)]),
        ("-survey", [C(None, "survey", False, True)]),
        ('-"related work"', [C(None, "related work", True, True)]),
        ("-ti:survey", [C("title", "survey", False, True)]),
        ("+required", [C(None, "required", False, False, required=True)]),
        ("+ti:x", [C("title", "x", False, False, required=True)]),
        ("pre-trained", [C(None, "pre trained", True, False)]),
        ("-pre-trained", [C(None, "pre trained", True, True)]),
        ("--x", [C(None, "x", False, True)]),
        ("a - b + c", [C(None, "a", False, False), C(None, "b", False, False), C(None, "c", False, False)]),
        ("-", []),
        ("+", []),
        ('-""', []),
        ('""', []),
        ('"!!!"', []),
        ("***", []),
        ("BERT: Pre-training", [C(None, "BERT", False, False), C(None, "Pre training", True, False)]),
        ("foo:bar", [C(None, "foo", False, False), C(None, "bar", False, False)]),
        ("title:x", [C(None, "title", False, False), C(None, "x", False, False)]),  # only ti/au/abs count
        ('foo:"a b"', [C(None, "foo", False, False), C(None, "a b", True, False)]),
        ('"a "b" c"', [C(None, "a", True, False), C(None, "b", False, False), C(None, "c", True, False)]),
        ('x"y z"', [C(None, "x", False, False), C(None, "y z", True, False)]),
        ("a AND b OR NOT c", [C(None, w, False, False) for w in ["a", "AND", "b", "OR", "NOT", "c"]]),
        ("c++ [x TO y] {z} (w)^2 f~1 g* h?",
         [C(None, w, False, False) for w in ["c", "x", "TO", "y", "z"]]
         + [C(None, "w 2", True, False), C(None, "f 1", True, False)]
         + [C(None, "g", False, False), C(None, "h", False, False)]),
        ("été e\u0301te हिन्दी 机器学习", [C(None, w, False, False) for w in ["été", "e\u0301te", "हिन्दी", "机器学习"]]),
        ("a\u00a0b\u3000c", [C(None, w, False, False) for w in "abc"]),  # unicode whitespace separates
        ("a\u200bb", [C(None, "a b", True, False)]),  # zero-width space is not a word character
        ("foo_bar", [C(None, "foo_bar", False, False)]),
    ],
)
def test_clauses(text: str, clauses: list[Clause]) -> None:
    assert parse_query(text).clauses == clauses


@pytest.mark.parametrize(
    ("text", "year_from", "year_to", "categories"),
    [
        ("year:2023", 2023, 2023, []),
        ("year:2023..2025", 2023, 2025, []),
        ("year:..2020", None, 2020, []),
        ("year:2021..", 2021, None, []),
        ("YEAR:2021..2021", 2021, 2021, []),
        ("year:1000..2999", 1000, 2999, []),
        ("cat:cs.CL", None, None, ["cs.CL"]),
        ("Cat:hep-th cat:cond-mat.mes-hall", None, None, ["hep-th", "cond-mat.mes-hall"]),
        ("cat:cs.CL cat:cs.CL", None, None, ["cs.CL"]),
        ("+cat:cs.LG +year:2020", 2020, 2020, ["cs.LG"]),
        ("ti:x cat:cs.CL year:2024 y", 2024, 2024, ["cs.CL"]),
    ],
)
def test_filter_fields(text: str, year_from: int | None, year_to: int | None, categories: list[str]) -> None:
    parsed = parse_query(text)
    assert (parsed.year_from, parsed.year_to, parsed.categories) == (year_from, year_to, categories)
    assert all(c.text not in {"cs", "CL", "2024"} for c in parsed.clauses)


@pytest.mark.parametrize(
    ("text", "free_text"),
    [
        ("", ""),
        ("knowledge distillation", "knowledge distillation"),
        ('ti:BERT abs:"Pre-training" -survey cat:cs.CL year:2019', "BERT Pre training"),
        ("+must -not maybe", "must maybe"),
        ("BERT: Pre-training of Deep", "BERT Pre training of Deep"),
        ("-only -excluded", ""),
    ],
)
def test_free_text(text: str, free_text: str) -> None:
    assert parse_query(text).free_text == free_text


# ------------------------------------------------------------------ Tantivy text
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("cat:cs.CL year:2020..", ""),
        ("knowledge distillation", '"knowledge" "distillation"'),
        ('"Masked Autoencoder" vision', '"masked autoencoder" "vision"'),
        ('ti:transformer au:hinton abs:"contrastive loss" cat:cs.CL',
         '+title:"transformer" +authors:"hinton" +text:"contrastive loss"'),  # abs: = title + abstract
        ("attention -survey", '"attention" -"survey"'),
        ('attention -ti:"a survey"', '"attention" -title:"a survey"'),
        ("+required optional", '+"required" "optional"'),
        ("-survey", '* -"survey"'),
        ("-survey cat:cs.CL", '* -"survey"'),
        ("a AND b OR NOT c", '"b" "c"'),  # operators are inert words; stop-words dropped
        ("the of and", '"the" "of" "and"'),  # all stop-words: kept, or nothing would match
        ('"the model" of ti:the', '"the model" +title:"the"'),  # phrases and fields keep them
        ('x:y (a OR b)^3 \\ "q*" [1 TO 2] ~', '"x" "y" "b 3" "q" "1" "2"'),
        ("pre-trained BERT: model", '"pre trained" "bert" "model"'),
        ("a a A", '"a"'),
        ("a -a", '"a" -"a"'),
        ("Été ÜBER", '"été" "über"'),
        # Words Tantivy's tokenizer drops ("___", tokens of 40+ bytes): Tantivy refuses
        # several clauses that are all empty, so only the first is kept (it matches nothing).
        ("___ -x", '"___"'),
        ("___ ti:__ -x", '"___"'),
        ("a" * 45 + " -x", f'"{"a" * 45}"'),
        ("\u0301 " + "b" * 40, '"\u0301"'),
        ("a" * 39 + " -x", f'"{"a" * 39}" -"x"'),
    ],
)
def test_to_tantivy(text: str, expected: str) -> None:
    assert parse_query(text).to_tantivy() == expected


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("text", "position"),
    [
        ('"masked autoencoder', 0),
        ('vision "masked autoencoder', 7),
        ('ti:"masked', 3),
        ('a "b" "c', 6),
        ('a\\"b', 2),  # a backslash escapes nothing; a bare word ends at a quote
        ("ti:", 0),
        ("x ti:", 2),
        ("ti: transformer", 0),
        ("-au:", 1),
        ('abs:""', 0),
        ("ti:***", 0),
        ("year:", 0),
        ("year:abc", 5),
        ("q year:20234", 7),
        ("year:2025..2020", 5),
        ("year:..", 5),
        ("year:0999", 5),
        ("year:2020..3000", 11),
        ("year:2020,", 5),
        ('year:"2020"', 5),
        ("year:2020 year:2021", 10),
        ("cat:", 0),
        ("cat:cs.CL!", 4),
        ("cat:cs..CL", 4),
        ("cat:*", 4),
        ("-cat:cs.CL", 0),
        ("a -year:2020", 2),
    ],
)
def test_syntax_error_positions(text: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(text)
    assert caught.value.position == position
    assert caught.value.field == "q"
    assert caught.value.hint
    assert f"at position {position}" in caught.value.message


def test_length_limit() -> None:
    parse_query("a" * MAX_QUERY_CHARS)
    with pytest.raises(InvalidInput) as caught:
        parse_query("a" * (MAX_QUERY_CHARS + 1))
    assert caught.value.field == "q" and not isinstance(caught.value, QuerySyntaxError)


@pytest.mark.parametrize("extra", ["w", "cat:cs.CL", "year:2020", '"p q"', "-x"])
def test_clause_limit(extra: str) -> None:
    words = " ".join(f"w{i}" for i in range(MAX_CLAUSES - 1))
    assert len(parse_query(f"{words} {extra}").clauses) >= MAX_CLAUSES - 1
    with pytest.raises(InvalidInput) as caught:
        parse_query(f"{words} w {extra}")
    assert caught.value.field == "q"


# ------------------------------------------------------------------ filters
@pytest.mark.parametrize(
    ("text", "base", "expected"),
    [
        ("x", PaperFilter(), PaperFilter()),
        ("cat:cs.CL", PaperFilter(), PaperFilter(category="cs.CL")),
        ("year:2023", PaperFilter(), PaperFilter(date_from=date(2023, 1, 1), date_to=date(2023, 12, 31))),
        ("year:2021..2024", PaperFilter(), PaperFilter(date_from=date(2021, 1, 1), date_to=date(2024, 12, 31))),
        ("year:..2020", PaperFilter(), PaperFilter(date_to=date(2020, 12, 31))),
        ("year:2021..", PaperFilter(), PaperFilter(date_from=date(2021, 1, 1))),
        # The query wins: cat: replaces the base category, year: the whole date window.
        ("cat:cs.CL", PaperFilter(category="cs.LG", has_code=True), PaperFilter(category="cs.CL", has_code=True)),
        ("year:2021..", PaperFilter(date_from=date(2000, 1, 1), date_to=date(2010, 1, 1)),
         PaperFilter(date_from=date(2021, 1, 1))),
        ("x", PaperFilter(category="cs.LG", date_from=date(2020, 5, 5)),
         PaperFilter(category="cs.LG", date_from=date(2020, 5, 5))),
    ],
)
def test_filters(text: str, base: PaperFilter, expected: PaperFilter) -> None:
    assert parse_query(text).filters(base) == expected


def test_filters_default_base_and_multiple_categories() -> None:
    assert parse_query("cat:cs.CL").filters() == PaperFilter(category="cs.CL")
    with pytest.raises(InvalidInput) as caught:
        parse_query("cat:cs.CL cat:cs.LG").filters(PaperFilter())
    assert caught.value.field == "q" and "cs.CL, cs.LG" in caught.value.message


def test_parsed_query_is_frozen() -> None:
    parsed = parse_query("x")
    assert isinstance(parsed, ParsedQuery)
    with pytest.raises(AttributeError):
        parsed.year_from = 2020  # type: ignore[misc]


# ------------------------------------------------------------------ fuzz against Tantivy
NASTY = "\\:()[]{}*?~^+-!&|<>=/'\"" + '"' * 3 + "  \t"
UNICODE = ["é", "e\u0301", "ß", "İ", "机器", "हिन्दी", "Ⓐ", "٣", "\u200b", "\u00a0", "\u3000", "🙂",
           "שלום", "\x00", "\u0301", "_", "ǅ", "ｆｕｌｌ", "\u2028", "क्ष" * 14]
ATOMS = ["ti:", "AU:", "abs:", "cat:", "year:", "..", "2020", "0999", "AND", "OR", "NOT", "TO", "cs.CL",
         "a" * 45, "x" * 39, " -", " +", " ", " ", " "]
_PIECE = r'(?:\*|[+-]?(?:(?:title|authors|text):)?"[^"\\]+")'
SAFE_OUTPUT = re.compile(rf"{_PIECE}(?: {_PIECE})*")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> tantivy.Index:
    folder: Path = tmp_path_factory.mktemp("fuzz-index")
    built = tantivy.Index(_schema(), path=str(folder))
    writer = built.writer(heap_size=15_000_000, num_threads=1)
    writer.add_document(tantivy.Document(
        pk=1, id="p1", title="Masked autoencoders", text="Masked autoencoders\na survey of pre-trained models",
        authors="Kaiming He ; Geoffrey Hinton", category=["cs.CV"], day=20220101, year=2022, has_code=1))
    writer.commit()
    built.reload()
    return built


def _random_query(rng: random.Random) -> str:
    pools = [NASTY, "abcxyzABC019", UNICODE, ATOMS]
    out = []
    for _ in range(rng.randint(0, 30)):
        pool = rng.choices(pools, weights=[4, 4, 2, 2])[0]
        out.append(rng.choice(pool))
    return "".join(out)


def test_fuzz_outputs_always_parse_in_tantivy(index: tantivy.Index) -> None:
    rng = random.Random(20260601)
    searcher = index.searcher()
    outcomes = {"ok": 0, "error": 0, "text": 0}
    for _ in range(4000):
        text = _random_query(rng)
        try:
            parsed = parse_query(text)
        except (QuerySyntaxError, InvalidInput) as error:
            outcomes["error"] += 1
            if isinstance(error, QuerySyntaxError):
                assert 0 <= error.position < len(text), text
            continue
        outcomes["ok"] += 1
        out = parsed.to_tantivy()
        assert isinstance(parsed.free_text, str)
        if not out:
            assert not parsed.clauses, text
            continue
        outcomes["text"] += 1
        assert SAFE_OUTPUT.fullmatch(out), (text, out)
        query = index.parse_query(out, default_field_names=["text", "title", "authors"])
        searcher.search(query, 5)
    # The generator must reach both outcomes, or the loop proves little.
    assert outcomes["error"] > 200 and outcomes["text"] > 1000, outcomes
