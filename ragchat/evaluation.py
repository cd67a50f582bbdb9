"""Evaluation on a QA file (tests/data/qa.jsonl), or on a suite of corpora (bench/corpora/suite.json).

Each QA line: {"id", "question", "gold" (a verbatim fragment of a document that answers it, or null),
"answers" (strings a correct answer contains), "answerable", "kind", "split" ("dev" or "heldout")}.

Gold and answer strings are matched whitespace-normalised: every run of whitespace counts as one space on
both sides, so a gold written from a page's visible text still matches a loader's text that breaks lines or
paragraphs differently. Answers also match case-insensitively.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .errors import ConfigError
from .retrieval import Retriever
from .settings import Settings

_SPACE = re.compile(r"\s+")


def normalise_space(text: str) -> str:
    """Every run of whitespace as one space, trimmed."""
    return _SPACE.sub(" ", text).strip()


def normalised_with_map(text: str) -> tuple[str, list[int]]:
    """text with every run of whitespace collapsed to one space (not trimmed), and for each character of the
    result the offset in text of the character it came from (a collapsed run maps to its first character)."""
    out: list[str] = []
    offsets: list[int] = []
    at = 0
    for m in _SPACE.finditer(text):
        out.append(text[at : m.start()])
        offsets.extend(range(at, m.start()))
        out.append(" ")
        offsets.append(m.start())
        at = m.end()
    out.append(text[at:])
    offsets.extend(range(at, len(text)))
    return "".join(out), offsets


class NormalisedText:
    """A text prepared for whitespace-normalised search that reports spans in the original text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.normal, self.offsets = normalised_with_map(text)
        self._lower: str | None = None

    def find(self, needle: str, ignore_case: bool = False) -> tuple[int, int] | None:
        """(start, end) in the original text of the first normalised occurrence of needle, or None."""
        n = normalise_space(needle)
        if not n:
            return None
        if ignore_case:
            if self._lower is None:
                self._lower = self.normal.lower()
            # lower() can change a string's length (e.g. "İ"); fall back to a case-sensitive search then
            hay, n = (self._lower, n.lower()) if len(self._lower) == len(self.normal) else (self.normal, n)
        else:
            hay = self.normal
        at = hay.find(n)
        if at < 0:
            return None
        return self.offsets[at], self.offsets[at + len(n) - 1] + 1


def contains_normalised(needle: str, text: str, ignore_case: bool = False) -> bool:
    """Whether needle occurs in text once every run of whitespace on both sides is one space."""
    n = normalise_space(needle)
    hay = _SPACE.sub(" ", text)
    if ignore_case:
        n, hay = n.lower(), hay.lower()
    return bool(n) and n in hay


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    gold: str | None
    answers: tuple[str, ...]
    answerable: bool
    kind: str
    split: str = "dev"


@dataclass(frozen=True)
class RetrievalScores:
    method: str
    questions: int
    hit_at_1: float
    hit_at_5: float
    mrr: float
    missed: tuple[str, ...]


def load_qa(path: Path, default_split: str = "dev") -> list[QAItem]:
    """The QA records of a .jsonl file; rows without a "split" get default_split."""
    items = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"cannot read QA file {path} ({e.strerror}): pass the path of a .jsonl QA file") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append(
                QAItem(
                    id=str(row.get("id", number)),
                    question=row["question"],
                    gold=row.get("gold"),
                    answers=tuple(row.get("answers", ())),
                    answerable=bool(row.get("answerable", row.get("gold") is not None)),
                    kind=row.get("kind", ""),
                    split=str(row.get("split") or default_split),
                )
            )
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{path}:{number}: not a QA record ({e}): each line needs at least a \"question\"") from None
    return items


def gold_rank(gold: str, texts: list[str]) -> int | None:
    """1-based rank of the first passage containing the gold support (whitespace-normalised), None if none does."""
    for rank, text in enumerate(texts, start=1):
        if contains_normalised(gold, text):
            return rank
    return None


def answer_present(answers: Sequence[str], text: str) -> bool:
    """Whether text holds one of the answer strings (whitespace-normalised, case-insensitive)."""
    return any(contains_normalised(a, text, ignore_case=True) for a in answers)


def evaluate_retrieval(retriever: Retriever, items: list[QAItem], method: str, k: int = 5) -> RetrievalScores:
    answerable = [q for q in items if q.answerable and q.gold]
    h1 = h5 = mrr = 0.0
    missed = []
    for q in answerable:
        rank = gold_rank(q.gold, [h.chunk.text for h in retriever.search(q.question, k, method)])
        if rank is None:
            missed.append(q.id)
            continue
        h1 += rank == 1
        h5 += rank <= 5
        mrr += 1.0 / rank
    n = max(len(answerable), 1)
    return RetrievalScores(method, len(answerable), h1 / n, h5 / n, mrr / n, tuple(missed))


