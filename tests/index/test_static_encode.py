"""paperfeed.index.static_encode gives exactly the vectors model2vec's `StaticModel.encode` gives
(same float16 values, not merely close), on real corpora and on text built to trip a tokenizer."""

from __future__ import annotations

import random
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from paperfeed.index.embed import DEFAULT_EMBEDDER, MODELS_DIR, StaticEmbedder, _l2_normalise
from paperfeed.index.static_encode import FastStaticEncoder
from paperfeed.index.vectors import paper_text
from paperfeed.models import Paper
from paperfeed.sources.jsonl import open_maybe_gzip, parse_jsonl

SCIFACT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "beir" / "scifact" / "corpus.jsonl.gz"

TRICKY = [
    "",
    "   \t\n ",
    "snake_case_names, __init__ and __dunder__ methods",
    "See https://github.com/org/repo?x=1&y=2#frag or http://arxiv.org/abs/2101.00001v2.",
    r"We show $\mathcal{O}(n \log n)$ bounds when $\alpha_{i}^{2} \geq \frac{1}{2}$ \cite{x}.",
    "3.14159, 1e-10, 2,000,000 params; v1.2.3 and 0x1F at 99.9% (p<0.05)",
    "tabs\tand\nnewlines\r\nvertical\x0btab, form\x0cfeed, nul\x00byte, bell\x07, del\x7fete, ab\x01cd, us\x1fx",
    "\x00\x01\x02",
    "深度学习模型 for Chinese 中文 text",
    "Café naïve résumé Schrödinger Erdős Ångström",
    "rocket 🚀 science 🧪! thumbs 👍🏽 family 👨‍👩‍👧",
    "ΟΔΟΣ ΟΔΟΣ final sigma, İstanbul, ǅ titlecase, ß straße",
    "e\u0301 combining, a \u0301b mark after a space, x\u0300\u0316 reordered marks, \u0301",
    "abc中文def, ＡＢＣ full width, ﬁ ligature, soft\u00adhyphen, zero\u200dwidth joiner",
    "ideographic\u3000space, line\u2028separator, nel\x85x, العربية text, עברית",
    "1–2 en dash, µm ±0.5 °C, β-catenin, ∑∫√ maths, “curly” ‘quotes’ … ellipsis",
    "é",
    "ascii start then é",
    "\u00e9" * 200 + " tail",
    "non\u00a0breaking\u2009thin space and \u200bzero width",
    "Ω-loss and μ-law, α=0.5",
    "don't can't it's 'quoted' \"double\" `tick`",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "ALL CAPS TITLE: WITH MiXeD Case!!!",
    "literal [UNK] and [PAD] tokens, [unk] in lower case, [MASK] [CLS] [SEP]",
    "[PAD]",
    "a" * 150,
    "x" * 101 + " normal words after " + "y" * 100,
    ("supercalifragilistic" * 6 + " ") * 40,  # 120-char words: [UNK], counted before truncation
    "A" * 3100,
    "! " * 700,  # more punctuation tokens than max_length
    "neural " * 20_000,  # 140 kB
]


def _random_ascii(rng: random.Random, count: int) -> list[str]:
    """Fuzz: every ASCII code point, controls included, in short and long strings."""
    alphabet = [chr(c) for c in range(128)] + ["ing", "tion", "Trans", "former", " "] * 8
    return ["".join(rng.choices(alphabet, k=rng.randint(0, 400))) for _ in range(count)]


def _random_mixed(rng: random.Random, count: int) -> list[str]:
    """Fuzz: ASCII words and whitespace around accents, combining marks, CJK, Greek, symbols."""
    alphabet = ([chr(c) for c in range(128)] + ["ing", "Trans", " ", " ", "\t"] * 6
                + list("éÉüßøΣσςİı中文日本語ＡＢ\u0301\u0316\u00a0\u3000\u200b\u00ad–—“”…±µ°βΩ∑😀👍🏽"))
    return ["".join(rng.choices(alphabet, k=rng.randint(0, 300))) for _ in range(count)]


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder(MODELS_DIR / DEFAULT_EMBEDDER, name=DEFAULT_EMBEDDER)


