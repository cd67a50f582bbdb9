"""Question → ranked Hits: dense (embedder + FAISS) and keyword (BM25) candidates, fused.

Fusion is a convex combination over the union of both searches' candidates, each scored on both: the dense side
(the chunk's cosine + UNIT_WEIGHT × its closest unit's cosine) min-max scaled over this query's candidates, plus
KEYWORD_WEIGHT × (BM25 / best BM25 for this query). Scaling both sides per query keeps the weight's meaning
whatever band an embedder's cosines fall in. The weight was chosen on the dev split of the dev suite
(bench/corpora; docs/BENCHMARKS.md, "Fusion on each query's own scale"): 0.7 gives the best mean hit@1 and MRR
over the eight corpora the embedder reads (0.75 / 0.83, against 0.69 / 0.79 for the earlier raw-cosine fusion
at 0.3), and the held-out split agrees on hit@1. RRF stays available (`method="rrf"`) for comparison.

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

KEYWORD_WEIGHT = 0.7
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
    keyword_weight: float = KEYWORD_WEIGHT

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
            return fuse(dense, keyword, k, "convex", closest, self.keyword_weight)
        return fuse(dense, keyword, k, "rrf" if method == "rrf" else "convex", keyword_weight=self.keyword_weight)


def fuse(
    dense: list[tuple[Chunk, float]], keyword: list[tuple[Chunk, float]], k: int, how: str = "convex",
    closest: dict[str, float] | None = None, keyword_weight: float = KEYWORD_WEIGHT,
) -> list[Hit]:
    """Merge ranked (chunk, score) lists from the two retrievers into the top k Hits; `closest` (chunk id →
    cosine of its closest unit) adds UNIT_WEIGHT × that to the dense side of a convex fusion.

    With both lists, each side of a convex fusion is scaled to [0, 1] over this query's candidates (the dense
    side by min-max, BM25 by its best) before keyword_weight weighs them. Cosines fall in a band of the
    embedder's own (e5's model card: 0.7-1.0) and of the corpus's: MiniLM's spread over a query's candidates
    is 0.35 on the seed (one article, all on topic) and 0.62 on the handbook (median), so a weight on raw
    cosines would mean something else for each."""
    table: dict[str, dict] = {}
    for name, ranked in (("dense", dense), ("keyword", keyword)):
        for rank, (chunk, score) in enumerate(ranked, start=1):
            row = table.setdefault(chunk.id, {})
            row["chunk"] = chunk
            row[f"{name}_score"], row[f"{name}_rank"] = score, rank
    for chunk_id, row in table.items():
        if how == "rrf":
            row["fused"] = sum(1.0 / (RRF_K + row[f"{n}_rank"]) for n in ("dense", "keyword") if f"{n}_rank" in row)
        elif "dense_score" in row:
            row["fused"] = row["dense_score"] + UNIT_WEIGHT * (closest or {}).get(chunk_id, 0.0)
        else:
            row["fused"] = row.get("keyword_score", 0.0)
    if how != "rrf" and dense and keyword:
        sides = [r["fused"] for r in table.values() if "dense_score" in r]
        low, spread = min(sides), (max(sides) - min(sides)) or 1.0
        best_keyword = max(s for _, s in keyword) or 1.0
        for row in table.values():
            side = (row["fused"] - low) / spread if "dense_score" in row else 0.0
            row["fused"] = side + keyword_weight * row.get("keyword_score", 0.0) / best_keyword
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
