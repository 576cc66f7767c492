"""Exact, fast `StaticModel.encode` for model2vec models whose tokenizer is BERT WordPiece.

model2vec spends most of an abstract's ~1.7 ms in the Hugging Face tokenizer (normalise, split,
WordPiece, ~500 tokens) and then averages token rows document by document. For plain ASCII text
the BERT normaliser and pre-tokenizer reduce to: drop control characters, lowercase, and split
into runs of [a-z0-9] plus single punctuation characters -- one compiled regex. WordPiece maps each
such word independently of its neighbours, so a word's ids can be cached (computed once by the
real tokenizer). A whitespace-delimited chunk holding non-ASCII characters is tokenised whole by the
real tokenizer and cached the same way. The means are then one gather and one sum per document.

Output is the same array `StaticModel.encode` returns, not merely close: the token rows are summed
in model2vec's order and dtype (float32 accumulation for a float16 table), divided the way
`np.mean` divides, rounded to the table's dtype, then normalised with model2vec's formula, so even
float16 rounding lands on the same side. What the fast path cannot vouch for -- text that spells an
added token such as "[UNK]", a model with another tokenizer pipeline or an integer table -- is
encoded by model2vec itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import numpy as np

# What BertNormalizer(clean_text) deletes from ASCII: control characters other than \t \n \r
# (those three become spaces; so do nothing else in ASCII, since \v and \f are controls first).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# BertPreTokenizer on lowercased ASCII: split on whitespace, and every ASCII punctuation
# character (all printable non-alphanumerics) is a word of its own.
_WORD = re.compile(r"[a-z0-9]+|[!-/:-@\[-`{-~]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ASCII_SPACE = re.compile(r"[ \t\n\r]")

CACHE_WORDS = 200_000  # distinct words whose WordPiece ids are kept (~40 MB at most); cleared when full


def _pipeline_is_bert(tokenizer_json: dict[str, Any]) -> bool:
    """True when normaliser, pre-tokenizer and model are the ones the fast path replicates."""
    normalizer = tokenizer_json.get("normalizer") or {}
    model = tokenizer_json.get("model") or {}
    post = tokenizer_json.get("post_processor")
    return (
        normalizer.get("type") == "BertNormalizer"
        and normalizer.get("clean_text") is True
        and normalizer.get("lowercase") is True
        and (tokenizer_json.get("pre_tokenizer") or {}).get("type") == "BertPreTokenizer"
        and model.get("type") == "WordPiece"
        and (post is None or post.get("type") in ("BertProcessing", "TemplateProcessing"))
    )


class FastStaticEncoder:
    """Wraps a loaded `model2vec.StaticModel`; `encode(texts)` equals `model.encode(texts)`."""

    def __init__(self, model: Any, *, cache_words: int = CACHE_WORDS) -> None:
        self.model = model
        tokenizer_json = json.loads(model.tokenizer.to_str())
        table = np.asarray(model.embedding)
        self.enabled = _pipeline_is_bert(tokenizer_json) and table.dtype.kind == "f"
        added = [t for t in tokenizer_json.get("added_tokens") or () if t.get("content")]
        self._added = tuple(t["content"] for t in added if not t.get("normalized"))  # matched in raw text
        self._added_normalised = tuple(t["content"].lower() for t in added if t.get("normalized"))
        # a cheap pre-check: BERT's special tokens all contain "["
        self._added_marker = "[" if all("[" in t["content"] for t in added) else ""
        self._word_tokenizer = _plain_copy(model.tokenizer)
        self._cache: dict[str, tuple[int, ...]] = {}
        self._cache_words = cache_words
        self.fallbacks = 0  # texts handed to model2vec because the fast path could not vouch for them
        self._ints = list(range(len(model.tokens)))  # shared int objects keep cached tuples small
        # float16 -> float32 is exact; converting the table once beats converting every gathered row
        self._table32 = table.astype(np.float32) if table.dtype == np.float16 else table

    # -- public ------------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str], *, batch_size: int = 1024, progress: bool = False) -> np.ndarray:
        """Embeddings of `texts`, rows as `StaticModel.encode` gives them (its dtype, its norm)."""
        model = self.model
        if not self.enabled:
            self.fallbacks += len(texts)
            return np.asarray(model.encode(list(texts), batch_size=batch_size, show_progress_bar=progress,
                                           use_multiprocessing=False))
        out = np.zeros((len(texts), model.dim), dtype=model.embedding.dtype)
        batches = range(0, len(texts), batch_size)
        for start in _progress(batches, progress):
            out[start : start + batch_size] = self._encode_batch(texts[start : start + batch_size])
        return out

    # -- one batch -----------------------------------------------------------------------------------
    def _encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        model = self.model
        max_length = model.max_length
        cut = max_length * model.median_token_length if max_length is not None else None
        docs: list[list[int]] = [[] for _ in texts]
        slow: list[int] = []
        unseen: list[tuple[int, list[str]]] = []
        for i, text in enumerate(texts):
            pieces = self._pieces(text[:cut])  # model2vec cuts characters before tokenising
            if pieces is None:
                slow.append(i)
                continue
            try:
                docs[i] = self._token_ids(pieces)
            except KeyError:
                unseen.append((i, pieces))
        if unseen:  # one tokenizer call for every new word of the batch
            known = self._learn(list(chain.from_iterable(pieces for _, pieces in unseen)))
            for i, pieces in unseen:
                docs[i] = list(chain.from_iterable([known[w] for w in pieces]))
        if max_length is not None:
            for doc in docs:
                del doc[max_length:]
        lengths = np.array([len(doc) for doc in docs], dtype=np.intp)
        ids = np.array(list(chain.from_iterable(docs)), dtype=np.intp)
        out = self._means(ids, lengths)
        if model.normalize:
            out = _normalise_like_model2vec(out)
        if slow:
            self.fallbacks += len(slow)
            out[slow] = model.encode([texts[i] for i in slow], use_multiprocessing=False)
        return out

    def _pieces(self, text: str) -> list[str] | None:
        """Strings whose ids, concatenated, are the text's ids: for ASCII text the pre-tokenizer's
        words; a whitespace-delimited chunk holding non-ASCII characters is one piece, tokenised
        whole by the real tokenizer. None when the text holds an added token's spelling."""
        if self._holds_added_token(text):
            return None
        if text.isascii():
            return _ascii_words(text)
        pieces: list[str] = []
        for ascii_part, chunk in _split_at_non_ascii(text):
            pieces += _ascii_words(ascii_part)
            if chunk:
                pieces.append(chunk)
        return pieces

    def _holds_added_token(self, text: str) -> bool:
        """Added tokens ("[UNK]", "[PAD]") are matched in the text before it is normalised or
        split, so a text that spells one is left to the real tokenizer."""
        if self._added_marker not in text:
            return False
        if any(token in text for token in self._added):
            return True
        lowered = text.lower()  # normalised ones are matched after lowercasing (err on the safe side)
        return any(token in lowered for token in self._added_normalised)

    def _token_ids(self, pieces: list[str]) -> list[int]:
        """Ids of pieces that are all cached; KeyError if one is not."""
        cache = self._cache
        return list(chain.from_iterable([cache[w] for w in pieces]))

    def _learn(self, words: list[str]) -> dict[str, tuple[int, ...]]:
        """WordPiece ids of every word in `words`; new ones come from the real tokenizer and are
        cached. Returns its own mapping, so a concurrent clear of the cache cannot lose a word."""
        cache = self._cache
        known = {w: ids for w in dict.fromkeys(words) if (ids := cache.get(w)) is not None}
        new = [w for w in dict.fromkeys(words) if w not in known]
        ints = self._ints
        for word, encoding in zip(new, self._word_tokenizer.encode_batch_fast(new, add_special_tokens=False)):
            known[word] = tuple(ints[t] for t in encoding.ids)
        if len(cache) + len(new) > self._cache_words:
            cache.clear()  # bounded memory; the common words come back within a batch
        cache.update((w, known[w]) for w in new)
        return known

    def _means(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Per-document mean of token rows, computed the way model2vec's `_encode_batch` does."""
        model = self.model
        unk = model.unk_token_id
        if unk is not None:
            keep = ids != unk  # model2vec drops unknown tokens after truncation
            doc_of = np.repeat(np.arange(len(lengths)), lengths)
            ids = ids[keep]
            lengths = np.bincount(doc_of[keep], minlength=len(lengths)).astype(np.intp)
        out = np.zeros((len(lengths), model.dim), dtype=model.embedding.dtype)
        ends = np.cumsum(lengths)
        for doc in np.flatnonzero(lengths):
            count = int(lengths[doc])
            # one document at a time keeps its rows in cache between gather and sum
            rows = self._rows(ids[ends[doc] - count : ends[doc]])
            # np.mean: a sequential sum over axis 0 (reduceat would sum pairwise and round
            # differently), divided by an intp count, i.e. in float64
            total = np.add.reduce(rows, axis=0)
            out[doc] = np.true_divide(total, count, out=total, casting="unsafe")
        return out

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        """Token rows in the dtype np.mean sums them in (float32 for a float16 table)."""
        model = self.model
        if model.token_mapping is None and model.weights is None:
            return self._table32[ids]
        rows = model.embedding[ids if model.token_mapping is None else model.token_mapping[ids]]
        if model.weights is not None:
            rows = rows * model.weights[ids][:, None]
        return rows.astype(np.float32) if rows.dtype == np.float16 else rows


def _ascii_words(text: str) -> list[str]:
    """BertNormalizer + BertPreTokenizer on ASCII text."""
    if _CONTROL.search(text) is not None:
        text = _CONTROL.sub("", text)
    return _WORD.findall(text.lower())


def _split_at_non_ascii(text: str) -> Iterator[tuple[str, str]]:
    """(ASCII text, chunk) pairs covering `text`: each chunk is a run between ASCII whitespace that
    holds a non-ASCII character; the last chunk may be "". Normalising and splitting never cross
    ASCII whitespace (every step is per character, NFD reorders only between starters), so the
    real tokenizer gives a chunk the same ids alone as in context."""
    pos = 0
    while (found := _NON_ASCII.search(text, pos)) is not None:
        start = found.start()
        while start > pos and text[start - 1] not in " \t\n\r":
            start -= 1
        space = _ASCII_SPACE.search(text, found.end())
        end = space.start() if space is not None else len(text)
        yield text[pos:start], text[start:end]
        pos = end
    yield text[pos:], ""


def _normalise_like_model2vec(out: np.ndarray) -> np.ndarray:
    """model2vec's own normalisation, operation for operation (its rounding, its epsilon)."""
    out32 = out.astype(np.float32)
    norm = np.linalg.norm(out32, axis=1, keepdims=True) + 1e-32
    return (out32 / norm).astype(out.dtype)


def _plain_copy(tokenizer: Any) -> Any:
    """The model's tokenizer without truncation or padding, for tokenising single words."""
    from tokenizers import Tokenizer  # noqa: PLC0415 - model2vec's dependency, loaded with the model

    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy


def _progress(batches: range, show: bool) -> Iterator[int]:
    if not show:
        return iter(batches)
    from tqdm import tqdm  # noqa: PLC0415 - model2vec's dependency; only for a visible bar

    return iter(tqdm(batches, total=len(batches)))
