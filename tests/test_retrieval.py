import pytest

from ragchat import Chunk, Hit
from ragchat.evaluation import evaluate_retrieval, load_qa
from ragchat.retrieval import KEYWORD_WEIGHT, UNIT_WEIGHT, fuse

from .conftest import QA_FILE


def _chunk(i: int) -> Chunk:
    return Chunk(id=f"c{i}", source="s.txt", start=i * 10, end=i * 10 + 5, text=f"text {i}")


def test_fuse_weighs_both_sides_on_this_querys_own_scale():
    dense = [(_chunk(1), 0.80), (_chunk(2), 0.79), (_chunk(3), 0.50)]
    keyword = [(_chunk(2), 12.0), (_chunk(4), 6.0)]
    hits = fuse(dense, keyword, k=3)
    assert [h.chunk.id for h in hits] == ["c2", "c1", "c4"]  # c3: the lowest cosine and no keyword
    assert [h.rank for h in hits] == [1, 2, 3]
    top = hits[0]
    assert (top.dense_rank, top.keyword_rank, top.keyword_score) == (2, 1, 12.0)
    assert top.score == pytest.approx((0.79 - 0.50) / (0.80 - 0.50) + KEYWORD_WEIGHT)


def test_fusion_does_not_depend_on_the_embedders_band_of_cosines():
    """An embedder whose cosines crowd into a narrow band (e5: 0.80-0.86) fuses as one that spreads them
    (MiniLM: 0.2-0.8): the same ranks, so KEYWORD_WEIGHT means the same for either."""
    wide = [(_chunk(i), c) for i, c in enumerate((0.8, 0.7, 0.5, 0.3, 0.2), start=1)]
    narrow = [(chunk, 0.8 + c / 10) for chunk, c in wide]
    keyword = [(_chunk(4), 9.0), (_chunk(3), 5.0), (_chunk(6), 4.0)]
    ranks = [[h.chunk.id for h in fuse(d, keyword, 6)] for d in (wide, narrow)]
    assert ranks[0] == ranks[1]
    assert ranks[0][:3] == ["c1", "c3", "c4"]


def test_fuse_adds_each_candidates_closest_unit():
    """A chunk whose one sentence answers outranks one whose mean vector is a little closer."""
    dense = [(_chunk(1), 0.60), (_chunk(2), 0.55)]
    hits = fuse(dense, [], k=2, closest={"c1": 0.60, "c2": 0.80})
    assert [h.chunk.id for h in hits] == ["c2", "c1"]
    assert hits[0].score == pytest.approx(0.55 + UNIT_WEIGHT * 0.80)


def test_a_keyword_only_candidate_is_scored_on_both_counts(retriever):
    """BM25's best match that the dense search did not return gets its own cosine (Store.dense_scores), not
    0: the hybrid never ranks it below what it would be on its cosine and BM25 share."""
    import numpy as np

    question = "Which document did Shoigu hand over in Pyongyang?"
    vector = retriever.embedder.encode_query(question)
    keyword = retriever.store.search_keyword(question, 5)
    cosines = retriever.store.dense_scores(vector, [c for c, _ in keyword])
    stored = [float(retriever.store.sentences_of(c).mean(axis=0) @ vector) for c, _ in keyword]
    assert all(-1.0 <= x <= 1.0 for x in cosines) and len(cosines) == len(keyword)
    assert np.corrcoef(cosines, stored)[0, 1] > 0.5  # the chunk vectors, not noise
    hybrid = {h.chunk.id: h for h in retriever.search(question, 30, query_vector=vector)}
    for (chunk, _), cosine in zip(keyword, cosines):
        if chunk.id in hybrid:
            assert hybrid[chunk.id].dense_score == pytest.approx(cosine, abs=1e-4)


def test_the_units_of_many_chunks_come_as_each_chunks_own(retriever):
    import numpy as np

    chunks = [h.chunk for h in retriever.search("Shoigu visit to Pyongyang", 8)]
    together = retriever.store.sentences_of_all(chunks)
    assert len(together) == len(chunks)
    for chunk, units in zip(chunks, together):
        assert np.array_equal(units, retriever.store.sentences_of(chunk))


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
    # 0.967 with the weights the four-corpus suite chose (docs/BENCHMARKS.md, "Fusion weight", "Closest unit").
    assert hybrid.hit_at_5 >= 0.96, hybrid.missed
    assert hybrid.mrr >= max(dense.mrr, keyword.mrr)


def test_qa_gold_strings_are_verbatim_in_the_seed(seed_text):
    for item in load_qa(QA_FILE):
        if item.answerable:
            assert item.gold in seed_text, item.id
            assert all(a in seed_text for a in item.answers), item.id


def test_a_library_in_a_language_the_embedder_does_not_read_is_searched_by_its_words(tmp_path, embedder):
    """all-MiniLM-L6-v2 learned English only: on Chinese its vectors rank passages near chance (dev suite: dense
    hit@5 0.40, BM25 0.93), so hybrid search there is keyword search. An embedder of unknown languages (given by
    path) is trusted, and English libraries keep both."""
    from dataclasses import replace

    from ragchat import Settings, build_index
    from ragchat.retrieval import Retriever
    from ragchat.store import FaissStore

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "zh.txt").write_text(
        "系统启动时，内核首先挂载根文件系统。\n\n然后 systemd 按照单元文件启动各项服务。\n\n"
        "网络配置保存在 /etc/network/interfaces 文件中。\n", encoding="utf-8")
    settings = Settings(seeds_dir=seeds, index_dir=tmp_path / "index")
    build_index(settings, embedder)
    store = FaissStore.load(settings.index_dir)
    assert store.language.code == "zh" and not embedder.reads("zh") and embedder.reads("en")
    hits = Retriever(store, embedder).search("网络配置保存在哪里？", 2)
    assert "网络配置" in hits[0].chunk.text
    assert all(h.dense_score is None and h.keyword_score is not None for h in hits)
    trusting = Retriever(store, replace(embedder, languages=None)).search("网络配置保存在哪里？", 2)
    assert any(h.dense_score is not None for h in trusting)


def test_an_english_library_keeps_dense_and_keyword_search(retriever):
    hits = retriever.search("When did Shoigu visit North Korea?", 5)
    assert any(h.dense_score is not None for h in hits) and any(h.keyword_score is not None for h in hits)
