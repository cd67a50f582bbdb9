"""Embedding backends side by side: torch (sentence-transformers) vs ONNX Runtime fp32 vs ONNX Runtime int8.

Texts: exactly what ragchat embeds when indexing (the distinct sentence/unit texts and heading paths of every
chunk) of the seed and of the Debian handbook (bench/corpora/debian-handbook), a deterministic sample of
--sample texts from each; plus single-query latency on the seed's QA questions.
Contenders are interleaved round by round in a fresh shuffled order, same batch size and threads; medians.
Agreement: cosine of each backend's vector with torch's for the same text (min / mean), and how often the
nearest corpus sentence of each QA question is the same one torch finds.

    .venv/bin/python bench/embedding.py            # 3 rounds, 600 texts per corpus
    .venv/bin/python bench/embedding.py --quick    # 1 round, 150 texts per corpus

Target: the chosen backend >= 2x torch's speed on indexing texts. Retrieval quality per corpus is measured
with `ragchat eval --suite bench/corpora/suite.json --retrieval` under each RAGCHAT_EMBED_BACKEND.
"""

from __future__ import annotations

from _common import ROOT, QA, code_note, interleaved, machine_note, median, peak_rss_mb, verdict  # noqa: I001

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET = 2.0
CORPORA = {"seed": ROOT / "seeds", "debian-handbook": ROOT / "bench" / "corpora" / "debian-handbook" / "docs"}


def corpus_texts(folder: Path, settings, embedder, sample: int) -> list[str]:
    from ragchat.indexing import chunker
    from ragchat.loading import discover, load_file, source_name
    from ragchat.store import unit_texts

    make = chunker(settings.replace(seeds_dir=folder), embedder)
    texts: dict[str, None] = {}
    for path in discover(folder):
        for chunk in make(load_file(path, source_name(path, folder))):
            texts.update(dict.fromkeys(unit_texts(chunk)))
    found = list(texts)
    return random.Random(0).sample(found, min(sample, len(found))), len(found)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 round, 150 texts per corpus")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--sample", type=int, help="texts per corpus (default 600; quick 150)")
    ap.add_argument("--threads", type=int, help="threads for every backend (default: Settings().torch_threads)")
    ap.add_argument("--backends", default="torch,onnx,onnx-int8")
    args = ap.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    sample = args.sample or (150 if args.quick else 600)

    from ragchat import Settings
    from ragchat.embedding import load_embedder
    from ragchat.tokens import seed_tiktoken_cache

    seed_tiktoken_cache("cl100k_base")
    settings = Settings()
    threads = args.threads or settings.torch_threads
    batch = settings.embed_batch_size
    backends = args.backends.split(",")
    print(f"# embedding backends  ({machine_note()})")
    print(f"# {code_note()}")
    cache = Path(tempfile.mkdtemp(prefix="ragchat-bench-onnx-"))  # a cold cache: the export is timed too
    embedders, load_s = {}, {}
    for b in backends:
        t0 = time.perf_counter()
        embedders[b] = load_embedder("all-MiniLM-L6-v2", threads, backend=b, cache_dir=cache)
        load_s[b] = time.perf_counter() - t0
        t0 = time.perf_counter()
        load_embedder("all-MiniLM-L6-v2", threads, backend=b, cache_dir=cache)
        print(f"{b:<10} first load (with export) {load_s[b]:5.1f} s, cached load {time.perf_counter() - t0:5.1f} s")
    ref = embedders[backends[0]]
    texts: list[str] = []
    for name, folder in CORPORA.items():
        got, total = corpus_texts(folder, settings, ref, sample)
        texts += got
        print(f"{name}: {len(got)} of {total} distinct texts (mean {np.mean([len(t) for t in got]):.0f} chars)")
    questions = [json.loads(line)["question"] for line in QA.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = questions[:40]
    print(f"{len(texts)} texts, batch {batch}, threads {threads}; {len(questions)} single queries; {rounds} rounds")

    vectors: dict[str, np.ndarray] = {}

    def index_run(b: str):
        def run() -> None:
            vectors[b] = embedders[b].encode_documents(texts, batch)
        return run

    def query_run(b: str):
        def run() -> None:
            for q in questions:
                embedders[b].encode_query(q)
        return run

    contenders = {f"{b}": index_run(b) for b in backends}
    contenders.update({f"{b} q": query_run(b) for b in backends})
    times = interleaved(contenders, rounds, log=lambda _s: None)
    med = {k: median(v) for k, v in times.items()}

    print("\nresults (medians):")
    print(f"  {'backend':<10} {'texts/s':>8} {'speed vs torch':>15} {'paired':>7} {'query ms':>9} {'vs torch':>9}")
    base = backends[0]
    for b in backends:
        paired = median([a / c for a, c in zip(times[base], times[b])])
        print(f"  {b:<10} {len(texts) / med[b]:8.1f} {med[base] / med[b]:15.2f} {paired:7.2f} "
              f"{1000 * med[b + ' q'] / len(questions):9.1f} {med[base + ' q'] / med[b + ' q']:9.2f}")

    print("\nagreement with torch (same texts):")
    sents = vectors[base]
    qv = {b: np.stack([embedders[b].encode_query(q) for q in questions]) for b in backends}
    top_ref = (qv[base] @ sents.T).argmax(axis=1)
    for b in backends[1:]:
        cos = (vectors[b] * sents).sum(axis=1)
        top = (qv[b] @ vectors[b].T).argmax(axis=1)
        print(f"  {b:<10} cosine min {cos.min():.4f} mean {cos.mean():.4f}; same nearest text for "
              f"{(top == top_ref).mean():.2f} of questions")
    for b in backends[1:]:
        ratio = med[base] / med[b]
        print(f"RATIO {b}/torch indexing speed: {ratio:.2f}; target >= {TARGET}: {verdict(ratio >= TARGET)}")
    print(f"peak RSS {peak_rss_mb():.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
