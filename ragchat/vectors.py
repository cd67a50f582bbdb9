"""FAISS vector index with our own int64 ids: exact search for small corpora, HNSW for large ones.

Vectors are L2-normalised by the embedder, so inner product (METRIC_INNER_PRODUCT) is cosine similarity.
Both kinds sit in an IndexIDMap2, which maps our ids and can hand a stored vector back (reconstruct), so
unchanged chunks keep their vectors across incremental updates without re-embedding.
HNSW graphs cannot remove nodes: deleted ids are remembered and filtered from results, and the graph is
rebuilt from the surviving vectors once deletions pass a quarter of it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

EXACT = "flat"
HNSW = "hnsw"
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """One query gains nothing from a second OpenMP thread, and IndexIDMap2 wakes one for every search to
    translate ids: on a busy 2-core machine that costs 4 ms per query against 0.1 ms with one thread
    (docs/BENCHMARKS.md). Builds keep FAISS's default, where threads do help (HNSW construction)."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _new_faiss_index(dim: int, kind: str):
    import faiss

    if kind == HNSW:
        inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        inner = faiss.IndexFlatIP(dim)
    return faiss.IndexIDMap2(inner)


class VectorIndex:
    def __init__(self, dim: int, kind: str = EXACT, index=None, deleted: Sequence[int] = ()) -> None:
        self.dim = dim
        self.kind = kind
        self._index = index if index is not None else _new_faiss_index(dim, kind)
        self._deleted: set[int] = set(int(i) for i in deleted)

    def __len__(self) -> int:
        return int(self._index.ntotal) - len(self._deleted)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[1] != self.dim:
            raise ValueError(f"vectors have dim {vectors.shape[1]}, index has {self.dim}")
        self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> None:
        if not len(ids):
            return
        if self.kind == EXACT:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))
        else:
            self._deleted.update(int(i) for i in ids)
            if len(self._deleted) > self._index.ntotal // 4:
                self._compact()

    def get(self, ids: Sequence[int]) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(id, cosine) pairs, best first."""
        live = len(self)
        if live == 0 or k <= 0:
            return []
        fetch = min(k + len(self._deleted), int(self._index.ntotal))
        with _one_thread():
            scores, ids = self._index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), fetch)
        out = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0 and int(i) not in self._deleted]
        return out[:k]

    def converted(self, kind: str) -> "VectorIndex":
        """The same vectors in an index of another kind (used when a corpus crosses the HNSW threshold)."""
        ids = self.ids()
        other = VectorIndex(self.dim, kind)
        other.add(ids, self.get(ids))
        return other

    def ids(self) -> np.ndarray:
        import faiss

        all_ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        if self._deleted:
            all_ids = all_ids[~np.isin(all_ids, np.fromiter(self._deleted, dtype=np.int64))]
        return all_ids

    def _compact(self) -> None:
        fresh = self.converted(self.kind)
        self._index, self._deleted = fresh._index, set()

    def save(self, path: Path) -> list[int]:
        import faiss

        faiss.write_index(self._index, str(path))
        return sorted(self._deleted)

    @classmethod
    def load(cls, path: Path, kind: str, deleted: Sequence[int] = ()) -> "VectorIndex":
        import faiss

        index = faiss.read_index(str(path))
        return cls(int(index.d), kind, index, deleted)
