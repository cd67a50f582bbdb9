"""BM25 keyword index over chunk texts (bm25s), persisted beside the vectors.

Positions in this index are positions in the list of ids it was built with; the store keeps that list
and rebuilds this index whenever the chunk set changes (BM25 statistics are corpus-wide, and bm25s
builds thousands of chunks in milliseconds), so keyword and vector search always see the same chunks.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from .language import Language, get as get_language


def tokenize(texts: Sequence[str], language: Language | None = None) -> list[list[str]]:
    """Keyword terms of each text in the corpus's language (stop words out, stemmed; CJK as bigrams)."""
    return (language or get_language("en")).terms(texts)


def _quiet() -> None:
    import logging

    logging.getLogger("bm25s").setLevel(logging.ERROR)  # it warns on every build that it builds


class KeywordIndex:
    def __init__(self, retriever, ids: np.ndarray, language: Language) -> None:
        self._retriever = retriever
        self.ids = ids  # int64 store ids, one per indexed text, in order
        self.language = language

    @classmethod
    def build(cls, ids: Sequence[int], texts: Sequence[str], language: Language) -> "KeywordIndex":
        import bm25s

        _quiet()
        retriever = bm25s.BM25()
        if texts:
            retriever.index(_nonempty(tokenize(texts, language)), show_progress=False)
        return cls(retriever, np.asarray(ids, dtype=np.int64), language)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(store id, BM25 score) pairs, best first; only chunks sharing at least one term."""
        if len(self.ids) == 0:
            return []
        vocab = self._retriever.vocab_dict
        terms = [t for t in tokenize([query], self.language)[0] if t in vocab]
        if not terms:
            return []
        k = min(k, len(self.ids))
        positions, scores = self._retriever.retrieve([terms], k=k, show_progress=False, n_threads=1)
        return [
            (int(self.ids[p]), float(s)) for p, s in zip(positions[0], scores[0]) if s > 0
        ]

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each (tokenized) term; a term no passage holds weighs most."""
        n = len(self.ids)
        index = self._retriever
        vocab = getattr(index, "vocab_dict", None) or {}
        indptr = index.scores["indptr"] if n else None
        out = {}
        for term in terms:
            at = vocab.get(term)
            df = 0 if at is None else int(indptr[at + 1] - indptr[at])
            out[term] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return out

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "ids.npy", self.ids)
        if len(self.ids):
            self._retriever.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, language: Language) -> "KeywordIndex":
        import bm25s

        ids = np.load(directory / "ids.npy", allow_pickle=False)
        retriever = bm25s.BM25.load(str(directory), show_progress=False) if len(ids) else bm25s.BM25()
        return cls(retriever, ids, language)


def _nonempty(rows: list[list[str]]) -> list[list[str]]:
    # bm25s cannot index a document with no terms (a chunk of stop words or symbols only).
    return [row or ["\u2205"] for row in rows]
