from paperfeed.identity import derive_id, normalise_doi, normalise_title, title_key
from paperfeed.links import extract_links
from paperfeed.models import Link

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
