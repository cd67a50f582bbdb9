"""Where the answer's unit sits among the evidence the default mode's model reads, per corpus of the dev suite.

    .venv/bin/python bench/units.py [--suite bench/corpora/suite.json] [--split dev|heldout|all] [--corpus NAME ...]

For every answerable question with a gold fragment: the rank of the first unit (sentence, item, row) whose span
overlaps the gold among all of evidence.gather's candidates, and whether that unit is among those the local
generator is given (its Budget: at most `units`, within `margin` of the best; `--units`/`--margin` try another
budget), and how many units it is given on average, over every question the rules let through (prompt length is
most of the local answer's time). No model is run, so a change to unit scoring or to the budget can be measured
on every corpus in seconds, before the slow per-question runs. Chunk-level hit@k is
`ragchat eval --retrieval`; this is the step after it.
"""

from __future__ import annotations

from _common import ROOT, code_note, machine_note  # noqa: I001 (sets up paths and offline env first)

import argparse
from pathlib import Path

from ragchat import Settings, build_index, load, load_embedder
from ragchat import evidence
from ragchat.evaluation import SPLITS, document_texts, gold_span, load_suite, select_split
from ragchat.generation import ChatGenerator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", type=Path, default=ROOT / "bench" / "corpora" / "suite.json")
    parser.add_argument("--split", choices=SPLITS, default="dev")
    parser.add_argument("--corpus", action="append", metavar="NAME")
    parser.add_argument("--units", type=int, default=ChatGenerator.budget.units, help="at most this many units")
    parser.add_argument("--margin", type=float, default=ChatGenerator.budget.margin, help="within this of the best")
    args = parser.parse_args()

    settings = Settings.from_env()
    suite = load_suite(args.suite)
    embedder = load_embedder(settings.embedder, settings.torch_threads)
    print(machine_note(), code_note(), sep="\n")
    print(f"model reads at most {args.units} units within {args.margin} of the best; {args.split} split")
    print(f"{'corpus':18}{'questions':>10}{'unit first':>12}{'read by model':>15}{'among candidates':>18}"
          f"{'units given':>13}")
    for corpus in suite.corpora:
        if args.corpus and corpus.name not in args.corpus:
            continue
        s = suite.settings_for(settings, corpus)
        build_index(s, embedder)
        qa = load(s, embedder, build=False)
        store = qa.retriever.store
        texts = document_texts(qa)
        reads = embedder.reads(store.language.code)
        n = first = read = found = asked = units = 0
        for item in select_split(corpus.items, args.split):
            vector = embedder.encode_query(item.question)
            hits = qa.retriever.search(item.question, s.top_k, query_vector=vector)
            gathered = evidence.gather(item.question, vector if reads else None, hits, store)
            given = len(gathered.select(args.units, args.margin))
            if gathered.answerable:
                asked += 1
                units += given
            gold = gold_span(item, texts) if item.answerable and item.gold else None
            if gold is None:
                continue
            n += 1
            ranked = gathered.select(len(gathered.candidates), float("inf"))
            source, start, end = gold
            rank = next((e.n for e in ranked if e.source == source and e.start < end and e.end > start), None)
            first += rank == 1
            read += rank is not None and rank <= given
            found += rank is not None
        if n:
            print(f"{corpus.name:18}{n:>10}{first / n:>12.3f}{read / n:>15.3f}{found / n:>18.3f}"
                  f"{units / max(asked, 1):>13.2f}")


if __name__ == "__main__":
    main()
