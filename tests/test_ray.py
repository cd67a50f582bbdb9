"""`ragchat index --ray`: embedding through Ray Data on a real local Ray instance (slow: Ray starts its own
processes, ~15 s). The index must equal the plain path's: same chunks, the same vectors to float precision, the
same search results."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


def test_an_index_embedded_by_ray_actors_equals_the_plain_one(seed_index, embedder, tmp_path):
    from ragchat import Settings, build_index
    from ragchat.ray_embedding import RayOptions, ray_embedder, shutdown
    from ragchat.retrieval import Retriever
    from ragchat.store import FaissStore, sentence_key, unit_texts

    settings = Settings(seeds_dir=seed_index.seeds_dir, index_dir=tmp_path / "index")
    seen: list[tuple[int, int]] = []
    try:
        distributed = ray_embedder(embedder, RayOptions(actors=2, threads=1))
        report = build_index(settings, distributed, progress=lambda done, total: seen.append((done, total)))
    finally:
        shutdown()
    assert report.embedded > 100 and seen[-1] == (report.embedded, report.embedded)
    plain, by_ray = FaissStore.load(seed_index.index_dir), FaissStore.load(settings.index_dir)
    assert [c.text for c in by_ray.chunks.values()] == [c.text for c in plain.chunks.values()]
    keys = sorted({sentence_key(t) for c in plain.chunks.values() for t in unit_texts(c)})
    a = np.stack([plain.sentence_vectors[k] for k in keys])
    b = np.stack([by_ray.sentence_vectors[k] for k in keys])
    assert np.min(np.sum(a * b, axis=1)) > 0.9999  # the same model; only batch padding may differ
    for question in ("When did Shoigu visit North Korea?", "Who greeted him at the airport?",
                     "What did Kim Jong-un show the delegation?"):
        ids = [h.chunk.id for h in Retriever(plain, embedder).search(question, 5)]
        assert [h.chunk.id for h in Retriever(by_ray, embedder).search(question, 5)] == ids


def test_an_unreachable_ray_cluster_is_a_clear_error_before_any_file_is_read(tmp_path):
    done = subprocess.run([sys.executable, "-c", "from ragchat.cli import main; raise SystemExit(main())", "--seeds", str(tmp_path / "seeds"), "--index",
                           str(tmp_path / "index"), "index", "--ray", "ray://127.0.0.1:1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "cannot reach the Ray cluster" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "index").exists()
