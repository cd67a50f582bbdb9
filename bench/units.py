"""Where the answer's unit sits among the evidence the default mode's model reads, per corpus of the dev suite.

    .venv/bin/python bench/units.py [--suite bench/corpora/suite.json] [--split dev|heldout|all] [--corpus NAME ...]
                                    [--units N] [--margin M] [--chunk-tokens N] [--top-k K]

For every answerable question with a gold fragment: the rank of the first unit (sentence, item, row) whose span
overlaps the gold among all of evidence.gather's candidates, and whether that unit is among those the local
generator is given (its Budget: at most `units`, within `margin` of the best; `--units`/`--margin` try another
budget), and how many units it is given on average, over every question the rules let through (prompt length is
most of the local answer's time). No model is run, so a change to unit scoring or to the budget can be measured
on every corpus in seconds, before the slow per-question runs. Chunk-level hit@k is
`ragchat eval --retrieval`; this is the step after it.

`--chunk-tokens` indexes each corpus with another chunk size, into bench/out/chunks-<N>/ so the suite's own indexes
are left alone; a unit's vector does not depend on the chunk around it, so vectors are taken from the suite's
index by content where it has them (as an index update does) and only new texts are embedded. `--top-k`: how
many passages each question retrieves (their units are the candidates). Both compare with how units rank, not
with chunk-level hit@k, which a larger chunk raises by holding more text.
"""

from __future__ import annotations

from _common import ROOT, code_note, machine_note  # noqa: I001 (sets up paths and offline env first)

import argparse
from pathlib import Path

import numpy as np

from ragchat import Embedder, RagError, Settings, build_index, load, load_embedder
from ragchat import evidence
from ragchat.store import open_store, sentence_key
from ragchat.evaluation import SPLITS, Suite, document_texts, gold_span, load_suite, select_split
from ragchat.generation import ChatGenerator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", type=Path, default=ROOT / "bench" / "corpora" / "suite.json")
    parser.add_argument("--split", choices=SPLITS, default="dev")
    parser.add_argument("--corpus", action="append", metavar="NAME")
    parser.add_argument("--units", type=int, default=ChatGenerator.budget.units, help="at most this many units")
    parser.add_argument("--margin", type=float, default=ChatGenerator.budget.margin, help="within this of the best")
    parser.add_argument("--chunk-tokens", type=int, help="index with chunks of this many tokens (default: settings')")
    parser.add_argument("--top-k", type=int, help="passages retrieved per question (default: settings')")
    args = parser.parse_args()

    settings = Settings.from_env()
    if args.top_k:
        settings = settings.replace(top_k=args.top_k)
    suite = load_suite(args.suite)
    embedder = load_embedder(settings.embedder, settings.torch_threads)
    resized = args.chunk_tokens and args.chunk_tokens != settings.chunk_tokens
    if resized:
        reuse_vectors(embedder, suite, settings)
    print(machine_note(), code_note(), sep="\n")
    print(f"model reads at most {args.units} units within {args.margin} of the best; {args.split} split; "
          f"chunks of {args.chunk_tokens or settings.chunk_tokens} tokens, {settings.top_k} passages per question")
    print(f"{'corpus':18}{'questions':>10}{'unit first':>12}{'read by model':>15}{'among candidates':>18}"
          f"{'units given':>13}")
    means = []
    for corpus in suite.corpora:
        if args.corpus and corpus.name not in args.corpus:
            continue
        s = suite.settings_for(settings, corpus)
        if resized:
            s = s.replace(chunk_tokens=args.chunk_tokens,
                          chunk_overlap=min(s.chunk_overlap, args.chunk_tokens // 2 - 1),
                          index_dir=suite.index_root / f"chunks-{args.chunk_tokens}" / s.index_dir.name)
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
            row = (first / n, read / n, found / n, units / max(asked, 1))
            means.append(row)
            print(f"{corpus.name:18}{n:>10}{row[0]:>12.3f}{row[1]:>15.3f}{row[2]:>18.3f}{row[3]:>13.2f}")
    if means:
        mean = [sum(r[i] for r in means) / len(means) for i in range(4)]
        print(f"{'mean of corpora':28}{mean[0]:>12.3f}{mean[1]:>15.3f}{mean[2]:>18.3f}{mean[3]:>13.2f}")


def reuse_vectors(embedder: Embedder, suite: Suite, settings: Settings) -> None:
    """Serve the embedder's document vectors from the suite's indexes where they hold the text: another chunk
    size cuts the same units, whose vectors would come out identical (at ~25,000 units, minutes per size)."""
    stores = []
    for corpus in suite.corpora:
        try:
            stores.append(open_store(suite.settings_for(settings, corpus)))
        except RagError:
            continue  # not indexed yet: its texts are embedded
    encode = embedder.encode_documents

    def encode_documents(texts, batch_size=32, progress=None):
        texts = list(texts)
        keys = [sentence_key(t) for t in texts]
        known: dict[str, np.ndarray] = {}
        for store in stores:
            known.update(store.known_sentence_vectors(k for k in keys if k not in known))
        missing = {k: t for t, k in zip(texts, keys) if k not in known}
        known.update(zip(missing, encode(list(missing.values()), batch_size)))
        return np.stack([known[k] for k in keys]) if texts else encode([], batch_size)

    embedder.encode_documents = encode_documents


if __name__ == "__main__":
    main()
