"""Highlighting, snippets, BibTeX and the map projection: pure functions, hostile input."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from paperfeed.web.cite import bibtex
from paperfeed.web.highlight import highlight, query_terms, snippet
from paperfeed.web.mapview import project_2d
from tests.conftest import make_paper


def test_query_terms_skip_authors_exclusions_and_stopwords() -> None:
    assert query_terms('ti:transformers "masked autoencoder" -survey au:hinton of the cat:cs.CL') == [
        "transformer", "mask", "autoencoder"]
    assert query_terms('"unclosed') == []  # a syntax error highlights nothing


def test_highlight_escapes_and_marks_word_starts() -> None:
    marked = str(highlight("Models <b>modelling</b> & remodel", query_terms("models")))
    assert marked == "<mark>Models</mark> &lt;b&gt;<mark>modelling</mark>&lt;/b&gt; &amp; remodel"
    assert str(highlight("<script>", [])) == "&lt;script&gt;"


def test_snippet_starts_near_a_late_match() -> None:
    text = "word " * 200 + "needle in the haystack " + "tail " * 50
    cut = snippet(text, ["needle"])
    assert cut.startswith("… ") and "needle" in cut and cut.endswith(" …") and len(cut) < 340
    assert snippet("short text", ["absent"]) == "short text"


def test_bibtex_escapes_latex_and_names_the_eprint() -> None:
    paper = make_paper("Cost & {Benefit}_of 100% Attention", authors=["Émile Noël", "A. N. Other"],
                       arxiv_id="2401.01234", categories=["cs.CL"], doi="10.1/x",
                       published=datetime(2024, 1, 3, tzinfo=timezone.utc))
    entry = bibtex(paper)
    assert entry.startswith("@misc{noel2024cost,")  # keys are ASCII; the author keeps the accents
    assert r"title = {{Cost \& \{Benefit\}\_of 100\% Attention}}" in entry
    assert "eprint = {2401.01234}" in entry and "primaryClass = {cs.CL}" in entry and "doi = {10.1/x}" in entry


def test_projection_is_deterministic_and_separates_clusters() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0, 0.05, (20, 16)) + np.eye(16)[0]
    b = rng.normal(0, 0.05, (20, 16)) + np.eye(16)[1]
    xy = project_2d(np.vstack([a, b]).astype(np.float32))
    assert xy.shape == (40, 2) and xy.min() >= 0.04 - 1e-9 and xy.max() <= 0.96 + 1e-9
    assert np.array_equal(xy, project_2d(np.vstack([a, b]).astype(np.float32)))
    x = xy[:, 0]  # the first component is the direction the two clusters differ in
    assert x[:20].max() < x[20:].min() or x[20:].max() < x[:20].min()
    assert abs(x[:20].mean() - x[20:].mean()) > 0.8
    assert project_2d(np.zeros((0, 16))).shape == (0, 2) and project_2d(np.ones((1, 16))).shape == (1, 2)
