"""`ragchat index --ray` against the plain path: embedding throughput on this machine, side by side.

Texts: a deterministic sample of what ragchat embeds when indexing the Debian handbook (bench/corpora; the same
sampler as bench/embedding.py). Contenders, interleaved in shuffled order per round, each timed on the same texts:
  plain-1t   Embedder.encode_documents, 1 torch thread (the default, RAGCHAT_TORCH_THREADS=1)
  plain-2t   the same with 2 threads (all of this machine's cores in one process)
  ray-2x1t   RayEmbedder: Ray Data map_batches over 2 actors × 1 thread, on a local Ray instance
Ray's start (ray.init) and the actors' model loads happen inside the first ray run and are reported apart: a
build pays them once. Prints texts/s and the ratios to plain-1t.

    .venv/bin/python bench/ray_indexing.py [--sample 1200] [--rounds 3]
"""

from __future__ import annotations

from _common import ROOT, code_note, interleaved, machine_note, median  # noqa: I001 (sets up paths first)

import argparse
import time

from embedding import CORPORA, corpus_texts


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=1200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from ragchat import Settings
    from ragchat.embedding import load_embedder
    from ragchat.ray_embedding import RayOptions, ray_embedder, shutdown

    print(machine_note())
    print(code_note())
    settings = Settings()
    one = load_embedder("all-MiniLM-L6-v2", threads=1)
    two = load_embedder("all-MiniLM-L6-v2", threads=2)
    texts, total = corpus_texts(CORPORA["debian-handbook"], settings, one, args.sample)
    print(f"{len(texts)} of the handbook's {total} distinct texts; batch {settings.embed_batch_size}")
    t0 = time.perf_counter()
    distributed = ray_embedder(one, RayOptions(actors=2, threads=1))
    distributed.encode_documents(texts[: settings.embed_batch_size * 4], settings.embed_batch_size)  # actors up
    warm = time.perf_counter() - t0
    print(f"Ray start + 2 actors loading the embedder + a first small job: {warm:.1f} s (once per build)")
    try:
        def run(embedder) -> None:
            embedder.encode_documents(texts, settings.embed_batch_size)

        times = interleaved({"plain-1t": lambda: run(one), "plain-2t": lambda: run(two),
                             "ray-2x1t": lambda: run(distributed)}, args.rounds)
    finally:
        shutdown()
    base = median(times["plain-1t"])
    print()
    print(f"{'path':<10} {'texts/s':>8} {'vs plain-1t':>12}")
    for name, seconds in times.items():
        print(f"{name:<10} {len(texts) / median(seconds):8.1f} {base / median(seconds):12.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
