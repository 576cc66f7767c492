"""The FLOP count `bench embed-speed` divides by, checked against a hand count."""

import pytest

from paperfeed.bench.embed_speed import encoder_flops


def test_encoder_flops_counts_projections_ffn_and_attention() -> None:
    # one layer, h 2, f 4, one sequence of 3 tokens:
    # projections 4*3*2*2 = 48, FFN 2*3*2*4 = 48, attention 2*3*3*2 = 36 multiply-adds
    assert encoder_flops([3], layers=1, hidden=2, ffn=4) == 2 * (48 + 48 + 36)
    assert encoder_flops([3, 3], layers=2, hidden=2, ffn=4) == 4 * encoder_flops([3], layers=1, hidden=2, ffn=4)


def test_minilm_paper_costs_about_five_gflop() -> None:
    # all-MiniLM-L6-v2 (6 x 384, FFN 1536) on a full 256-token paper:
    # 6 x 2 x (150,994,944 + 301,989,888 + 50,331,648)
    assert encoder_flops([256], layers=6, hidden=384, ffn=1536) / 1e9 == pytest.approx(6.040, abs=0.001)


def test_read_texts_embeds_what_the_index_embeds(tmp_path) -> None:
    import json

    from paperfeed.bench.embed_speed import read_texts

    records = [{"_id": f"d{i}", "title": f"Title {i}", "text": f"Abstract number {i}."} for i in range(3)]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert read_texts(tmp_path, 2) == ["Title 0. Abstract number 0.", "Title 1. Abstract number 1."]
