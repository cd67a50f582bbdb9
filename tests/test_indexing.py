import os
import random
import signal
import subprocess
import sys
import time

import pytest

from ragchat import FaissStore, SeedsError, build_index
from ragchat.store import unit_texts
from ragchat.store import current_generation

from .conftest import ROOT, SEED_FILE


def test_incremental_updates(corpus, settings_for, embedder):
    settings = settings_for(corpus)
    first = build_index(settings, embedder)
    assert first.rebuilt == "no index yet" and first.chunks > 10
    assert first.embedded == len({t for c in FaissStore.load(settings.index_dir).chunks.values() for t in unit_texts(c)})

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
    store = FaissStore.load(settings.index_dir)
    assert any("Sunan Airport in Pyongyang" in c.text for c in store.chunks.values())
    assert not any("Sunan International Airport" in c.text for c in store.chunks.values())

    # A deleted file's chunks disappear.
    (corpus / "extra.md").unlink()
    removed = build_index(settings, embedder)
    assert removed.removed == ("extra.md",) and removed.embedded == 0
    assert {c.source for c in FaissStore.load(settings.index_dir).chunks.values()} == {SEED_FILE.name}


def test_files_read_by_an_older_reader_are_read_again_reusing_their_vectors(corpus, settings_for, embedder):
    """A newer ragchat may read the same bytes differently (a PDF table found inside a paragraph): unchanged
    files of an index built by an older reader are re-read, and only sentences that came out new are embedded."""
    from dataclasses import replace

    from ragchat.loading import READER_VERSION

    settings = settings_for(corpus)
    build_index(settings, embedder)
    store = FaissStore.load(settings.index_dir)
    assert store.documents[SEED_FILE.name].reader == READER_VERSION
    store.documents[SEED_FILE.name] = replace(store.documents[SEED_FILE.name], reader=READER_VERSION - 1)
    store.save(settings.index_dir)  # as an older ragchat left it
    again = build_index(settings, embedder)
    assert again.updated == (SEED_FILE.name,) and again.embedded == 0 and again.written
    assert FaissStore.load(settings.index_dir).documents[SEED_FILE.name].reader == READER_VERSION
    assert build_index(settings, embedder).unchanged == (SEED_FILE.name,)


def test_changed_chunking_rebuilds_everything(corpus, settings_for, embedder):
    build_index(settings_for(corpus), embedder)
    report = build_index(settings_for(corpus, chunk_tokens=96, chunk_overlap=16), embedder)
    assert report.rebuilt == "embedder or chunking settings changed"
    assert FaissStore.load(settings_for(corpus).index_dir).config.chunk_tokens == 96


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
    assert len(FaissStore.load(settings.index_dir)) == report.chunks


def _cli_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGCHAT_")}
    env.update(extra)
    return env


@pytest.mark.slow
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
    assert len(FaissStore.load(tmp_path / "index")) > 10


@pytest.mark.slow
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
    expected = len(FaissStore.load(settings.index_dir))
    assert expected == before.chunks

    tag = f"kill-test-{os.getpid()}-{time.time_ns()}"  # marks the builds' processes, reader children included
    env = _cli_env(RAGCHAT_SEEDS_DIR=str(seeds), RAGCHAT_INDEX_DIR=str(settings.index_dir), RAGCHAT_TEST_TAG=tag)
    # Kill real `ragchat index --rebuild` processes at spread-out moments: model loading, reading, embedding, saving.
    for delay in (1.0, 4.0, 7.0, 10.0, 13.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "ragchat", "index", "--rebuild"], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        store = FaissStore.load(settings.index_dir)  # must never raise
        assert len(store) == expected
        if finished:
            break

    # No file reader outlives its build (it dies with its parent), and the next build removes what kills left.
    deadline = time.monotonic() + 10
    while _tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _tagged_processes(tag) == []
    build_index(settings, embedder)
    assert [p.name for p in settings.index_dir.iterdir() if p.name.startswith((".gen-", "gen-"))] == [
        current_generation(settings.index_dir).name]


