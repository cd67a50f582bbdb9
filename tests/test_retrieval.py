import pytest

from ragchat import Chunk, Hit
from ragchat.evaluation import evaluate_retrieval, load_qa
from ragchat.retrieval import KEYWORD_WEIGHT, fuse

from .conftest import QA_FILE


def _chunk(i: int) -> Chunk:
    return Chunk(id=f"c{i}", source="s.txt", start=i * 10, end=i * 10 + 5, text=f"text {i}")


def test_fuse_prefers_dense_and_breaks_ties_with_keywords():
    dense = [(_chunk(1), 0.80), (_chunk(2), 0.79), (_chunk(3), 0.50)]
    keyword = [(_chunk(2), 12.0), (_chunk(4), 6.0)]
    hits = fuse(dense, keyword, k=3)
    assert [h.chunk.id for h in hits] == ["c2", "c1", "c3"]
    assert [h.rank for h in hits] == [1, 2, 3]
    top = hits[0]
    assert (top.dense_rank, top.keyword_rank, top.keyword_score) == (2, 1, 12.0)
    assert top.score == pytest.approx(0.79 + KEYWORD_WEIGHT)


def test_fuse_rrf_and_single_lists():
    dense = [(_chunk(1), 0.9), (_chunk(2), 0.8)]
    keyword = [(_chunk(2), 3.0)]
    assert [h.chunk.id for h in fuse(dense, keyword, 2, "rrf")] == ["c2", "c1"]
    assert [h.score for h in fuse([], keyword, 5)] == [3.0]  # keyword alone keeps its own scores
    assert fuse([], [], 5) == []


def test_search_returns_typed_hits(retriever):
    hits = retriever.search("When did Shoigu visit North Korea?", 5)
    assert len(hits) == 5 and all(isinstance(h, Hit) for h in hits)
    assert any("At the end of July" in h.chunk.text for h in hits)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_keyword_search_keeps_short_tokens(retriever):
    hits = retriever.search("3 million people", 3, method="keyword")
    assert any("about 3 million people" in h.chunk.text for h in hits)


def test_unknown_words_find_nothing_by_keyword(retriever):
    assert retriever.search("zzzxqj qqqv", 5, method="keyword") == []


def test_hybrid_meets_the_retrieval_target(retriever):
    items = load_qa(QA_FILE)
    assert sum(q.answerable for q in items) >= 40
    hybrid = evaluate_retrieval(retriever, items, "hybrid")
    dense = evaluate_retrieval(retriever, items, "dense")
    keyword = evaluate_retrieval(retriever, items, "keyword")
    # 0.945 with the fusion weight the four-corpus suite chose (0.3); 0.967 with 0.1, which the other
    # corpora pay for (docs/BENCHMARKS.md, "Fusion weight").
    assert hybrid.hit_at_5 >= 0.94, hybrid.missed
    assert hybrid.mrr >= max(dense.mrr, keyword.mrr)


def test_qa_gold_strings_are_verbatim_in_the_seed(seed_text):
    for item in load_qa(QA_FILE):
        if item.answerable:
            assert item.gold in seed_text, item.id
            assert all(a in seed_text for a in item.answers), item.id