@dataclass(frozen=True)
class AnswerScores:
    mode: str
    questions: int
    answerable: int
    unanswerable: int
    retrieval_hit_at_5: float
    answer_accuracy: float  # answerable questions answered, with a gold answer string in the answer
    citation_precision: float  # citations whose quote overlaps the gold support or holds a gold answer
    citation_recall: float  # answerable questions answered with at least one verified citation
    abstention_accuracy: float  # unanswerable questions the system declined
    false_abstention: float  # answerable questions it declined
    median_ms: float
    p95_ms: float
    failures: tuple[str, ...]  # ids answered wrongly, for reading
    # per question kind: {"questions": n, "correct": answered right (answerable kinds) or declined (the others)}
    by_kind: dict = field(default_factory=dict)

    def row(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("failures", "by_kind")}


def gold_span(item: QAItem, documents: dict) -> tuple[str, int, int] | None:
    """(source, start, end) of the gold in the original text of the first document holding it, matched
    whitespace-normalised; documents maps source to a Document or to a NormalisedText of its text."""
    if not item.gold:
        return None
    for source, doc in documents.items():
        text = doc if isinstance(doc, NormalisedText) else NormalisedText(doc.text)
        span = text.find(item.gold)
        if span is not None:
            return source, span[0], span[1]
    return None


def document_texts(qa) -> dict[str, NormalisedText]:
    """The indexed documents' texts by source, through the QA service's public documents()."""
    return {d.source: NormalisedText(d.text) for d in qa.documents()}


def evaluate_answers(qa, items: list[QAItem], mode: str) -> AnswerScores:
    """Ask every question in the given mode and score answers, citations and abstentions."""
    import statistics

    documents = document_texts(qa)
    answerable = [q for q in items if q.answerable]
    unanswerable = [q for q in items if not q.answerable]
    correct = hit5 = cited_ok = cited_all = recalled = declined = false_declined = 0
    latencies: list[float] = []
    failures: list[str] = []
    by_kind: dict[str, dict[str, int]] = {}
    for item in items:
        answer = qa.ask(item.question, mode=mode)
        latencies.append(answer.timings_ms.get("total", 0.0))
        tally = by_kind.setdefault(item.kind or "?", {"questions": 0, "correct": 0})
        tally["questions"] += 1
        if not item.answerable:
            declined += not answer.answerable
            tally["correct"] += not answer.answerable
            if answer.answerable:
                failures.append(item.id)
            continue
        gold = gold_span(item, documents) if item.gold else None
        if gold and gold_rank(item.gold, [h.chunk.text for h in answer.passages[:5]]) is not None:
            hit5 += 1
        if not answer.answerable:
            false_declined += 1
            failures.append(item.id)
            continue
        ok = answer_present(item.answers, answer.answer)
        correct += ok
        tally["correct"] += ok
        if not ok:
            failures.append(item.id)
        recalled += any(c.verified for c in answer.citations)
        for c in answer.citations:
            cited_all += 1
            overlaps = gold is not None and c.source == gold[0] and c.start < gold[2] and c.end > gold[1]
            cited_ok += overlaps or answer_present(item.answers, c.quote)
    n = max(len(answerable), 1)
    ordered = sorted(latencies)
    return AnswerScores(
        mode=mode,
        questions=len(items),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        retrieval_hit_at_5=hit5 / n,
        answer_accuracy=correct / n,
        citation_precision=cited_ok / cited_all if cited_all else 0.0,
        citation_recall=recalled / n,
        abstention_accuracy=declined / max(len(unanswerable), 1),
        false_abstention=false_declined / n,
        median_ms=statistics.median(ordered) if ordered else 0.0,
        p95_ms=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0,
        failures=tuple(failures),
        by_kind=by_kind,
    )


