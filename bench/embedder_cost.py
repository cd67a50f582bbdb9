"""What another embedder costs next to the default all-MiniLM-L6-v2, side by side in one process.

For each corpus, each embedder builds a fresh index (load, chunk, embed, FAISS + BM25, save) with the same settings
and torch threads, in alternating order round by round; then every question of the corpus is embedded one at a
time, as at answer time. Reported per corpus: build seconds (median), texts embedded per second, query embedding ms
(median), and the other embedder's ratio to MiniLM. What it buys is `ragchat eval --suite …` with
RAGCHAT_EMBEDDER set to it (docs/BENCHMARKS.md, "A larger embedder").

    .venv/bin/python bench/embedder_cost.py --embedder /path/to/all-mpnet-base-v2 [--rounds 2] [--threads 2]
        [--corpus seed --corpus licenses]
"""

from __future__ import annotations

from _common import ROOT, code_note, machine_note, median  # noqa: I001 (sets up paths and offline env first)

import argparse
import tempfile
import time
from pathlib import Path


def main() -> int:
    from ragchat import Settings, build_index
    from ragchat.embedding import load_embedder
    from ragchat.evaluation import load_suite

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embedder", required=True, help="a sentence-transformers folder (or a known embedder name)")
    ap.add_argument("--rounds", type=int, default=2, help="builds per embedder and corpus, order alternating")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for both")
    ap.add_argument("--corpus", action="append", metavar="NAME", help="suite corpora (default: seed and licenses)")
    ap.add_argument("--quick", action="store_true", help="smoke run: one round on the seed")
    args = ap.parse_args()
    names = ["seed"] if args.quick else (args.corpus or ["seed", "licenses"])
    rounds = 1 if args.quick else args.rounds

    print(machine_note(), code_note(), sep="\n")
    print(f"torch threads {args.threads}; {rounds} round(s), order alternating; a fresh index each build")
    contenders = (Settings.embedder, args.embedder)
    embedders = {name: load_embedder(name, threads=args.threads) for name in contenders}
    suite = load_suite(ROOT / "bench" / "corpora" / "suite.json")
    print(f"{'corpus':<10} {'embedder':<28} {'build s':>8} {'texts/s':>8} {'query ms':>9}   vs MiniLM")
    for corpus in (c for c in suite.corpora if c.name in names):
        builds: dict[str, list[float]] = {name: [] for name in contenders}
        texts: dict[str, int] = {}
        for r in range(rounds):
            for name in contenders if r % 2 == 0 else contenders[::-1]:
                with tempfile.TemporaryDirectory(prefix="ragchat-embedder-cost-") as folder:
                    settings = Settings(seeds_dir=corpus.docs, index_dir=Path(folder), embedder=name,
                                        torch_threads=args.threads)
                    started = time.perf_counter()
                    texts[name] = build_index(settings, embedders[name]).embedded
                    builds[name].append(time.perf_counter() - started)
        query_ms: dict[str, float] = {}
        questions = [q.question for q in corpus.items]
        for name in contenders:
            embedders[name].encode_query(questions[0])  # warm
            times = []
            for q in questions:
                started = time.perf_counter()
                embedders[name].encode_query(q)
                times.append((time.perf_counter() - started) * 1000)
            query_ms[name] = median(times)
        base = contenders[0]
        for name in contenders:
            build = median(builds[name])
            ratio = "" if name == base else (f"build {build / median(builds[base]):.1f}x, "
                                             f"query {query_ms[name] / query_ms[base]:.1f}x")
            print(f"{corpus.name:<10} {Path(name).name:<28} {build:>8.1f} {texts[name] / build:>8.1f} "
                  f"{query_ms[name]:>9.1f}   {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
