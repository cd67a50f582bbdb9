"""Abstention vs false abstention if the extractive mode also declined every question whose best evidence
sentence scores below a threshold: why a calibrated threshold alone cannot reach the issue's 0.9.

    .venv/bin/python bench/abstention.py > bench/out/abstention.txt
"""

from __future__ import annotations

from _common import QA, ROOT  # noqa: I001 (sets up paths and offline env first)

from ragchat import Settings
from ragchat import evidence as evidence_mod
from ragchat.evaluation import load_qa
from ragchat.qa import load


def main() -> None:
    qa = load(Settings.from_env(seeds_dir=ROOT / "seeds", index_dir=ROOT / "index"))
    rows = []  # (answerable, passes the rules, best similarity, best score)
    for item in load_qa(QA):
        vector = qa.embedder.encode_query(item.question)
        hits = qa.retriever.search(item.question, qa.settings.top_k, query_vector=vector)
        gathered = evidence_mod.gather(item.question, vector, hits, qa.retriever.store)
        best = gathered.candidates[0] if gathered.candidates else None
        rows.append((item.answerable, gathered.answerable,
                     best.similarity if best else 0.0, best.score if best else 0.0))
    answerable = sum(r[0] for r in rows)
    unanswerable = len(rows) - answerable
    print(f"{answerable} answerable, {unanswerable} unanswerable questions")
    print(f"{'threshold on':>12} {'t':>5} {'abstention':>10} {'false abst.':>11}")
    for column, name, thresholds in ((2, "similarity", (0.35, 0.45, 0.55, 0.65, 0.75, 0.8)),
                                     (3, "score", (0.6, 0.7, 0.8, 0.9, 1.0))):
        for t in thresholds:
            declined = [not r[1] or r[column] < t for r in rows]
            hits = sum(d for d, r in zip(declined, rows) if not r[0]) / max(unanswerable, 1)
            false = sum(d for d, r in zip(declined, rows) if r[0]) / max(answerable, 1)
            print(f"{name:>12} {t:5.2f} {hits:10.2f} {false:11.2f}")


if __name__ == "__main__":
    main()
