"""The network path: pymilvus → a `milvus-lite server` process on a local port, as against Milvus Standalone.
A server and `ragchat index` in two processes share one Milvus; an index build killed with SIGKILL while it
writes leaves the previous generation served, and the next build repairs the half-written side.
Slow (a server process, a model load in a child process): run with `pytest -m slow tests/test_milvus*.py`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from ragchat import build_index, open_retriever
from ragchat.qa import load

from .conftest import ROOT, SEED_FILE

pymilvus = pytest.importorskip("pymilvus")
pytestmark = pytest.mark.slow

SHOIGU = "When did Shoigu visit North Korea?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """A milvus-lite gRPC server in its own process; yields its URI."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "milvus"), "--host",
         "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"milvus-lite server did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _env(settings) -> dict[str, str]:
    return {
        **os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "RAGCHAT_STORE": "milvus",
        "RAGCHAT_MILVUS_URI": settings.milvus_uri, "RAGCHAT_SEEDS_DIR": str(settings.seeds_dir),
        "RAGCHAT_INDEX_DIR": str(settings.index_dir), "RAGCHAT_TORCH_THREADS": "1",
    }


def test_answers_through_a_milvus_server_indexed_by_another_process(server, corpus, settings_for, embedder):
    settings = settings_for(corpus, store="milvus", milvus_uri=server, mode="extractive")
    done = subprocess.run([sys.executable, "-m", "ragchat", "index"], env=_env(settings), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    qa = load(settings, embedder, build=False)
    answer = qa.ask(SHOIGU)
    assert answer.answerable and answer.citations
    for c in answer.citations:
        assert qa.document(c.source).text[c.start : c.end] == c.quote


def _count(client, collection: str) -> int:
    try:
        return int(client.query(collection, filter='id != ""', output_fields=["count(*)"])[0]["count(*)"])
    except Exception:  # not created or not loaded yet by the build
        return -1


def test_a_build_killed_while_writing_leaves_the_previous_generation_served(server, corpus, settings_for, embedder):
    settings = settings_for(corpus, store="milvus", milvus_uri=server, mode="extractive")
    build_index(settings, embedder)
    qa = load(settings, embedder, build=False)
    reader = qa.retriever.store
    before, chunks = reader.generation, len(reader)
    live = pymilvus.MilvusClient(uri=server).describe_alias(settings.milvus_collection)["collection_name"]
    spare = f"{settings.milvus_collection}_{'b' if live.endswith('_a_meta') else 'a'}_chunks"

    # 40 more files: ~1,400 new chunk rows, written in batches of 500; their sentences are the seed's (reused).
    text = SEED_FILE.read_text(encoding="utf-8")
    for i in range(40):
        (corpus / f"copy-{i:02d}.txt").write_text(f"Copy number {i}.\n\n{text}", encoding="utf-8")
    build = subprocess.Popen([sys.executable, "-m", "ragchat", "index"], env=_env(settings),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watcher = pymilvus.MilvusClient(uri=server)
    deadline = time.monotonic() + 600
    seen = -1
    while build.poll() is None and time.monotonic() < deadline:
        seen = _count(watcher, spare)
        if seen > chunks:  # the build has begun writing the spare side: kill it there
            os.kill(build.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    build.wait(timeout=60)
    assert build.returncode == -signal.SIGKILL, f"the build was not caught while writing: {build.stderr.read()[-1000:]}"

    # The alias never moved: the server goes on answering from the generation it had, and a fresh load agrees.
    assert reader.latest_generation() == before
    answer = qa.ask(SHOIGU)
    assert answer.answerable and qa.retriever.store.generation == before
    fresh = open_retriever(settings, embedder)
    assert fresh.store.generation == before and len(fresh.store) == chunks
    assert sorted(fresh.store.documents) == [SEED_FILE.name]
    assert all(h.chunk.source == SEED_FILE.name for h in fresh.search(SHOIGU, 5))

    # The next build finishes the half-written side: rows the killed build wrote are not written again.
    report = build_index(settings, embedder)
    added = report.chunks - chunks
    assert len(report.added) == 40 and added > 1_000
    assert report.rows.chunks_upserted <= added - (seen - chunks) and report.rows.chunks_deleted == 0
    qa.ask(SHOIGU)
    assert qa.retriever.store.generation != before and len(qa.retriever.store) == report.chunks
