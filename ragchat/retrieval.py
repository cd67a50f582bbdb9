"""Question → ranked Hits: dense (embedder + FAISS) and keyword (BM25) candidates, fused.

Fusion is a convex combination: the chunk's cosine + UNIT_WEIGHT × its closest unit's cosine + KEYWORD_WEIGHT ×
(BM25 / best BM25 for this query), over the union of both searches' candidates, each scored on both. The weight was
chosen on the dev split of the four-corpus dev suite (bench/corpora; docs/BENCHMARKS.md, "Fusion weight"):
0.1 suits the paraphrase-heavy seed article, but documentation pages, PDFs and Chinese text (which the
English embedder barely reads) want more of BM25's exact terms; 0.3 gives the best mean hit@5 over the four
(0.80, against 0.79 for 0.1 and 0.5), and beats reciprocal rank fusion on three of them.
RRF stays available (`method="rrf"`) for comparison.

A library in a language the embedder was not trained on (Embedder.reads: all-MiniLM-L6-v2 reads English) is
searched by keyword alone: on the Chinese corpus hybrid hit@5 rose from 0.67 to 0.93 (BM25's own), and
extractive accuracy from 0.33 to 0.53; English libraries are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection

import numpy as np

from .embedding import Embedder
from .store import Store, open_store
from .types import Chunk, Hit

KEYWORD_WEIGHT = 0.3
# How much a candidate's closest unit (sentence, row, item) counts beside the chunk's mean vector: a chunk whose
# one sentence answers is diluted by the rest in the mean. 1.0 on the dev suite: hit@1 seed 0.79 → 0.86,
# handbook 0.86 → 0.90, PDFs 0.60 → 0.65, hit@5 unchanged or up; held-out PDFs 0.50 → 0.57, the rest
# unchanged (docs/BENCHMARKS.md, "Closest unit in fusion").
UNIT_WEIGHT = 1.0
RRF_K = 60  # Cormack et al. (2009)
METHODS = ("hybrid", "dense", "keyword", "rrf")


@dataclass
class Retriever:
    store: Store
    embedder: Embedder
    candidates: int = 30

    def search(
        self, question: str, k: int = 5, method: str = "hybrid", query_vector=None,
        sources: Collection[str] | None = None,
    ) -> list[Hit]:
        """The k best chunks; pass query_vector when the caller has already embedded the question, and
        `sources` (document names) to search only those documents."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        # Restricted to some documents (`sources`), the store searches only theirs (store.FaissStore.search_dense).
        n = max(k, self.candidates)
        if method == "hybrid" and not self.embedder.reads(self.store.language.code):
            # Vectors of text the embedder was not trained on rank no better than chance and would only push
            # keyword matches down: a library in such a language is searched by its words.
            method = "keyword"
        if method != "keyword" and query_vector is None:
            query_vector = self.embedder.encode_query(question)
        dense = self.store.search_dense(query_vector, n, sources) if method != "keyword" else []
        keyword = self.store.search_keyword(question, n, sources) if method != "dense" else []
        if method == "hybrid" and dense:
            # A chunk BM25 ranks high but the dense search did not return scores no cosine at all in the sum,
            # and drops below dense-only candidates it beats on both counts: give it its own cosine.
            seen = {c.id for c, _ in dense}
            missing = [c for c, _ in keyword if c.id not in seen]
            extra = sorted(zip(missing, self.store.dense_scores(query_vector, missing)), key=lambda p: -p[1])
            dense = dense + extra  # ranked after the dense search's own, as they are
            q = np.asarray(query_vector, dtype=np.float32)
            units = self.store.sentences_of_all([c for c, _ in dense])
            closest = {c.id: float(np.max(u @ q)) for (c, _), u in zip(dense, units)}
            return fuse(dense, keyword, k, "convex", closest)
        return fuse(dense, keyword, k, "rrf" if method == "rrf" else "convex")


def fuse(
    dense: list[tuple[Chunk, float]], keyword: list[tuple[Chunk, float]], k: int, how: str = "convex",
    closest: dict[str, float] | None = None,
) -> list[Hit]:
    """Merge ranked (chunk, score) lists from the two retrievers into the top k Hits; `closest` (chunk id →
    cosine of its closest unit) adds UNIT_WEIGHT × that to a convex fusion."""
    table: dict[str, dict] = {}
    for chunk_id, cosine in (closest or {}).items():
        table[chunk_id] = {"fused": UNIT_WEIGHT * cosine}
    best_keyword = max((s for _, s in keyword), default=0.0) or 1.0
    for name, ranked in (("dense", dense), ("keyword", keyword)):
        for rank, (chunk, score) in enumerate(ranked, start=1):
            row = table.setdefault(chunk.id, {"fused": 0.0})
            row["chunk"] = chunk
            row[f"{name}_score"], row[f"{name}_rank"] = score, rank
            if how == "rrf":
                row["fused"] += 1.0 / (RRF_K + rank)
            elif name == "keyword" and dense:
                row["fused"] += KEYWORD_WEIGHT * score / best_keyword
            else:
                row["fused"] += score
    ordered = _distinct(sorted(table.values(), key=lambda r: (-r["fused"], r["chunk"].source, r["chunk"].start)), k)
    return [
        Hit(
            chunk=row["chunk"],
            score=row["fused"],
            rank=rank,
            dense_score=row.get("dense_score"),
            dense_rank=row.get("dense_rank"),
            keyword_score=row.get("keyword_score"),
            keyword_rank=row.get("keyword_rank"),
        )
        for rank, row in enumerate(ordered, start=1)
    ]


def _distinct(rows: list[dict], k: int) -> list[dict]:
    """The best k rows, skipping a chunk that mostly repeats a better one (consecutive chunks share their
    overlap; the same text would otherwise fill two of the k places and be cited twice)."""
    chosen: list[dict] = []
    for row in rows:
        c = row["chunk"]
        if any(o["chunk"].source == c.source and _shared(o["chunk"], c) > 0.5 for o in chosen):
            continue
        chosen.append(row)
        if len(chosen) == k:
            break
    return chosen


def _shared(a: Chunk, b: Chunk) -> float:
    """The share of the shorter chunk that the two have in common."""
    overlap = min(a.end, b.end) - max(a.start, b.start)
    return max(overlap, 0) / max(min(a.end - a.start, b.end - b.start), 1)


def open_retriever(settings, embedder: Embedder) -> Retriever:
    """The retriever over the current index, checked against the embedder that will encode queries."""
    from .indexing import index_config

    store = open_store(settings, expect=index_config(settings, embedder))
    return Retriever(store, embedder, settings.candidates)
