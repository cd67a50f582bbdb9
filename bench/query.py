"""Query latency: ragchat's retriever.search(q, 5) (embed + dense + BM25 + fusion) vs the bare minimum,
emb.model.encode(q) + a faiss IndexFlatIP search over the very same vectors.

Questions: every question in tests/data/qa.jsonl. Index: seeds/ built into a temporary folder (or, with
--copies N, the seed written as N shuffled files, as in bench/indexing.py). Each round asks every question
of every contender back to back, in a fresh shuffled order per question, so noise is shared.
Diagnostic contenders show where ragchat's extra time goes: `embed` (emb.encode_query alone), `keyword`
(the BM25 search alone) and `dense` (the store's FAISS search alone, query vector precomputed).

Target: median latency ratio ragchat/raw <= 1.3.

    .venv/bin/python bench/query.py            # full: all questions, 20 rounds
    .venv/bin/python bench/query.py --quick    # smoke: 20 questions, 2 rounds (< 60 s)
    .venv/bin/python bench/query.py --faiss-threads 1   # what ragchat would get with single-threaded FAISS
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import _common as C

TARGET = 1.3
K = 5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short smoke run: 20 questions, 2 rounds")
    ap.add_argument("--rounds", type=int, help="passes over the questions (default 20; quick 2)")
    ap.add_argument("--copies", type=int, default=0, help="index the seed as N shuffled files instead of seeds/")
    ap.add_argument("--threads", type=int, help="torch threads (default: Settings().torch_threads)")
    ap.add_argument("--faiss-threads", type=int,
                    help="faiss.omp_set_num_threads(N) before measuring (default: leave faiss as ragchat leaves it)")
    args = ap.parse_args()
    rounds = args.rounds or (2 if args.quick else 20)

    import faiss
    import numpy as np
    import torch

    from ragchat import Settings, build_index, load_embedder, open_retriever

    questions = [json.loads(line)["question"] for line in C.QA.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.quick:
        questions = questions[:20]
    work = Path(tempfile.mkdtemp(prefix="ragchat-bench-query-"))
    try:
        if args.copies:
            seeds = work / "seeds"
            C.write_corpus(seeds, args.copies)
        else:
            seeds = C.ROOT / "seeds"
        settings = Settings(seeds_dir=seeds, index_dir=work / "index")
        threads = args.threads or settings.torch_threads
        emb = load_embedder(settings.embedder, threads)
        report = build_index(settings, emb)
        retriever = open_retriever(settings, emb)
        store = retriever.store

        ids = store.vectors.ids()
        flat = faiss.IndexFlatIP(emb.dim)
        flat.add(store.vectors.get(ids))
        model = emb.model

        def ragchat(q: str):
            return retriever.search(q, K)

        def raw(q: str):
            v = model.encode(q, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
            return flat.search(np.asarray(v, dtype=np.float32).reshape(1, -1), K)

        def embed(q: str):
            return emb.encode_query(q)

        def keyword(q: str):
            return store.search_keyword(q, max(K, retriever.candidates))

        qvec = {q: emb.encode_query(q) for q in questions}

        def dense(q: str):
            return store.search_dense(qvec[q], max(K, retriever.candidates))

        if args.faiss_threads:
            faiss.omp_set_num_threads(args.faiss_threads)
        contenders = {"ragchat": ragchat, "raw": raw, "embed": embed, "keyword": keyword, "dense": dense}
        print(f"# query latency  ({C.machine_note()})")
        print(f"# {C.code_note()}")
        print(f"index: {report.chunks} chunks from {len(list(seeds.iterdir()))} file(s) ({store.vectors.kind}); "
              f"{len(questions)} questions x {rounds} rounds; torch threads {torch.get_num_threads()}, "
              f"faiss threads {faiss.omp_get_max_threads()}, k={K}, candidates={retriever.candidates}")

        # Sanity: the dense top hit of ragchat and raw agree (same vectors, same model).
        agree = sum(
            int(ids[raw(q)[1][0][0]]) == int(store.vectors.search(emb.encode_query(q), 1)[0][0]) for q in questions
        )
        print(f"dense top-1 agreement ragchat store vs raw flat: {agree}/{len(questions)}")
        for q in questions[:10]:  # warm-up
            for f in contenders.values():
                f(q)

        names = list(contenders)
        ms: dict[str, list[float]] = {n: [] for n in names}
        shuffled = C.orders(names)
        for _ in range(rounds):
            for q in questions:
                for n in next(shuffled):
                    t0 = time.perf_counter()
                    contenders[n](q)
                    ms[n].append((time.perf_counter() - t0) * 1000)

        print(f"\nresults over {len(ms['raw'])} calls each (ms):")
        print(f"  {'':<9} {'median':>8} {'p95':>8} {'mean':>8}")
        for n in names:
            print(f"  {n:<9} {C.median(ms[n]):8.2f} {C.percentile(ms[n], 95):8.2f} {sum(ms[n]) / len(ms[n]):8.2f}")
        r50 = C.median(ms["ragchat"]) / C.median(ms["raw"])
        r95 = C.percentile(ms["ragchat"], 95) / C.percentile(ms["raw"], 95)
        paired = C.median([a / b for a, b in zip(ms["ragchat"], ms["raw"])])
        print(f"\nRATIO ragchat/raw median latency: {r50:.3f} (p95 ratio {r95:.3f}, per-call paired median {paired:.3f}); "
              f"target <= {TARGET}: {C.verdict(r50 <= TARGET)}")
        print(f"peak RSS {C.peak_rss_mb():.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
