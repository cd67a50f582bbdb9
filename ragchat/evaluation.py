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
