"""`paperfeed bench embed-speed`: how fast a transformer embeds papers, against what its
FLOPs allow on this machine.

Work of one encoder pass over L tokens (BERT-style: n layers, hidden size h, FFN size f),
a multiply-add counted as 2 FLOPs: n * 2 * (4*L*h^2 + 2*L*h*f + 2*L^2*h) -- the Q, K, V and
output projections, the two FFN matrices, and the attention scores and weighted sum.
Embeddings, layer norms, softmax and pooling are left out (a few percent), as is padding
inside a batch: only useful work counts. The ceiling is the rate torch reaches here on the
model's own FFN matrix product, measured in the same run on the same threads, so the
ratio reads "share of this machine's achievable GEMM speed the encoder turns into papers".
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from paperfeed.bench.beir import corpus_path
from paperfeed.errors import ConfigError
from paperfeed.index.embed import TransformerEmbedder, load_embedder
from paperfeed.index.vectors import paper_text
from paperfeed.models import Paper
from paperfeed.sources.jsonl import open_maybe_gzip, parse_jsonl

GEMM_ROWS = 8192  # tokens per product: a batch of 32 papers at 256 tokens
GEMM_REPEATS = 20


def read_texts(dataset: Path, limit: int) -> list[str]:
    """The first `limit` corpus papers, read by the `beir` ingest source, as the text the
    vector index embeds (`paper_text`)."""
    texts: list[str] = []
    with open_maybe_gzip(corpus_path(dataset)) as stream:
        for item in parse_jsonl(stream):
            if isinstance(item, Paper):
                texts.append(paper_text(item))
                if len(texts) == limit:
                    break
    return texts


def encoder_flops(lengths: list[int], layers: int, hidden: int, ffn: int) -> float:
    per_layer = sum(4 * n * hidden**2 + 2 * n * hidden * ffn + 2 * n * n * hidden for n in lengths)
    return 2.0 * layers * per_layer


def gemm_gflops(hidden: int, ffn: int) -> float:
    """GFLOP/s of (GEMM_ROWS x hidden) @ (hidden x ffn) with torch's default threads, float32
    inputs (bfloat16 products under the caller's autocast)."""
    import torch  # noqa: PLC0415 - the transformer extra

    a, b = torch.randn(GEMM_ROWS, hidden), torch.randn(hidden, ffn)
    for _ in range(3):
        torch.mm(a, b)
    started = time.perf_counter()
    for _ in range(GEMM_REPEATS):
        torch.mm(a, b)
    seconds = time.perf_counter() - started
    return 2.0 * GEMM_ROWS * hidden * ffn * GEMM_REPEATS / seconds / 1e9


def run_embed_speed(dataset: Path, *, docs: int, model: str) -> dict[str, Any]:
    embedder = load_embedder(model)
    if not isinstance(embedder, TransformerEmbedder):
        raise ConfigError(f"{model!r} is not a transformer embedder.", hint="Try --model minilm.")
    texts = read_texts(dataset, docs)
    config = embedder._model[0].auto_model.config  # noqa: SLF001 - the one place that needs the shape
    tokenizer = embedder._model.tokenizer  # noqa: SLF001
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=embedder.max_seq_length)["input_ids"]]
    flops = encoder_flops(lengths, config.num_hidden_layers, config.hidden_size, config.intermediate_size)
    embedder.encode(texts[:32])  # warm-up: first-call allocations and thread start
    started = time.perf_counter()
    embedder.encode(texts)
    seconds = time.perf_counter() - started
    with embedder.computing():  # the ceiling in the precision the encoder computes in
        ceiling = gemm_gflops(config.hidden_size, config.intermediate_size)
    achieved = flops / seconds / 1e9
    return {
        "model": embedder.name, "precision": embedder.precision, "docs": len(texts),
        "mean_tokens": round(sum(lengths) / len(lengths), 1),
        "gflop_per_doc": round(flops / len(texts) / 1e9, 3), "encode_s": round(seconds, 1),
        "docs_per_s": round(len(texts) / seconds, 1), "achieved_gflops": round(achieved, 1),
        "gemm_gflops": round(ceiling, 1), "ceiling_docs_per_s": round(ceiling * 1e9 * len(texts) / flops, 1),
        "share_of_ceiling": round(achieved / ceiling, 3),
    }
