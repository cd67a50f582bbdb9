import os
import random
import signal
import subprocess
import sys
import time

import pytest

from ragchat import SeedsError, Store, build_index
from ragchat.store import unit_texts
from ragchat.store import current_generation

from .conftest import ROOT, SEED_FILE


def test_incremental_updates(corpus, settings_for, embedder):
    settings = settings_for(corpus)
    first = build_index(settings, embedder)
    assert first.rebuilt == "no index yet" and first.chunks > 10
    assert first.embedded == len({t for c in Store.load(settings.index_dir).chunks.values() for t in unit_texts(c)})

    again = build_index(settings, embedder)
    assert (again.embedded, again.written, again.rebuilt) == (0, False, None)
    assert again.unchanged == (SEED_FILE.name,)

    # A new file: only its sentences are embedded.
    (corpus / "extra.md").write_text("# Railways\n\nThe Khasan–Rajin line was rebuilt by Russia.\n", encoding="utf-8")
    added = build_index(settings, embedder)
    assert added.added == ("extra.md",) and added.embedded == 2  # its heading and its one sentence

    # A changed file: only chunks whose text changed are re-embedded.
    text = SEED_FILE.read_text(encoding="utf-8")
    (corpus / SEED_FILE.name).write_text(text.replace("Sunan International Airport", "Sunan Airport"), encoding="utf-8")
    changed = build_index(settings, embedder)
    assert changed.updated == (SEED_FILE.name,)
    assert changed.embedded == 1  # only the edited sentence
    store = Store.load(settings.index_dir)
    assert any("Sunan Airport in Pyongyang" in c.text for c in store.chunks.values())
    assert not any("Sunan International Airport" in c.text for c in store.chunks.values())

    # A deleted file's chunks disappear.
    (corpus / "extra.md").unlink()
    removed = build_index(settings, embedder)
    assert removed.removed == ("extra.md",) and removed.embedded == 0
    assert {c.source for c in Store.load(settings.index_dir).chunks.values()} == {SEED_FILE.name}


def test_changed_chunking_rebuilds_everything(corpus, settings_for, embedder):
    build_index(settings_for(corpus), embedder)
    report = build_index(settings_for(corpus, chunk_tokens=96, chunk_overlap=16), embedder)
    assert report.rebuilt == "embedder or chunking settings changed"
    assert Store.load(settings_for(corpus).index_dir).config.chunk_tokens == 96


def test_rebuild_flag(corpus, settings_for, embedder):
    build_index(settings_for(corpus), embedder)
    report = build_index(settings_for(corpus), embedder, rebuild=True)
    assert report.rebuilt == "--rebuild asked for" and report.embedded > report.chunks


def test_bad_files_are_skipped_and_the_rest_indexed(corpus, settings_for, embedder):
    (corpus / "blob.txt").write_bytes(bytes(range(256)) * 10)
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    report = build_index(settings_for(corpus), embedder)
    assert {s for s, _ in report.skipped} == {"blob.txt", "empty.txt"}
    assert all("remove it" in why or "add content" in why for _, why in report.skipped)
    assert report.added == (SEED_FILE.name,)


def test_a_previously_indexed_file_that_turns_bad_is_dropped(corpus, settings_for, embedder):
    settings = settings_for(corpus)
    (corpus / "note.txt").write_text("A short note about ports.", encoding="utf-8")
    build_index(settings, embedder)
    (corpus / "note.txt").write_bytes(b"\x00\x00binary now")
    report = build_index(settings, embedder)
    assert report.removed == ("note.txt",)


def test_only_unreadable_files_is_an_error(tmp_path, settings_for, embedder):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "bad.txt").write_bytes(b"\x00" * 100)
    with pytest.raises(SeedsError, match="no readable documents.*bad.txt"):
        build_index(settings_for(seeds), embedder)


def test_corrupt_previous_index_is_rebuilt(corpus, settings_for, embedder):
    settings = settings_for(corpus)
    build_index(settings, embedder)
    (current_generation(settings.index_dir) / "chunks.jsonl").write_text("garbage", encoding="utf-8")
    report = build_index(settings, embedder)
    assert report.rebuilt == "previous index unreadable"
    assert len(Store.load(settings.index_dir)) == report.chunks


def _cli_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGCHAT_")}
    env.update(extra)
    return env


def test_indexing_needs_no_network(corpus, tmp_path):
    """A full index build with every proxy pointing nowhere and an empty tiktoken cache."""
    dead = "http://10.255.255.1:9"
    env = _cli_env(
        HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead, ALL_PROXY=dead, NO_PROXY="",
        TIKTOKEN_CACHE_DIR=str(tmp_path / "fresh-tiktoken-cache"),
        RAGCHAT_SEEDS_DIR=str(corpus), RAGCHAT_INDEX_DIR=str(tmp_path / "index"),
    )
    env.pop("HF_HUB_OFFLINE", None)  # the library must set it by itself
    result = subprocess.run(
        [sys.executable, "-m", "ragchat", "index"], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout
    assert len(Store.load(tmp_path / "index")) > 10


def test_killing_a_build_leaves_the_previous_index_loadable(tmp_path, settings_for, embedder):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    sentences = SEED_FILE.read_text(encoding="utf-8").split(". ")
    rng = random.Random(7)
    for i in range(12):
        rng.shuffle(sentences)
        (seeds / f"copy-{i:02d}.txt").write_text(". ".join(sentences), encoding="utf-8")
    settings = settings_for(seeds)
    before = build_index(settings, embedder)
    expected = len(Store.load(settings.index_dir))
    assert expected == before.chunks

    env = _cli_env(RAGCHAT_SEEDS_DIR=str(seeds), RAGCHAT_INDEX_DIR=str(settings.index_dir))
    # Kill real `ragchat index --rebuild` processes at spread-out moments: model loading, embedding, saving.
    for delay in (1.0, 4.0, 7.0, 10.0, 13.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "ragchat", "index", "--rebuild"], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        store = Store.load(settings.index_dir)  # must never raise
        assert len(store) == expected
        if finished:
            break
