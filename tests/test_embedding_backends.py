"""The embedder's ONNX Runtime backends: same vectors as torch (fp32) or close (int8), exported once, recorded
in the index manifest so vectors of different backends never mix."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ragchat import FaissStore, Settings, build_index
from ragchat.embedding import load_embedder, split_name
from ragchat.errors import IndexMismatchError, ModelError
from ragchat.store import current_generation, read_manifest

TEXTS = [
    "Shoigu visited Pyongyang in July 2023.",
    "The lighthouse keepers left in 1998, when the light was automated.",
    "Kim Jong Un greeted the Russian defence minister at the airport.",
    "A short one.",
    "Debian packages are installed with apt-get, which resolves their dependencies " * 8,  # > 256 pieces: truncated
]


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def onnx_embedders(onnx_cache):
    return {b: load_embedder("all-MiniLM-L6-v2", threads=1, backend=b, cache_dir=onnx_cache)
            for b in ("onnx", "onnx-int8")}


def test_fp32_onnx_gives_torch_vectors_and_int8_stays_close(embedder, onnx_embedders):
    ref = embedder.encode_documents(TEXTS)
    fp32 = onnx_embedders["onnx"].encode_documents(TEXTS)
    int8 = onnx_embedders["onnx-int8"].encode_documents(TEXTS)
    assert fp32.shape == int8.shape == ref.shape and fp32.dtype == np.float32
    assert np.allclose(np.linalg.norm(int8, axis=1), 1, atol=1e-5)
    assert (fp32 * ref).sum(axis=1).min() > 0.9999
    assert (int8 * ref).sum(axis=1).min() > 0.95  # measured 0.978 at worst over 454 corpus sentences
    q = onnx_embedders["onnx-int8"].encode_query(TEXTS[0])
    assert np.allclose(q, int8[0], atol=1e-5)  # one at a time or in a batch: the same vector
    assert onnx_embedders["onnx"].max_seq_length == embedder.max_seq_length
    assert onnx_embedders["onnx"].piece_counts(TEXTS[:2]) == embedder.piece_counts(TEXTS[:2])


def test_a_model_that_declares_query_and_passage_prompts_gets_them_on_every_backend(embedder, tmp_path):
    """e5/bge-style folders embed questions as "query: …" and passages as "passage: …"; symmetric MiniLM
    (whose prompts sentence-transformers fills with empty strings) embeds both plainly."""
    from ragchat.embedding import resolve_embedder_path

    assert embedder.query_prompt is None and embedder.document_prompt is None
    folder = tmp_path / "asymmetric"
    folder.mkdir()
    for item in resolve_embedder_path("all-MiniLM-L6-v2").iterdir():
        if item.name != "config_sentence_transformers.json":
            (folder / item.name).symlink_to(item)
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "passage": "passage: "}}), encoding="utf-8")
    plain = embedder.encode_documents(["query: " + TEXTS[0], "passage: " + TEXTS[1]])
    for backend in ("torch", "onnx"):
        prompted = load_embedder(str(folder), threads=1, backend=backend, cache_dir=tmp_path / "cache")
        assert (prompted.query_prompt, prompted.document_prompt) == ("query", "passage")
        assert float(prompted.encode_query(TEXTS[0]) @ plain[0]) > 0.9999, backend
        assert float(prompted.encode_documents([TEXTS[1]])[0] @ plain[1]) > 0.9999, backend
        assert float(prompted.encode_query(TEXTS[0]) @ embedder.encode_query(TEXTS[0])) < 0.999, backend


def test_backend_is_part_of_the_embedder_name(embedder, onnx_embedders):
    assert embedder.name == "all-MiniLM-L6-v2" and embedder.backend == "torch"
    assert onnx_embedders["onnx-int8"].name == "all-MiniLM-L6-v2+onnx-int8"
    assert split_name("all-MiniLM-L6-v2+onnx") == ("all-MiniLM-L6-v2", "onnx")
    env = {"RAGCHAT_EMBED_BACKEND": "onnx-int8"}
    assert Settings.from_env(env).embedder == "all-MiniLM-L6-v2+onnx-int8"
    assert Settings.from_env({**env, "RAGCHAT_EMBED_BACKEND": "torch"}).embedder == "all-MiniLM-L6-v2"
    assert Settings.from_env({"RAGCHAT_EMBEDDER": "all-MiniLM-L6-v2+onnx", "RAGCHAT_EMBED_BACKEND": "torch"}
                             ).embed_backend == "torch"
    with pytest.raises(Exception, match="RAGCHAT_EMBED_BACKEND"):
        Settings.from_env({"RAGCHAT_EMBED_BACKEND": "tensorrt"})
    with pytest.raises(ModelError, match="unknown embedder backend"):
        load_embedder("all-MiniLM-L6-v2+tensorrt")


def test_export_is_cached_once_and_leaves_no_temporary_folder(onnx_cache, onnx_embedders):
    folders = sorted(p for p in onnx_cache.iterdir())
    assert [p.name.split("-")[-2] for p in folders if not p.name.startswith(".")] != []
    assert not [p for p in folders if p.name.startswith(".")], folders  # every export was renamed into place
    files = {p: p.stat().st_mtime_ns for p in onnx_cache.rglob("model.onnx")}
    assert len(files) == 2
    load_embedder("all-MiniLM-L6-v2", threads=1, backend="onnx-int8", cache_dir=onnx_cache)
    assert {p: p.stat().st_mtime_ns for p in onnx_cache.rglob("model.onnx")} == files  # reused, not re-exported
    meta = json.loads(next(onnx_cache.rglob("export.json")).read_text())
    assert len(meta["sha256"]) == 64


def test_switching_backend_rebuilds_and_the_manifest_says_which(corpus, tmp_path, embedder, onnx_embedders):
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, embedder)
    manifest = read_manifest(settings.index_dir)
    assert manifest["embedder"] == "all-MiniLM-L6-v2" and manifest["embedder_backend"] == "torch"
    assert {"ragchat", "faiss-cpu", "sentence-transformers", "python"} <= set(manifest["built_with"])

    report = build_index(settings, onnx_embedders["onnx-int8"])
    assert report.rebuilt == "embedder or chunking settings changed" and report.embedded > 0
    manifest = read_manifest(settings.index_dir)
    assert manifest["embedder"] == "all-MiniLM-L6-v2+onnx-int8" and manifest["embedder_backend"] == "onnx-int8"
    from ragchat.indexing import index_config

    with pytest.raises(IndexMismatchError, match=r"all-MiniLM-L6-v2\+onnx-int8.*index --rebuild"):
        FaissStore.load(settings.index_dir, expect=index_config(settings, embedder))


def test_an_index_of_another_format_says_what_built_it(corpus, tmp_path, embedder):
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, embedder)
    path = current_generation(settings.index_dir) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format"] = 99
    manifest["built_with"]["ragchat"] = "9.9.9"
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=r"format 99, built by ragchat 9\.9\.9 \(now .*\).*index --rebuild"):
        read_manifest(settings.index_dir)
