import json

import numpy as np
import pytest

from ragchat import Chunk, Document, FaissStore, IndexCorruptError, IndexMismatchError, IndexMissingError
from ragchat.store import IndexConfig, current_generation, sentence_key
from ragchat.vectors import EXACT, HNSW, VectorIndex

CONFIG = IndexConfig(embedder="test", dim=8, tokenizer="cl100k_base", chunk_tokens=100, chunk_overlap=10)


def _unit(rng, n, dim=8):
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _doc(source: str, n: int) -> tuple[Document, list[Chunk]]:
    text = " ".join(f"sentence {source} number {i}." for i in range(n))
    chunks, pos = [], 0
    for i in range(n):
        piece = f"sentence {source} number {i}."
        start = text.index(piece, pos)
        end = start + len(piece)
        chunks.append(Chunk(id=f"{source}-{i}", source=source, start=start, end=end, text=piece, sentences=((start, end),)))
        pos = start + len(piece)
    return Document(source=source, text=text, sha256=source * 4), chunks


@pytest.mark.parametrize("kind", [EXACT, HNSW])
def test_vector_index_add_delete_search_save_load(tmp_path, kind):
    rng = np.random.default_rng(0)
    vecs = _unit(rng, 200)
    index = VectorIndex(8, kind)
    index.add(np.arange(200), vecs)
    assert index.search(vecs[17], 1)[0][0] == 17
    index.remove([17, 18])
    assert len(index) == 198
    assert all(i not in (17, 18) for i, _ in index.search(vecs[17], 10))
    deleted = index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss", kind, deleted)
    assert len(loaded) == 198
    assert loaded.search(vecs[42], 1)[0][0] == 42
    assert np.allclose(loaded.get([42])[0], vecs[42], atol=1e-6)
    assert sorted(loaded.ids().tolist()) == [i for i in range(200) if i not in (17, 18)]


def test_hnsw_compacts_after_many_deletions():
    rng = np.random.default_rng(1)
    vecs = _unit(rng, 100)
    index = VectorIndex(8, HNSW)
    index.add(np.arange(100), vecs)
    index.remove(list(range(60)))
    assert len(index) == 40
    assert index._deleted == set()  # rebuilt from survivors rather than filtering 60 ids forever
    assert index.search(vecs[70], 1)[0][0] == 70


def _store() -> FaissStore:
    rng = np.random.default_rng(2)
    store = FaissStore.empty(CONFIG)
    for source in ("a.txt", "b.txt"):
        doc, chunks = _doc(source, 5)
        vectors = _unit(rng, 5)
        store.add_document(doc, chunks, vectors, {sentence_key(c.text): v for c, v in zip(chunks, vectors)})
    return store


def test_store_round_trip_and_delete(tmp_path):
    store = _store()
    store.save(tmp_path)
    loaded = FaissStore.load(tmp_path, expect=CONFIG)
    assert len(loaded) == 10
    assert loaded.files() == {"a.txt": "a.txt" * 4, "b.txt": "b.txt" * 4}
    assert loaded.search_keyword("sentence a.txt number 3", 1)[0][0].id == "a.txt-3"
    vec = loaded.sentences_of(loaded.chunk("b.txt-2"))[0]
    assert loaded.search_dense(vec, 1)[0][0].id == "b.txt-2"
    loaded.remove_document("a.txt")
    assert {c.source for c in loaded.chunks.values()} == {"b.txt"}
    assert all(c.source == "b.txt" for c, _ in loaded.search_keyword("sentence number", 10))
    loaded.save(tmp_path)
    again = FaissStore.load(tmp_path)
    assert len(again) == 5
    assert len(again.sentence_vectors) == 5  # the removed document's sentence vectors are gone too
    # Only the live generation is kept.
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("gen-")] == [current_generation(tmp_path).name]


def test_missing_index_names_the_command(tmp_path):
    with pytest.raises(IndexMissingError, match="run `ragchat index`"):
        FaissStore.load(tmp_path)


def test_index_from_another_embedder_is_refused(tmp_path):
    _store().save(tmp_path)
    other = IndexConfig(embedder="other-model", dim=16, tokenizer="cl100k_base", chunk_tokens=100, chunk_overlap=10)
    with pytest.raises(IndexMismatchError, match=r"built with embedder test \(dim 8\).*ragchat index --rebuild"):
        FaissStore.load(tmp_path, expect=other)


@pytest.mark.parametrize(
    "victim", ["vectors.faiss", "chunks.jsonl", "documents.jsonl", "keyword/ids.npy", "sentences.npy", "sentence_keys.json"]
)
def test_truncated_files_are_detected(tmp_path, victim):
    _store().save(tmp_path)
    path = current_generation(tmp_path) / victim
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError, match="ragchat index --rebuild"):
        FaissStore.load(tmp_path)


def test_garbled_files_are_detected(tmp_path):
    _store().save(tmp_path)
    gen = current_generation(tmp_path)
    path = gen / "vectors.faiss"
    size = path.stat().st_size
    path.write_bytes(b"\xff" * size)  # same size, so only parsing can tell
    with pytest.raises(IndexCorruptError, match="cannot be read"):
        FaissStore.load(tmp_path)
    (gen / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="manifest.json cannot be read"):
        FaissStore.load(tmp_path)


def test_dangling_current_pointer(tmp_path):
    _store().save(tmp_path)
    (tmp_path / "CURRENT").write_text("gen-404\n", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="missing index generation"):
        FaissStore.load(tmp_path)


def test_manifest_records_config_and_files(tmp_path):
    _store().save(tmp_path)
    manifest = json.loads((current_generation(tmp_path) / "manifest.json").read_text())
    assert manifest["embedder"] == "test" and manifest["dim"] == 8
    assert manifest["chunk_tokens"] == 100 and manifest["tokenizer"] == "cl100k_base"
    assert manifest["files"] == {"a.txt": "a.txt" * 4, "b.txt": "b.txt" * 4}
    assert manifest["index_kind"] == EXACT


def test_store_can_switch_to_hnsw_and_back(tmp_path):
    store = _store()
    vec = store.sentences_of(store.chunk("a.txt-1"))[0]
    store.use_kind(HNSW)
    store.save(tmp_path)
    loaded = FaissStore.load(tmp_path)
    assert loaded.vectors.kind == HNSW
    assert loaded.search_dense(vec, 1)[0][0].id == "a.txt-1"
