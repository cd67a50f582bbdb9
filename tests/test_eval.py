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
    # Floors just under what this version measures on the seed (docs/BENCHMARKS.md). Extractive mode declines
    # when its two best units score about alike (generation.Extractive.budget.lead): on the four-corpus suite
    # that traded some accuracy (0.77 -> 0.725 here) for citation precision (0.73 -> 0.90) and abstention
    # (0.31 -> 0.75); a change that lowers these fails.
    assert scores.retrieval_hit_at_5 >= 0.96  # 0.967 since fusion adds each candidate's closest unit
    assert scores.answer_accuracy >= 0.70
    assert scores.citation_precision >= 0.89
    assert scores.citation_recall >= 0.77
    assert scores.abstention_accuracy >= 0.70
    assert scores.false_abstention <= 0.23


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
    said, error = err.strip().splitlines()  # which folders it uses, then the one-line error
    assert said.startswith("ragchat: documents ")
    assert code == 1 and error == "error: the question is empty: type a question about the documents"


# --- Whitespace-normalised matching and the suite (no models) -----------------------------------------------

import importlib.util
from pathlib import Path
from types import SimpleNamespace

from ragchat.evaluation import (
    AnswerScores,
    CorpusResult,
    NormalisedText,
    QAItem,
    RetrievalScores,
    gold_span,
    answer_present,
    contains_normalised,
    corpus_tables,
    gold_rank,
    load_suite,
    normalise_space,
    normalised_with_map,
    select_split,
    summary_markdown,
    summary_table,
)

SUITE = Path(__file__).resolve().parent.parent / "bench" / "corpora" / "suite.json"


def test_normalised_text_maps_every_character_back():
    text = "  Alpha\t beta\n\n  gamma delta \n"
    normal, offsets = normalised_with_map(text)
    assert normal == " Alpha beta gamma delta "
    assert len(offsets) == len(normal)
    assert all(normal[i] == text[o] or (normal[i] == " " and text[o].isspace()) for i, o in enumerate(offsets))


def test_find_returns_original_offsets_across_line_breaks():
    text = "Intro.\n\nThe armistice was\n   signed on July 27,\n1953. After."
    start, end = NormalisedText(text).find("armistice was signed on July 27, 1953")
    assert text[start:end] == "armistice was\n   signed on July 27,\n1953"
    assert NormalisedText(text).find("  armistice   was ") == (text.index("armistice"), text.index("was") + 3)
    assert NormalisedText(text).find("ARMISTICE was", ignore_case=True) == (text.index("armistice"), text.index("was") + 3)
    assert NormalisedText(text).find("ARMISTICE was") is None
    assert NormalisedText(text).find("   ") is None
    assert NormalisedText(text).find("armistice wassigned") is None


def test_contains_and_answers_are_whitespace_normalised():
    assert contains_normalised("Sunan International Airport", "at the Sunan\nInternational  Airport in")
    assert not contains_normalised("sunan international airport", "at the Sunan\nInternational  Airport")
    assert contains_normalised("sunan international airport", "at the Sunan\nInternational Airport", ignore_case=True)
    assert answer_present(["nope", "end of  July"], "At the End of\nJuly, a delegation")
    assert not answer_present([], "anything")
    assert normalise_space("\n a \t b  ") == "a b"


def test_gold_rank_matches_passages_with_other_line_breaks():
    gold = "Kang Sun-nam, greeted Shoigu at the airport"
    texts = ["nothing here", "General Kang Sun-nam,\ngreeted Shoigu at the\n\nairport. Then"]
    assert gold_rank(gold, texts) == 2
    assert gold_rank(gold, ["Kang Sun-nam greeted Shoigu"]) is None


def test_gold_span_points_into_the_original_document_text():
    docs = {"a.txt": SimpleNamespace(text="Nothing."), "b.html": SimpleNamespace(text="Title\n\nThe quota\n system allows limiting")}
    item = QAItem("x", "q", "The quota system allows", ("quota",), True, "lexical")
    source, start, end = gold_span(item, docs)
    assert source == "b.html" and docs["b.html"].text[start:end] == "The quota\n system allows"
    assert gold_span(QAItem("y", "q", None, (), False, "offtopic"), docs) is None
    assert gold_span(QAItem("z", "q", "absent words", ("a",), True, "lexical"), docs) is None


class _FakeQA:
    """Answers from a table, cites offsets into its one document: enough to score without models."""

    def __init__(self, text, replies):
        self.doc = SimpleNamespace(source="d.txt", text=text)
        self.replies = replies

    def documents(self):
        return [self.doc]

    def ask(self, question, mode=None):
        reply = self.replies.get(question)
        if reply is None:
            return SimpleNamespace(answerable=False, answer="", citations=[], passages=[], timings_ms={"total": 1.0})
        quote = reply
        start = self.doc.text.index(quote)
        citation = SimpleNamespace(source="d.txt", start=start, end=start + len(quote), quote=quote, verified=True)
        chunk = SimpleNamespace(text=self.doc.text)
        return SimpleNamespace(answerable=True, answer=" ".join(quote.split()) + " [1]", citations=[citation],
                               passages=[SimpleNamespace(chunk=chunk)], timings_ms={"total": 2.0})


