"""The Milvus backend against the FAISS one and on its own: same keyword ranking, incremental updates that
write only what changed (counted), the atomic switch, and errors that name the fix. Real milvus-lite, no mocks;
the network path (a milvus-lite server on a port) and kill -9 of a build are in test_milvus_server.py (slow).
A server noticing an index built by another writer runs on both backends in test_qa.py."""

from __future__ import annotations

import json

import pytest

from ragchat import IndexMismatchError, IndexMissingError, build_index
from ragchat.errors import StoreUnavailableError
from ragchat.indexing import index_config
from ragchat.store import open_store, sentence_key, unit_texts

from .conftest import QA_FILE, SEED_FILE

pytest.importorskip("pymilvus")


def _questions() -> list[str]:
    return [json.loads(line)["question"] for line in QA_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def both(seed_index, milvus_seed_index):
    """The seed index in each backend: (FAISS store, Milvus store)."""
    return open_store(seed_index), open_store(milvus_seed_index)


def test_keyword_search_ranks_as_the_faiss_backend(both):
    """ragchat's terms behind Milvus' BM25 Function give bm25s' ranking, and scores in the same ratios (Milvus
    multiplies each by k1 + 1; fusion divides by the query's best, so only ratios matter)."""
    faiss, milvus = both
    for question in _questions():
        a, b = faiss.search_keyword(question, len(faiss)), milvus.search_keyword(question, len(milvus))
        # Every chunk that matches, with the same score relative to the best (equal scores may come in either order).
        ratios = {c.id: s / b[0][1] for c, s in b}
        assert ratios == pytest.approx({c.id: s / a[0][1] for c, s in a}, rel=1e-4), question
        assert sorted(ratios.values(), reverse=True) == pytest.approx([s / a[0][1] for _, s in a], rel=1e-4)


def test_dense_search_and_term_weights_match_the_faiss_backend(both, embedder):
    faiss, milvus = both
    for question in _questions()[:10]:
        vector = embedder.encode_query(question)
        a, b = faiss.search_dense(vector, 10), milvus.search_dense(vector, 10)
        assert [c.id for c, _ in a] == [c.id for c, _ in b]
        assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-5)
        terms = sorted(set(faiss.terms([question])[0]))
        assert faiss.term_weights(terms) == pytest.approx(milvus.term_weights(terms))
    assert faiss.calibration == milvus.calibration and len(faiss) == len(milvus)
    assert faiss.files() == milvus.files() and faiss.language == milvus.language


def test_a_document_filter_runs_inside_milvus(both, embedder):
    _, milvus = both
    vector = embedder.encode_query("When did Shoigu visit North Korea?")
    assert milvus.search_dense(vector, 5, sources=["no-such-file.txt"]) == []
    assert milvus.search_keyword("Shoigu", 5, sources=[]) == []
    assert {c.source for c, _ in milvus.search_dense(vector, 5, sources=[SEED_FILE.name])} == {SEED_FILE.name}


def test_reindexing_one_changed_file_writes_only_its_changed_rows(corpus, settings_for, embedder):
    (corpus / "other.txt").write_text(
        "The lighthouse at Quenby was built in 1872.\n\nIts lamp burned whale oil until 1911, then kerosene.\n"
        "Keepers lived in the cottage beside it until the light was automated in 1965.\n", encoding="utf-8")
    settings = settings_for(corpus, store="milvus")
    first = build_index(settings, embedder)
    before = open_store(settings)
    old = {c.id: c for c, _ in before.search_dense(embedder.encode_query("lighthouse"), 1000)}
    old_ids = set(old)
    assert len(old_ids) == first.chunks

    text = (corpus / "other.txt").read_text(encoding="utf-8")
    (corpus / "other.txt").write_text(text.replace("kerosene", "paraffin"), encoding="utf-8")
    second = build_index(settings, embedder)
    assert second.updated == ("other.txt",) and second.unchanged == (SEED_FILE.name,)

    after = open_store(settings)
    new_chunks = {c.id: c for c, _ in after.search_dense(embedder.encode_query("lighthouse"), 1000)}
    assert len(new_chunks) == second.chunks == first.chunks
    changed = set(new_chunks) - old_ids
    assert changed and all(new_chunks[i].source == "other.txt" for i in changed)
    rows = second.rows
    # Only the edited file's changed passages are written and its old ones deleted; the seed's 34 are untouched.
    assert rows.chunks_upserted == len(changed) and rows.chunks_deleted == len(old_ids - set(new_chunks))
    old_keys = {sentence_key(t) for c in old.values() for t in unit_texts(c)}
    new_keys = {sentence_key(t) for c in new_chunks.values() for t in unit_texts(c)}
    assert rows.sentences_upserted == len(new_keys - old_keys) and rows.sentences_deleted == len(old_keys - new_keys)
    assert rows.sentences_upserted <= 2 and rows.chunks_upserted < first.chunks // 10
    # The reader that loaded before the switch still reads its own, complete generation.
    assert before.generation != after.generation
    assert before.latest_generation() == after.generation
    old_hit = before.search_keyword("kerosene", 3)
    assert old_hit and "kerosene" in old_hit[0][0].text


@pytest.mark.slow
def test_a_rebuild_of_unchanged_files_writes_no_chunk_rows_and_another_dimension_is_refused(corpus, settings_for, embedder):
    settings = settings_for(corpus, store="milvus")
    build_index(settings, embedder)
    report = build_index(settings, embedder, rebuild=True)
    assert report.rebuilt == "--rebuild asked for" and report.rows.chunks_upserted == 0  # same rows: nothing to write
    wanted = index_config(settings, embedder)
    with pytest.raises(IndexMismatchError, match="ragchat index --rebuild"):
        open_store(settings, expect=type(wanted)(**{**wanted.__dict__, "dim": wanted.dim + 1}))


def test_a_missing_index_and_an_unreachable_server_name_the_fix(tmp_path, settings_for, corpus):
    from ragchat.api import rag_error_status

    with pytest.raises(IndexMissingError, match="run `ragchat index`"):
        open_store(settings_for(corpus, store="milvus"))
    with pytest.raises(StoreUnavailableError, match="RAGCHAT_STORE=faiss") as caught:
        open_store(settings_for(corpus, store="milvus", milvus_uri="http://127.0.0.1:9"))
    assert rag_error_status(caught.value) == (503, "store_unavailable")


@pytest.mark.slow
def test_a_local_milvus_folder_cannot_be_opened_by_a_second_process(corpus, settings_for, embedder):
    """milvus-lite serves a .db folder from one process; a second one is told to run its server instead."""
    import subprocess
    import sys

    settings = settings_for(corpus, store="milvus")
    build_index(settings, embedder)
    open_store(settings)  # this process now holds the folder
    code = ("import sys; from ragchat import Settings; from ragchat.store import open_store; "
            f"open_store(Settings(index_dir=__import__('pathlib').Path({str(settings.index_dir)!r}), store='milvus'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "milvus-lite server" in done.stderr and "StoreUnavailableError" in done.stderr