def _assert_same_as_model2vec(embedder: StaticEmbedder, texts: list[str]) -> FastStaticEncoder:
    model = embedder._model
    expected = model.encode(texts, use_multiprocessing=False)  # what StaticEmbedder used to return
    fast = FastStaticEncoder(model)
    got = fast.encode(texts, batch_size=97)  # batches that do not divide the corpus
    assert got.dtype == expected.dtype
    mismatched = [texts[i][:80] for i in np.flatnonzero((got != expected).any(axis=1))]
    assert mismatched == []
    np.testing.assert_allclose(embedder.encode(texts), _l2_normalise(expected), rtol=0, atol=1e-6)
    return fast


def _papers_text(path: Path | str, limit: int | None = None) -> list[str]:
    with open_maybe_gzip(path) as stream:
        papers = [p for p in parse_jsonl(stream, source="test") if isinstance(p, Paper)]
    return [paper_text(p) for p in papers[:limit]]


def test_demo_corpus_matches_model2vec_through_the_fast_path(embedder: StaticEmbedder) -> None:
    texts = _papers_text(resources.files("paperfeed.demo") / "hf-papers-search-page.jsonl")
    assert len(texts) == 123
    fast = _assert_same_as_model2vec(embedder, texts)
    assert fast.fallbacks == 0  # the fast path did the work


@pytest.mark.skipif(not SCIFACT.exists(), reason="../shared BEIR data not visible from this checkout")
def test_scifact_corpus_matches_model2vec(embedder: StaticEmbedder) -> None:
    texts = _papers_text(SCIFACT)
    assert len(texts) > 5000
    fast = _assert_same_as_model2vec(embedder, texts)
    assert fast.fallbacks < 10


def test_tricky_strings_match_model2vec(embedder: StaticEmbedder) -> None:
    _assert_same_as_model2vec(embedder, TRICKY)
    for text in TRICKY:  # one at a time too: a query goes through encode_query
        expected = _l2_normalise(embedder._model.encode([text], use_multiprocessing=False))[0]
        np.testing.assert_allclose(embedder.encode_query(text), expected, rtol=0, atol=1e-6)


def test_random_ascii_matches_model2vec(embedder: StaticEmbedder) -> None:
    texts = _random_ascii(random.Random(3), 300)
    fast = _assert_same_as_model2vec(embedder, texts)
    assert fast.fallbacks < 30  # only texts that happen to hold an added token's spelling


def test_random_mixed_script_text_matches_model2vec(embedder: StaticEmbedder) -> None:
    texts = _random_mixed(random.Random(4), 300)
    fast = _assert_same_as_model2vec(embedder, texts)
    assert fast.fallbacks < 30


def test_fast_words_are_the_pre_tokenizers_words(embedder: StaticEmbedder) -> None:
    tokenizer = embedder._model.tokenizer
    fast = FastStaticEncoder(embedder._model)
    for text in [t for t in TRICKY + _random_ascii(random.Random(5), 100) if t.isascii() and "[" not in t]:
        normalised = tokenizer.normalizer.normalize_str(text)
        expected = [word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalised)]
        assert fast._pieces(text) == expected, repr(text[:80])


def test_only_added_token_spellings_go_to_model2vec(embedder: StaticEmbedder) -> None:
    fast = FastStaticEncoder(embedder._model)
    fast.encode(["Café", "plain ascii", "a literal [UNK]", "[pad] is just brackets", "[PAD]", "αβγ [x]"])
    assert fast.fallbacks == 2


def test_word_cache_stays_bounded(embedder: StaticEmbedder) -> None:
    texts = _random_ascii(random.Random(7), 60) + TRICKY[2:8]
    fast = FastStaticEncoder(embedder._model, cache_words=40)
    expected = embedder._model.encode(texts, use_multiprocessing=False)
    assert np.array_equal(fast.encode(texts, batch_size=7), expected)
    most_new_in_one_text = max(len(set(fast._pieces(t) or [])) for t in texts)
    assert len(fast._cache) <= max(40, most_new_in_one_text)
