"""Evaluation on a QA file (tests/data/qa.jsonl): retrieval metrics per retriever.

Each line: {"id", "question", "gold" (a verbatim substring of a seed that answers it, or null),
"answers" (strings a correct answer contains), "answerable", "kind"}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .retrieval import Retriever


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    gold: str | None
    answers: tuple[str, ...]
    answerable: bool
    kind: str


@dataclass(frozen=True)
class RetrievalScores:
    method: str
    questions: int
    hit_at_1: float
    hit_at_5: float
    mrr: float
    missed: tuple[str, ...]


def load_qa(path: Path) -> list[QAItem]:
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
                )
            )
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{path}:{number}: not a QA record ({e}): each line needs at least a \"question\"") from None
    return items


def gold_rank(gold: str, texts: list[str]) -> int | None:
    """1-based rank of the first passage containing the gold support, None if none does."""
    for rank, text in enumerate(texts, start=1):
        if gold in text:
            return rank
    return None


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

    def row(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "failures"}


def _gold_span(item: QAItem, documents: dict) -> tuple[str, int, int] | None:
    for source, doc in documents.items():
        at = doc.text.find(item.gold)
        if at >= 0:
            return source, at, at + len(item.gold)
    return None


def evaluate_answers(qa, items: list[QAItem], mode: str) -> AnswerScores:
    """Ask every question in the given mode and score answers, citations and abstentions."""
    import statistics

    documents = qa.retriever.store.documents
    answerable = [q for q in items if q.answerable]
    unanswerable = [q for q in items if not q.answerable]
    correct = hit5 = cited_ok = cited_all = recalled = declined = false_declined = 0
    latencies: list[float] = []
    failures: list[str] = []
    for item in items:
        answer = qa.ask(item.question, mode=mode)
        latencies.append(answer.timings_ms.get("total", 0.0))
        if not item.answerable:
            declined += not answer.answerable
            if answer.answerable:
                failures.append(item.id)
            continue
        gold = _gold_span(item, documents) if item.gold else None
        if gold and gold_rank(item.gold, [h.chunk.text for h in answer.passages[:5]]) is not None:
            hit5 += 1
        if not answer.answerable:
            false_declined += 1
            failures.append(item.id)
            continue
        text = answer.answer.lower()
        ok = any(a.lower() in text for a in item.answers)
        correct += ok
        if not ok:
            failures.append(item.id)
        recalled += any(c.verified for c in answer.citations)
        for c in answer.citations:
            cited_all += 1
            overlaps = gold is not None and c.source == gold[0] and c.start < gold[2] and c.end > gold[1]
            cited_ok += overlaps or any(a.lower() in c.quote.lower() for a in item.answers)
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
