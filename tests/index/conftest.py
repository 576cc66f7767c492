import pytest

from paperfeed.index.embed import DEFAULT_EMBEDDER, Embedder, load_embedder


@pytest.fixture(scope="module")
def static() -> Embedder:
    """The bundled static embedder (loaded once per module: ~1 s)."""
    return load_embedder(DEFAULT_EMBEDDER)
