import pytest

from paperfeed.errors import InvalidInput
from paperfeed.identity import NotAnArxivId, derive_id, normalise_doi, normalise_title, parse_arxiv_id, title_key
from paperfeed.links import extract_links
from paperfeed.models import Link
from paperfeed.sources import arxiv_atom, arxiv_snapshot
from paperfeed.sources.lines import BadField

from tests.conftest import make_paper


def test_normalised_title_ignores_case_punctuation_latex_and_accents() -> None:
    assert normalise_title("BERT: Pre-training of  Deep $\\alpha$-Transformers") == (
        "bert pre training of deep alpha transformers"
    )
    assert normalise_title("Über  Modelle") == normalise_title("uber modelle")


def test_title_key_adds_first_author_surname() -> None:
    paper = make_paper("Attention Is All You Need", authors=["Ashish Vaswani", "Noam Shazeer"])
    assert title_key(paper) == "attention is all you need|vaswani"


def test_ids_prefer_source_id_then_arxiv_then_doi_then_title_hash() -> None:
    assert derive_id(make_paper(id="doc-1", arxiv_id="2401.00001")) == "doc-1"
    assert derive_id(make_paper(arxiv_id="2401.00001", doi="10.1/x")) == "2401.00001"
    assert derive_id(make_paper(doi="10.1/x")) == "doi:10.1/x"
    hashed = derive_id(make_paper("Some Title"))
    assert hashed.startswith("pf-") and hashed == derive_id(make_paper("some   title!"))


def test_doi_forms_normalise() -> None:
    assert normalise_doi("https://doi.org/10.1000/ABC") == "10.1000/abc"
    assert normalise_doi("doi:10.1000/abc") == "10.1000/abc"
    assert normalise_doi("  ") is None


def test_code_and_project_links_are_found_and_trailing_punctuation_stripped() -> None:
    text = (
        "Code is available at https://github.com/org/repo. Models at "
        "https://huggingface.co/org/model, demo (https://org.github.io/project/). "
        "See also gitlab.com/team/tool; and https://arxiv.org/abs/2401.00001."
    )
    assert extract_links(text) == [
        Link("code", "https://github.com/org/repo"),
        Link("code", "https://huggingface.co/org/model"),
        Link("project", "https://org.github.io/project/"),
        Link("code", "https://gitlab.com/team/tool"),
    ]


def test_links_dedupe_across_texts_and_drop_git_suffix() -> None:
    found = extract_links("https://github.com/a/b.git", "code: https://github.com/a/b")
    assert found == [Link("code", "https://github.com/a/b")]


def test_github_user_page_is_a_project_not_code() -> None:
    assert extract_links("see https://github.com/someone") == [Link("project", "https://github.com/someone")]


# One arXiv-id parser (identity.parse_arxiv_id) behind both source wrappers.
_ID_FORMS = [
    ("2401.01234v2", ("2401.01234", 2)),
    ("arXiv:2401.01234", ("2401.01234", None)),
    (" ARXIV:0704.0001v10 ", ("0704.0001", 10)),
    ("https://arxiv.org/pdf/2401.01234v1.pdf", ("2401.01234", 1)),
    ("http://export.arxiv.org/abs/hep-th/9901001", ("hep-th/9901001", None)),
    ("math.GT/0309136v2", ("math/0309136", 2)),
    ("HEP-TH/9901001", ("hep-th/9901001", None)),
]
_NOT_IDS = ["", "2413.01234", "2401.123", "2401.01234v0", "hep-th/99010", "2401.01234 2401.01235",
            "https://example.org/abs/2401.01234", "10.1000/xyz"]


@pytest.mark.parametrize(("text", "expected"), _ID_FORMS)
def test_one_arxiv_id_parser_for_every_source(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_arxiv_id(text) == expected
    assert arxiv_atom.parse_arxiv_id(text) == expected  # user input: InvalidInput on failure
    assert arxiv_snapshot.split_arxiv_id(text) == expected  # record fields: BadField on failure


@pytest.mark.parametrize("text", _NOT_IDS)
def test_arxiv_id_parser_refusals_keep_each_callers_error(text: str) -> None:
    with pytest.raises(NotAnArxivId, match="is not an arXiv id"):
        parse_arxiv_id(text)
    with pytest.raises(InvalidInput) as user_error:
        arxiv_atom.parse_arxiv_id(text)
    assert user_error.value.field == "arxiv_id"
    with pytest.raises(BadField) as field_error:
        arxiv_snapshot.split_arxiv_id(text, "id")
    assert field_error.value.field == "id"


@pytest.mark.parametrize("title", ["BERT: Pre-training_of {Deep} $x^2$ \\cite", "  A  b\tc ", "---", "GPT-4 (2023)!"])
def test_ascii_title_fast_path_matches_the_unicode_path(title: str) -> None:
    assert normalise_title(title) == normalise_title(title + "é")[: len(normalise_title(title))]
    assert normalise_title(title) == " ".join("".join(c if c.isalnum() else " " for c in title.lower()).split())
