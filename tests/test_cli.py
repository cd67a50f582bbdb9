import io
import json
import sys

import pytest

from ragchat import cli
from ragchat.store import current_generation


@pytest.fixture
def run(monkeypatch, embedder, capsys):
    """Run the CLI in-process with the session's embedder; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(cli, "_embedder", lambda settings: embedder)
    for var in ("RAGCHAT_SEEDS_DIR", "RAGCHAT_INDEX_DIR"):
        monkeypatch.delenv(var, raising=False)

    def invoke(*args, stdin: str | None = None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_index_then_search(run, corpus, tmp_path):
    index = str(tmp_path / "index")
    code, out, _ = run("--seeds", str(corpus), "--index", index, "index")
    assert code == 0 and "1 added" in out
    code, out, _ = run("--seeds", str(corpus), "--index", index, "index")
    assert code == 0 and "0 embedded" in out and "nothing to write" in out
    code, out, _ = run("--seeds", str(corpus), "--index", index, "search", "Who greeted Shoigu?", "-k", "2")
    assert code == 0 and out.startswith("[1] north-korea-russia-staunch-ally.txt:")


def test_search_json_reads_questions_from_stdin(run, seed_index, seed_text):
    args = ("--seeds", str(seed_index.seeds_dir), "--index", str(seed_index.index_dir), "search", "--json", "-k", "3")
    code, out, _ = run(*args, stdin="When did Shoigu visit North Korea?\n\nWhat did Kim give?\n")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["question"] for r in rows] == ["When did Shoigu visit North Korea?", "What did Kim give?"]
    for row in rows:
        assert len(row["hits"]) == 3
        for hit in row["hits"]:
            assert set(hit) == {"chunk_id", "source", "start", "end", "text", "score"}
            assert seed_text[hit["start"] : hit["end"]] == hit["text"]


def test_eval_prints_all_three_retrievers(run, seed_index):
    code, out, _ = run("--seeds", str(seed_index.seeds_dir), "--index", str(seed_index.index_dir), "eval", "--retrieval")
    assert code == 0
    for name in ("dense", "BM25", "hybrid", "hit@1", "hit@5", "MRR"):
        assert name in out


@pytest.mark.parametrize(
    "setup,expected",
    [
        ("missing", "documents folder .* does not exist"),
        ("empty", "has no .txt, .md, .html or .pdf files"),
        ("corrupt", "cannot be read .*ragchat index --rebuild"),
        ("other-embedder", "built with embedder other-model.*ragchat index --rebuild"),
    ],
)
def test_bad_input_gets_one_line_errors(run, corpus, tmp_path, setup, expected):
    index = tmp_path / "index"
    seeds = corpus
    if setup == "missing":
        seeds = tmp_path / "nowhere"
    elif setup == "empty":
        seeds = tmp_path / "empty"
        seeds.mkdir()
    else:
        assert run("--seeds", str(corpus), "--index", str(index), "index")[0] == 0
        gen = current_generation(index)
        if setup == "corrupt":
            data = (gen / "vectors.faiss").read_bytes()
            (gen / "vectors.faiss").write_bytes(b"\x00" * len(data))
        else:
            manifest = json.loads((gen / "manifest.json").read_text())
            manifest["embedder"] = "other-model"
            (gen / "manifest.json").write_text(json.dumps(manifest))
    command = "index" if setup in ("missing", "empty") else "search"
    code, out, err = run("--seeds", str(seeds), "--index", str(index), command, *(["q"] if command == "search" else []))
    assert code == 1
    assert "Traceback" not in err
    first, *lines = err.strip().splitlines()
    assert first.startswith(f"ragchat: documents {seeds.resolve()}, index {index.resolve()}, embedder ")  # said first
    assert len(lines) == 1 and lines[0].startswith("error: ")
    import re

    assert re.search(expected, lines[0]), lines[0]


def test_search_needs_a_question_without_json(run, seed_index):
    code, _, err = run("--index", str(seed_index.index_dir), "search")
    assert code == 2 and "give a question" in err