def test_evaluate_answers_scores_with_normalised_gold_and_answers():
    text = "Header\n\nThe heart of the system is the scheduler,\ncupsd, which is in the\ncups-daemon package.\n\nOther."
    qa = _FakeQA(text, {"Which package has cupsd?": "cupsd, which is in the\ncups-daemon package",
                        "What is elsewhere?": "Header"})
    items = [
        QAItem("a", "Which package has cupsd?", "the scheduler, cupsd, which is in the cups-daemon package",
               ("cups-daemon package",), True, "lexical"),
        QAItem("b", "What is elsewhere?", "Other.", ("other",), True, "paraphrase"),
        QAItem("c", "Unknown?", None, (), False, "unanswerable"),
    ]
    s = evaluate_answers(qa, items, "extractive")
    assert s.answer_accuracy == 0.5 and s.retrieval_hit_at_5 == 1.0
    assert s.citation_precision == 0.5  # the first citation overlaps its gold span, the second does not
    assert s.abstention_accuracy == 1.0 and s.failures == ("b",)
    assert s.by_kind == {"lexical": {"questions": 1, "correct": 1}, "paraphrase": {"questions": 1, "correct": 0},
                         "unanswerable": {"questions": 1, "correct": 1}}


def test_load_qa_reads_split_with_a_default(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "a?", "gold": "x", "answers": ["x"], "split": "heldout"}\n'
                    '{"question": "b?", "gold": null, "answers": []}\n', encoding="utf-8")
    items = load_qa(path, default_split="dev")
    assert [q.split for q in items] == ["heldout", "dev"]
    assert [q.id for q in select_split(items, "heldout")] == ["1"]
    assert len(select_split(items, "all")) == 2


def test_the_suite_file_loads_with_both_splits():
    suite = load_suite(SUITE)
    names = [c.name for c in suite.corpora]
    assert names[0] == "seed" and {"debian-handbook", "debian-pdfs"} <= set(names)
    for corpus in suite.corpora:
        assert corpus.docs.is_dir(), corpus.docs
        assert len(select_split(corpus.items, "heldout")) >= 15, corpus.name
        assert len({q.id for q in corpus.items}) == len(corpus.items), corpus.name
    seed = suite.corpora[0]
    assert sum(q.split == "dev" for q in seed.items) == len(load_qa(QA_FILE))


def test_each_embedder_indexes_the_suite_into_its_own_folder():
    """Scoring the suite with another embedder must not rebuild (and so lose) the default embedder's indexes."""
    suite = load_suite(SUITE)
    default = suite.index_dir("seed")
    assert default == suite.index_root / "index-seed" == suite.index_dir("seed", "all-MiniLM-L6-v2")
    others = {suite.index_dir("seed", e) for e in ("all-mpnet-base-v2", "all-MiniLM-L6-v2+onnx-int8", "/m/e5 small")}
    assert len(others) == 3 and default not in others
    assert all(d.parent.parent == suite.index_root and d.name == "index-seed" for d in others)


def _check_qa_module():
    import sys

    if "check_qa" not in sys.modules:  # registered first: its dataclasses look their module up while being built
        spec = importlib.util.spec_from_file_location("check_qa", SUITE.parent / "check_qa.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["check_qa"] = module
        spec.loader.exec_module(module)
    return sys.modules["check_qa"]


def test_every_qa_file_of_the_suite_passes_the_checker():
    check = _check_qa_module()
    for suite in (SUITE, SUITE.with_name("whether-suite.json")):
        for corpus in check.load_suite(suite):
            assert check.check_corpus(corpus) == [], (suite.name, corpus.name)


def test_the_checker_catches_bad_rows(tmp_path):
    check = _check_qa_module()
    (tmp_path / "a.txt").write_text("The quota system allows\nlimiting disk space.", encoding="utf-8")
    paths = [tmp_path / "a.txt"]
    good = {"id": "1", "question": "q", "gold": "quota system allows limiting", "answers": ["disk space"],
            "answerable": True, "kind": "lexical", "split": "dev"}
    assert check.check_rows([good], paths, "t") == []
    bad = [
        {**good, "gold": "not in the text"},
        {**good, "answers": ["absent answer"]},
        {**good, "kind": "offtopic"},
        {**good, "split": "test"},
        {k: v for k, v in good.items() if k != "split"},
    ]
    assert len(check.check_rows(bad, paths, "t")) == len(bad)


def test_suite_tables_render():
    r = RetrievalScores("hybrid", 10, 0.5, 0.9, 0.65, ())
    a = AnswerScores("extractive", 12, 10, 2, 0.9, 0.8, 0.7, 1.0, 0.5, 0.1, 20.0, 30.0, ("q1",),
                     {"lexical": {"questions": 10, "correct": 8}})
    result = CorpusResult("demo", "docs", "dev", 12, 3, 40, "incremental", (r,), (a,), 1.0)
    text = corpus_tables(result)
    assert "== demo" in text and "hybrid" in text and "0.800" in text and "lexical 8/10" in text
    assert "demo" in summary_table([result]) and "extractive accuracy" in summary_table([result])
    md = summary_markdown([result]).splitlines()
    assert md[0].startswith("| corpus |") and md[1].startswith("|---|") and "| demo | 12 | 0.500 | 0.900 |" in md[2]
