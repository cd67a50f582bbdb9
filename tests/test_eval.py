"""The answer eval in extractive mode, as CI runs it (`ragchat eval`)."""

import json

import pytest

from ragchat import cli
from ragchat.evaluation import evaluate_answers, load_qa
from ragchat.qa import load

from .conftest import QA_FILE


@pytest.fixture(scope="module")
def scores(seed_index, embedder):
    qa = load(seed_index.replace(mode="extractive"), embedder)
    return evaluate_answers(qa, load_qa(QA_FILE), "extractive")


def test_qa_set_has_unanswerable_questions():
    items = load_qa(QA_FILE)
    assert sum(not q.answerable for q in items) >= 10
    assert sum(q.answerable for q in items) >= 40


def test_extractive_scores_do_not_regress(scores):
    # Floors just under what this version measures (docs/BENCHMARKS.md); a change that lowers them fails.
    assert scores.retrieval_hit_at_5 >= 0.95
    assert scores.answer_accuracy >= 0.79
    assert scores.citation_precision >= 0.75
    assert scores.citation_recall >= 0.93
    assert scores.abstention_accuracy >= 0.30
    assert scores.false_abstention <= 0.07


@pytest.mark.xfail(strict=True, reason="issue 3 targets (accuracy 0.9, citation precision 0.95, abstention 0.9) "
                   "are not met by the model-free extractive mode on this QA set; see docs/BENCHMARKS.md")
def test_extractive_meets_the_issue_targets(scores):
    assert scores.answer_accuracy >= 0.9
    assert scores.citation_precision >= 0.95
    assert scores.abstention_accuracy >= 0.9


def test_eval_cli_writes_json_and_chart(monkeypatch, embedder, seed_index, tmp_path, capsys):
    monkeypatch.setattr(cli, "_embedder", lambda settings: embedder)
    small = tmp_path / "qa.jsonl"
    rows = [json.loads(line) for line in QA_FILE.read_text(encoding="utf-8").splitlines()]
    small.write_text("\n".join(json.dumps(r) for r in rows[:6] + rows[-3:]) + "\n", encoding="utf-8")
    code = cli.main(["--seeds", str(seed_index.seeds_dir), "--index", str(seed_index.index_dir),
                     "eval", str(small), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "accuracy" in out and "abstain" in out and "extractive" in out
    report = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert report["answers"][0]["mode"] == "extractive" and report["answers"][0]["unanswerable"] == 3
    assert (tmp_path / "out" / "eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ask_cli_json_batch(monkeypatch, embedder, seed_index, capsys):
    import io
    import sys

    monkeypatch.setattr(cli, "_embedder", lambda settings: embedder)
    monkeypatch.setattr(sys, "stdin", io.StringIO("When did Shoigu visit North Korea?\n\nWhat is the capital of France?\n"))
    code = cli.main(["--seeds", str(seed_index.seeds_dir), "--index", str(seed_index.index_dir),
                     "ask", "--json", "--mode", "extractive"])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["answerable"] for r in rows] == [True, False]
    keys = {"question", "answer", "answerable", "mode", "citations", "passages", "timings_ms"}
    assert all(keys <= set(r) for r in rows)
    citation = rows[0]["citations"][0]
    assert set(citation) == {"n", "chunk_id", "source", "start", "end", "quote", "score", "verified"}
    text = (seed_index.seeds_dir / citation["source"]).read_text(encoding="utf-8")
    assert text[citation["start"] : citation["end"]] == citation["quote"]


def test_ask_cli_plain_prints_sources(monkeypatch, embedder, seed_index, capsys):
    monkeypatch.setattr(cli, "_embedder", lambda settings: embedder)
    code = cli.main(["--index", str(seed_index.index_dir), "ask", "Who greeted Shoigu at the airport?",
                     "--mode", "extractive"])
    out = capsys.readouterr().out
    assert code == 0 and "Kang Sun-nam" in out and "[1] north-korea-russia-staunch-ally.txt:" in out


def test_ask_cli_rejects_empty_question_in_one_line(monkeypatch, embedder, seed_index, capsys):
    monkeypatch.setattr(cli, "_embedder", lambda settings: embedder)
    code = cli.main(["--index", str(seed_index.index_dir), "ask", "  ", "--mode", "extractive"])
    err = capsys.readouterr().err
    assert code == 1 and err.strip() == "error: the question is empty: type a question about the documents"
