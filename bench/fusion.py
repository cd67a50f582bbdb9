"""Fusion weight over the dev suite: hybrid hit@1 / hit@5 / MRR per corpus for each keyword weight, and RRF.

    .venv/bin/python bench/fusion.py [--split dev|heldout|all] [--weights 0.3,0.5,0.7,1.0] [--corpus NAME ...]

Each corpus is searched through its own index (bench/out/index-<name>/, built incrementally as `ragchat eval
--suite` does) by the public Retriever with its keyword_weight set; the embedder is loaded once. A corpus in a
language the embedder does not read is searched by keyword alone, so no weight changes it: it is left out of the
mean. Choose on the dev split; score the held-out split once, at the end.
"""

from __future__ import annotations

from _common import OUT, ROOT, code_note, machine_note  # noqa: I001 (sets up paths and offline env first)

import argparse
import dataclasses
import json
from pathlib import Path

from ragchat import Settings, build_index, load_embedder, open_retriever
from ragchat.evaluation import SPLITS, evaluate_retrieval, load_suite, select_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", type=Path, default=ROOT / "bench" / "corpora" / "suite.json")
    parser.add_argument("--split", choices=SPLITS, default="dev")
    parser.add_argument("--weights", default="0.3,0.5,0.6,0.7,0.8,1.0", help="keyword weights, comma-separated")
    parser.add_argument("--corpus", action="append", metavar="NAME")
    parser.add_argument("--quick", action="store_true", help="two corpora, two weights")
    args = parser.parse_args()
    weights = [0.3, 0.7] if args.quick else [float(w) for w in args.weights.split(",")]

    settings = Settings.from_env()
    suite = load_suite(args.suite)
    embedder = load_embedder(settings.embedder, settings.torch_threads)
    names = args.corpus or ([c.name for c in suite.corpora][:2] if args.quick else None)
    contenders = [f"weight {w}" for w in weights] + ["RRF"]
    table: dict[str, dict[str, tuple[float, float, float]]] = {}
    for corpus in suite.corpora:
        if names and corpus.name not in names:
            continue
        s = suite.settings_for(settings, corpus)
        build_index(s, embedder)
        retriever = open_retriever(s, embedder)
        if not embedder.reads(retriever.store.language.code):
            print(f"{corpus.name}: searched by keyword alone (the embedder does not read its language); left out")
            continue
        items = select_split(corpus.items, args.split)
        row = {}
        for w, name in zip(weights + [None], contenders):
            method = "rrf" if w is None else "hybrid"
            r = evaluate_retrieval(dataclasses.replace(retriever, keyword_weight=w or 0.0), items, method)
            row[name] = (r.hit_at_1, r.hit_at_5, r.mrr)
        table[corpus.name] = row
        print(f"{corpus.name} ({r.questions} answerable {args.split} questions): "
              + "; ".join(f"{n} {a:.2f}/{b:.2f}/{c:.2f}" for n, (a, b, c) in row.items()), flush=True)

    print(f"\n{machine_note()}; {code_note()}; split {args.split}; hit@1 / hit@5 (mean also MRR)\n")
    corpora = list(table)
    print("| fusion | " + " | ".join(corpora) + " | mean hit@1 / hit@5 / MRR |")
    print("|---|" + "---|" * (len(corpora) + 1))
    for name in contenders:
        scores = [table[c][name] for c in corpora]
        mean = [sum(x[i] for x in scores) / max(len(scores), 1) for i in range(3)]
        print(f"| {name} | " + " | ".join(f"{a:.2f} / {b:.2f}" for a, b, _ in scores)
              + f" | {mean[0]:.3f} / {mean[1]:.3f} / {mean[2]:.3f} |")
    (OUT / f"fusion-{args.split}.json").write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