def write_chart(scores: list[AnswerScores], path: Path) -> None:
    """A bar chart of the quality metrics per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ["retrieval_hit_at_5", "answer_accuracy", "citation_precision", "citation_recall", "abstention_accuracy"]
    labels = ["hit@5", "accuracy", "cit. precision", "cit. recall", "abstention"]
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=110)
    width = 0.8 / max(len(scores), 1)
    for i, s in enumerate(scores):
        xs = [j + i * width for j in range(len(metrics))]
        bars = ax.bar(xs, [getattr(s, m) for m in metrics], width, label=f"{s.mode} (median {s.median_ms:.0f} ms)")
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks([j + width * (len(scores) - 1) / 2 for j in range(len(metrics))], labels)
    ax.set_ylim(0, 1.1)
    ax.set_title("ragchat eval")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(scores), frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


# --- The suite: several corpora, each with its own documents folder, QA files and index -------------------

SPLITS = ("dev", "heldout", "all")
RETRIEVERS = ("dense", "keyword", "hybrid")


@dataclass(frozen=True)
class SuiteCorpus:
    name: str
    docs: Path
    items: tuple[QAItem, ...]


@dataclass(frozen=True)
class Suite:
    path: Path
    root: Path  # the folder every path in the suite file is relative to
    index_root: Path  # indexes go to index_root / f"index-{name}" (see index_dir)
    corpora: tuple[SuiteCorpus, ...]

    def index_dir(self, corpus: str, embedder: str = Settings.embedder) -> Path:
        """Where a corpus is indexed: index_root/index-<corpus> with the default embedder, and a folder per other
        embedder (backend included) beside it, so comparing embedders never rebuilds, and loses, another's index."""
        if embedder == Settings.embedder:
            return self.index_root / f"index-{corpus}"
        return self.index_root / re.sub(r"[^\w.+-]+", "-", embedder).strip("-") / f"index-{corpus}"

    def settings_for(self, settings: Settings, corpus: SuiteCorpus) -> Settings:
        """The settings with the corpus's documents and its own index folder (index_dir) for their embedder."""
        return settings.replace(seeds_dir=corpus.docs, index_dir=self.index_dir(corpus.name, settings.embedder))


def load_suite(path: Path) -> Suite:
    """A suite file: {"root": "../..", "index_root": "bench/out", "corpora": [{"name", "docs",
    "qa": [{"path", "split"?}, ...]}]}; paths are relative to root, itself relative to the suite file. A QA file's
    "split" is the default for its rows that carry none."""
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read suite file {path} ({e.strerror}): pass bench/corpora/suite.json") from None
    except ValueError as e:
        raise ConfigError(f"suite file {path} is not JSON ({e})") from None
    root = (path.parent / spec.get("root", ".")).resolve()
    corpora = []
    try:
        for c in spec["corpora"]:
            items: list[QAItem] = []
            for qa in c["qa"]:
                qa = qa if isinstance(qa, dict) else {"path": qa}
                items += load_qa(root / qa["path"], default_split=qa.get("split", "dev"))
            corpora.append(SuiteCorpus(c["name"], root / c["docs"], tuple(items)))
    except (KeyError, TypeError) as e:
        raise ConfigError(f"suite file {path}: each corpus needs \"name\", \"docs\" and \"qa\" ({e!r})") from None
    names = [c.name for c in corpora]
    if len(set(names)) != len(names):
        raise ConfigError(f"suite file {path}: corpus names must be unique, got {names}")
    return Suite(path, root, root / spec.get("index_root", "bench/out"), tuple(corpora))


def select_split(items: Sequence[QAItem], split: str) -> list[QAItem]:
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return [q for q in items if split == "all" or q.split == split]


@dataclass(frozen=True)
class CorpusResult:
    name: str
    docs: str
    split: str
    questions: int
    documents: int
    chunks: int
    index: str  # the build report's one-line summary
    retrieval: tuple[RetrievalScores, ...]
    answers: tuple[AnswerScores, ...]
    seconds: float

    def json(self) -> dict:
        return {
            "name": self.name, "docs": self.docs, "split": self.split, "questions": self.questions,
            "documents": self.documents, "chunks": self.chunks, "index": self.index, "seconds": round(self.seconds, 1),
            "retrieval": [s.__dict__ for s in self.retrieval],
            "answers": [{**a.row(), "by_kind": a.by_kind, "failures": list(a.failures)} for a in self.answers],
        }