def _tagged_processes(tag: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if f"RAGCHAT_TEST_TAG={tag}".encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


# --- no silent loss --------------------------------------------------------------------------------------


def test_a_missing_or_empty_folder_keeps_the_index(corpus, settings_for, embedder):
    settings = settings_for(corpus)
    built = build_index(settings, embedder)
    generation = current_generation(settings.index_dir)

    (corpus / SEED_FILE.name).rename(corpus.parent / "elsewhere.txt")  # the folder is empty
    empty = build_index(settings, embedder)
    assert empty.kept and "has no .txt, .md, .html or .pdf files" in empty.kept and not empty.written
    assert "is kept as it is and nothing was removed" in empty.summary() and empty.removed == ()

    corpus.rmdir()  # the folder is gone
    missing = build_index(settings, embedder)
    assert missing.kept and "does not exist" in missing.kept
    assert current_generation(settings.index_dir) == generation  # untouched
    assert len(FaissStore.load(settings.index_dir)) == built.chunks


def test_a_folder_holding_none_of_the_indexed_documents_is_refused(corpus, settings_for, embedder):
    """What an upload into a missing or emptied folder looks like: one new file, every indexed one gone."""
    settings = settings_for(corpus)
    built = build_index(settings, embedder)
    (corpus / SEED_FILE.name).unlink()
    (corpus / "upload.txt").write_text("A file uploaded into an emptied folder.", encoding="utf-8")
    with pytest.raises(SeedsError, match=r"none of the 1 indexed documents .*--rebuild"):
        build_index(settings, embedder)
    assert len(FaissStore.load(settings.index_dir)) == built.chunks
    report = build_index(settings, embedder, rebuild=True)  # what the message says to do when it is meant
    assert report.added == ("upload.txt",)


@pytest.mark.slow
def test_ragchat_index_refuses_an_empty_folder_and_a_server_serves_the_index(corpus, settings_for, embedder):
    settings = settings_for(corpus)
    build_index(settings, embedder)
    (corpus / SEED_FILE.name).unlink()
    env = _cli_env(RAGCHAT_SEEDS_DIR=str(corpus), RAGCHAT_INDEX_DIR=str(settings.index_dir))
    result = subprocess.run([sys.executable, "-m", "ragchat", "index"], env=env, capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
    assert result.returncode == 1
    assert "has no .txt, .md, .html or .pdf files" in result.stderr and "is kept as it is" in result.stderr

    from app import load_service

    qa = load_service(settings.replace(mode="extractive"), embedder=embedder)  # starts, and answers from the index
    assert qa.search("Who greeted Shoigu?", 3)[0].chunk.source == SEED_FILE.name


def test_leftovers_of_killed_builds_are_removed_at_the_next_build(corpus, settings_for, embedder):
    settings = settings_for(corpus)
    build_index(settings, embedder)
    live = current_generation(settings.index_dir)
    (settings.index_dir / ".gen-1.tmp").mkdir()  # killed while writing
    (settings.index_dir / ".gen-1.tmp" / "chunks.jsonl").write_text("half", encoding="utf-8")
    (settings.index_dir / "gen-2").mkdir()  # killed after writing, before switching to it
    report = build_index(settings, embedder)
    assert not report.written  # nothing changed, yet the leftovers went
    assert sorted(p.name for p in settings.index_dir.iterdir() if p.is_dir()) == [live.name]


def test_an_index_path_that_is_a_file_says_so(corpus, tmp_path, embedder):
    from ragchat import ConfigError, Settings

    (tmp_path / "index-file").write_text("not a folder", encoding="utf-8")
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "index-file")
    with pytest.raises(ConfigError, match="index-file is a file, not a folder.*RAGCHAT_INDEX_DIR"):
        build_index(settings, embedder)
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        FaissStore.load(settings.index_dir)
    with pytest.raises(ConfigError, match="cannot create the index folder.*RAGCHAT_INDEX_DIR"):
        build_index(settings.replace(index_dir=tmp_path / "index-file" / "index"), embedder)


def test_hostile_files_are_skipped_and_the_rest_indexed(corpus, settings_for, embedder):
    from . import hostile

    (corpus / "bomb.pdf").write_bytes(hostile.inflate_bomb(300))
    (corpus / "slow.pdf").write_bytes(hostile.slow_pages(1_000, 20_000))
    (corpus / "broken.pdf").write_bytes(hostile.simple(["Ports."])[:200])
    (corpus / "ok.pdf").write_bytes(hostile.simple(["The Zorblat festival is held in April."]))
    report = build_index(settings_for(corpus, parse_seconds=3), embedder)
    assert sorted(report.added) == [SEED_FILE.name, "ok.pdf"]
    why = dict(report.skipped)
    assert sorted(why) == ["bomb.pdf", "broken.pdf", "slow.pdf"]
    assert "took longer than 3 s" in why["slow.pdf"]
    # Inflating 300 MB takes ~1.5 s; with the fast suite's two workers on two cores it can outlast the budget.
    # Either way it is bounded and named: read to nothing, or stopped by the clock.
    assert "no text" in why["bomb.pdf"] or "took longer than 3 s" in why["bomb.pdf"]
    assert all(reason.startswith(f"{name}: ") for name, reason in why.items())


def test_an_upload_into_a_missing_folder_does_not_drop_the_index(corpus, settings_for, embedder, tmp_path):
    """The issue's case: seeds/ gone, the server serving its index, then an upload (which creates the folder)."""
    from ragchat import ui
    from ragchat.qa import load

    settings = settings_for(corpus, mode="extractive")
    (corpus / "second.txt").write_text("The Khasan–Rajin railway was rebuilt by Russia.", encoding="utf-8")
    build_index(settings, embedder)
    for path in corpus.iterdir():
        path.unlink()
    corpus.rmdir()
    qa = load(settings, embedder=embedder)
    upload = tmp_path / "upload.txt"
    upload.write_text("The Zorblat festival is held in April.", encoding="utf-8")
    with pytest.raises(SeedsError, match="none of the 2 indexed documents"):
        ui.Library(qa).add([(upload, "upload.txt")])
    assert sorted(FaissStore.load(settings.index_dir).documents) == [SEED_FILE.name, "second.txt"]
