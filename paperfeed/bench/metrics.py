"""Retrieval metrics as BEIR/pytrec_eval compute them: nDCG@k with linear gains and
log2 discounts, Recall@k; averaged over queries that have at least one relevant document."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]  # query id -> doc id -> graded relevance


def ndcg_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    gains = [judged.get(doc, 0) for doc in ranked[:k]]
    dcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains) if gain > 0)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    relevant = {doc for doc, gain in judged.items() if gain > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def evaluate(run: Mapping[str, Sequence[str]], qrels: Qrels) -> dict[str, float]:
    """Mean nDCG@10 and Recall@100 of `run` (query id -> ranked doc ids) over judged queries."""
    judged = [qid for qid, docs in qrels.items() if any(g > 0 for g in docs.values())]
    if not judged:
        return {"ndcg@10": 0.0, "recall@100": 0.0, "queries": 0}
    ndcg = sum(ndcg_at_k(run.get(qid, []), qrels[qid], 10) for qid in judged) / len(judged)
    recall = sum(recall_at_k(run.get(qid, []), qrels[qid], 100) for qid in judged) / len(judged)
    return {"ndcg@10": round(ndcg, 4), "recall@100": round(recall, 4), "queries": len(judged)}