def evaluate_suite(
    settings,
    embedder,
    suite: Suite,
    modes: Sequence[str] = ("extractive",),
    split: str = "dev",
    retrieval_only: bool = False,
    names: Sequence[str] | None = None,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    progress_factory: Callable[[], Callable[[int, int], None]] | None = None,
) -> list[CorpusResult]:
    """Index each corpus incrementally into its own folder (the given settings, but seeds_dir/index_dir) and
    score retrieval and every answer mode on its questions of the split. The embedder is shared; progress_factory
    makes one indexing progress callback per corpus."""
    from . import build_index, load, open_retriever

    chosen = list(suite.corpora)
    if names:
        unknown = sorted(set(names) - {c.name for c in chosen})
        if unknown:
            raise ConfigError(f"no corpus named {', '.join(unknown)} in {suite.path}: it has "
                              f"{', '.join(c.name for c in chosen)}")
        chosen = [c for c in chosen if c.name in names]
    results = []
    for corpus in chosen:
        started = time.perf_counter()
        items = select_split(corpus.items, split)
        s = suite.settings_for(settings, corpus)
        say(f"[{corpus.name}] indexing {corpus.docs} into {s.index_dir} ...")
        report = build_index(s, embedder, progress=progress_factory() if progress_factory else None)
        for source, why in report.skipped:
            say(f"[{corpus.name}] skipped: {why}")
        say(f"[{corpus.name}] {report.summary()}")
        retriever = open_retriever(s, embedder)
        say(f"[{corpus.name}] retrieval on {len(items)} {split} questions ...")
        retrieval = tuple(evaluate_retrieval(retriever, items, m) for m in RETRIEVERS)
        answers: list[AnswerScores] = []
        documents = 0
        if not retrieval_only:
            qa = load(s, embedder, build=False)
            documents = len(qa.documents())
            for mode in modes:
                say(f"[{corpus.name}] asking {len(items)} questions in {mode} mode ...")
                answers.append(evaluate_answers(qa, items, mode))
        results.append(CorpusResult(
            name=corpus.name, docs=str(corpus.docs), split=split, questions=len(items),
            documents=documents or len(report.added) + len(report.updated) + len(report.unchanged),
            chunks=report.chunks, index=report.summary(), retrieval=retrieval, answers=tuple(answers),
            seconds=time.perf_counter() - started,
        ))
    return results


def suite_json(results: Sequence[CorpusResult], suite: Suite, split: str) -> dict:
    return {"suite": str(suite.path), "split": split, "corpora": [r.json() for r in results]}


def _retriever_name(method: str) -> str:
    return "BM25" if method == "keyword" else method


def corpus_tables(result: CorpusResult) -> str:
    """The plain-text tables of one corpus: retrieval per retriever, then answers per mode."""
    n_ans = result.retrieval[0].questions if result.retrieval else 0
    lines = [f"== {result.name} ({result.split}: {result.questions} questions, {n_ans} answerable; "
             f"{result.documents} documents, {result.chunks} chunks)",
             f"{'retriever':<10} {'hit@1':>6} {'hit@5':>6} {'MRR':>6}"]
    for s in result.retrieval:
        lines.append(f"{_retriever_name(s.method):<10} {s.hit_at_1:>6.3f} {s.hit_at_5:>6.3f} {s.mrr:>6.3f}")
    if result.answers:
        head = ("mode", "accuracy", "cit.prec", "cit.recall", "abstain", "false-abst", "median ms")
        lines.append("")
        lines.append("".join(f"{h:>11}" for h in head))
        for a in result.answers:
            values = (a.answer_accuracy, a.citation_precision, a.citation_recall, a.abstention_accuracy,
                      a.false_abstention)
            lines.append(f"{a.mode:>11}" + "".join(f"{v:>11.3f}" for v in values) + f"{a.median_ms:>11.1f}")
        kinds = sorted({k for a in result.answers for k in a.by_kind})
        for a in result.answers:
            parts = [f"{k} {a.by_kind[k]['correct']}/{a.by_kind[k]['questions']}" for k in kinds if k in a.by_kind]
            lines.append(f"{'':>11} {a.mode} by kind (right or declined): {', '.join(parts)}")
    return "\n".join(lines)


def _summary_rows(results: Sequence[CorpusResult]) -> tuple[list[str], list[list[str]]]:
    head = ["corpus", "questions", "hybrid hit@1", "hybrid hit@5", "hybrid MRR"]
    modes = [a.mode for a in results[0].answers] if results else []
    for m in modes:
        head += [f"{m} accuracy", f"{m} cit.prec", f"{m} cit.recall", f"{m} abstain", f"{m} false-abst",
                 f"{m} median ms"]
    rows = []
    for r in results:
        hybrid = next((s for s in r.retrieval if s.method == "hybrid"), None)
        row = [r.name, str(r.questions)]
        row += [f"{v:.3f}" for v in (hybrid.hit_at_1, hybrid.hit_at_5, hybrid.mrr)] if hybrid else ["", "", ""]
        for m in modes:
            a = next((a for a in r.answers if a.mode == m), None)
            if a is None:
                row += [""] * 6
                continue
            row += [f"{v:.3f}" for v in (a.answer_accuracy, a.citation_precision, a.citation_recall,
                                         a.abstention_accuracy, a.false_abstention)] + [f"{a.median_ms:.0f}"]
        rows.append(row)
    return head, rows


def summary_table(results: Sequence[CorpusResult]) -> str:
    """Corpus × metric, plain text."""
    head, rows = _summary_rows(results)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join([fmt(head)] + [fmt(r) for r in rows])


def summary_markdown(results: Sequence[CorpusResult]) -> str:
    """Corpus × metric as a markdown table (for docs/BENCHMARKS.md)."""
    head, rows = _summary_rows(results)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
