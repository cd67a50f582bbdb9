"""The Milvus backend (RAGCHAT_STORE=milvus, through milvus-lite here) against the FAISS one, side by side.

1. Quality: dev-suite retrieval hit@1 / hit@5 / MRR of both backends on every corpus, for hybrid, dense and
   BM25, with both index kinds (exact, HNSW). The Milvus index is a copy of the FAISS one (same documents,
   chunks, vectors and calibration, written through MilvusStore.add_document/save), so every difference is the
   store's. Target: Milvus hit@5 within 0.01 of FAISS.
2. Latency: a question's retrieval (Retriever.search, hybrid and dense, query vector given) on both backends,
   interleaved question by question; p50 / p95.
3. Incremental update: rows one save writes after one file of the seed corpus changes (real embedder).
4. Scale: N synthetic 384-d vectors (bench/hnsw.py's clustered generator; random, not text) into one milvus-lite
   collection with ragchat's HNSW parameters: insert + flush + index time, single-query p50 at ef 64, recall@10
   against exact search (FAISS IndexFlatIP over the same vectors), RSS. Dense only: no text, so no BM25.

    .venv/bin/python bench/milvus.py                     # 1-3, then scale at 100,000
    .venv/bin/python bench/milvus.py --scale 1000000     # the 1M run
    .venv/bin/python bench/milvus.py --skip-quality --scale 20000
"""

from __future__ import annotations

from _common import OUT, ROOT, machine_note, percentile  # noqa: I001 (sets up paths and offline env first)

import argparse
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ragchat import Settings, build_index, load_embedder
from ragchat.evaluation import evaluate_retrieval, load_suite, select_split
from ragchat.milvus_store import MilvusStore
from ragchat.retrieval import Retriever
from ragchat.store import FaissStore, open_store
from ragchat.vectors import EXACT, HNSW, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M

METHODS = ("hybrid", "dense", "keyword")


def copy_to_milvus(source: FaissStore, settings: Settings) -> tuple[MilvusStore, float]:
    """The FAISS index's documents, chunks and vectors written into a new Milvus index; (store, seconds)."""
    started = time.perf_counter()
    target = MilvusStore.empty(settings, source.config)
    by_source: dict[str, list[int]] = {}
    for row, chunk in source.chunks.items():
        by_source.setdefault(chunk.source, []).append(row)
    for name, doc in source.documents.items():
        rows = sorted(by_source.get(name, []), key=lambda r: source.chunks[r].start)
        target.add_document(doc, [source.chunks[r] for r in rows], source.vectors.get(rows), source.sentence_vectors)
    target.calibration = source.calibration
    target.use_kind(source.vectors.kind)
    target.save()
    return open_store(settings), time.perf_counter() - started


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def native_analyzer(store: FaissStore, items, embedder, milvus_dir: Path, name: str) -> tuple[tuple, tuple]:
    """BM25 with Milvus' own "standard" analyzer (\\w+, lower case; milvus-lite has no stemmer or per-language
    analyzer, only jieba as an extra) over the raw passage text, against ragchat's terms: ((hit@1, hit@5) BM25,
    (hit@1, hit@5) hybrid fused with the same dense results)."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    from ragchat.evaluation import gold_rank
    from ragchat.retrieval import fuse
    from ragchat.store import keyword_text

    client = MilvusClient(str(milvus_dir))
    collection = f"native_{name}"
    if client.has_collection(collection):
        client.drop_collection(collection)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=128)
    schema.add_field("text", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                     analyzer_params={"tokenizer": "standard"})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                    params={"bm25_k1": 1.5, "bm25_b": 0.75})
    client.create_collection(collection, schema=schema, index_params=index)
    chunks = {c.id: c for c in store.chunks.values()}
    rows = [{"id": c.id, "text": keyword_text(c)} for c in chunks.values()]
    for b in range(0, len(rows), 500):
        client.insert(collection, rows[b : b + 500])
    client.flush(collection)
    answerable = [q for q in items if q.answerable and q.gold]
    keyword_ranks, hybrid_ranks = [], []
    for q in answerable:
        res = client.search(collection, data=[q.question], anns_field="sparse", limit=30,
                            search_params={"metric_type": "BM25"})
        keyword = [(chunks[r["id"]], abs(float(r["distance"]))) for r in res[0]]
        dense = store.search_dense(embedder.encode_query(q.question), 30)
        keyword_ranks.append(gold_rank(q.gold, [c.text for c, _ in keyword[:5]]))
        hybrid_ranks.append(gold_rank(q.gold, [h.chunk.text for h in fuse(dense, keyword, 5)]))
    client.drop_collection(collection)

    def hits(ranks) -> tuple[float, float]:
        n = max(len(ranks), 1)
        return sum(r == 1 for r in ranks) / n, sum(r is not None and r <= 5 for r in ranks) / n

    return hits(keyword_ranks), hits(hybrid_ranks)


def quality(embedder, milvus_dir: Path, lines: list[str], split: str = "dev") -> None:
    suite = load_suite(ROOT / "bench" / "corpora" / "suite.json")
    base = Settings.from_env()
    rows, timing, analyzers = [], [], []
    worst = 0.0
    for corpus in suite.corpora:
        items = select_split(corpus.items, split)
        faiss_settings = suite.settings_for(base, corpus)
        print(f"[{corpus.name}] {build_index(faiss_settings, embedder).summary()}", flush=True)
        vectors = {q.question: embedder.encode_query(q.question) for q in items}
        for kind in (EXACT, HNSW):
            faiss = open_store(faiss_settings)
            faiss.use_kind(kind)
            ms = base.replace(store="milvus", milvus_uri=str(milvus_dir),
                              milvus_collection=f"{corpus.name.replace('-', '_')}_{kind}")
            milvus, seconds = copy_to_milvus(faiss, ms)
            print(f"[{corpus.name}] {kind}: {len(milvus)} chunks copied into Milvus in {seconds:.1f} s", flush=True)
            retrievers = {"faiss": Retriever(faiss, embedder, base.candidates),
                          "milvus": Retriever(milvus, embedder, base.candidates)}
            for method in METHODS:
                a, b = (evaluate_retrieval(retrievers[n], items, method) for n in ("faiss", "milvus"))
                worst = max(worst, abs(a.hit_at_5 - b.hit_at_5))
                rows.append(f"| {corpus.name} | {kind} | {'BM25' if method == 'keyword' else method} | {a.questions} | "
                            f"{a.hit_at_1:.2f} / {a.hit_at_5:.2f} / {a.mrr:.2f} | {b.hit_at_1:.2f} / {b.hit_at_5:.2f} / "
                            f"{b.mrr:.2f} | {b.hit_at_5 - a.hit_at_5:+.2f} |")
                print(rows[-1], flush=True)
            # Latency: both backends and both methods interleaved question by question, in a shuffled order.
            times: dict[str, list[float]] = {}
            rng = random.Random(0)
            for _ in range(3):
                for question in rng.sample(list(vectors), len(vectors)):
                    order = [(n, m) for n in retrievers for m in ("hybrid", "dense")]
                    rng.shuffle(order)
                    for name, method in order:
                        t = time.perf_counter()
                        retrievers[name].search(question, 5, method, query_vector=vectors[question])
                        times.setdefault(f"{name} {method}", []).append((time.perf_counter() - t) * 1000)
            timing.append(f"| {corpus.name} | {kind} | {len(milvus)} | " + " | ".join(
                f"{percentile(times[f'{n} {m}'], 50):.2f} / {percentile(times[f'{n} {m}'], 95):.2f}"
                for m in ("hybrid", "dense") for n in ("faiss", "milvus")) + " |")
            print(timing[-1], flush=True)
            if kind == EXACT:
                ours = {m: evaluate_retrieval(retrievers["milvus"], items, m) for m in ("keyword", "hybrid")}
                (k1, k5), (h1, h5) = native_analyzer(faiss, items, embedder, milvus_dir, corpus.name.replace("-", "_"))
                analyzers.append(f"| {corpus.name} | {ours['keyword'].hit_at_1:.2f} / {ours['keyword'].hit_at_5:.2f} | "
                                 f"{k1:.2f} / {k5:.2f} | {ours['hybrid'].hit_at_1:.2f} / {ours['hybrid'].hit_at_5:.2f} | "
                                 f"{h1:.2f} / {h5:.2f} |")
                print(analyzers[-1], flush=True)
    lines += [f"### Retrieval quality ({split} split): hit@1 / hit@5 / MRR", "",
              "| corpus | index | retriever | questions | FAISS | Milvus | Δ hit@5 |", "|---|---|---|---|---|---|---|",
              *rows, "", f"Largest |Δ hit@5|: {worst:.3f} (target ≤ 0.01).", "",
              "### Retrieval latency per question (ms, p50 / p95; query vector given)", "",
              "| corpus | index | chunks | hybrid FAISS | hybrid Milvus | dense FAISS | dense Milvus |",
              "|---|---|---|---|---|---|---|", *timing, "",
              f"### Keyword terms: ragchat's (language.py) vs Milvus' standard analyzer (hit@1 / hit@5, {split} split, exact)", "",
              "| corpus | BM25, ragchat terms | BM25, Milvus analyzer | hybrid, ragchat terms | hybrid, Milvus analyzer |",
              "|---|---|---|---|---|", *analyzers, ""]


def incremental(embedder, lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "seeds"
        shutil.copytree(ROOT / "seeds", seeds)
        extra = seeds / "lighthouse.txt"
        extra.write_text("The lighthouse at Quenby was built in 1872.\n\nIts lamp burned whale oil until 1911, "
                         "then kerosene.\n\nKeepers lived beside it until 1965.\n", encoding="utf-8")
        settings = Settings(seeds_dir=seeds, index_dir=Path(tmp) / "index", store="milvus")
        first = build_index(settings, embedder)
        extra.write_text(extra.read_text(encoding="utf-8").replace("kerosene", "paraffin"), encoding="utf-8")
        second = build_index(settings, embedder)
        (seeds / "lighthouse.txt").unlink()
        third = build_index(settings, embedder)
    for label, r in (("first build (both sides)", first), ("one word changed in lighthouse.txt", second),
                     ("lighthouse.txt removed", third)):
        w = r.rows
        lines.append(f"| {label} | {r.chunks} | {r.embedded} | {w.chunks_upserted} / {w.chunks_deleted} | "
                     f"{w.sentences_upserted} / {w.sentences_deleted} | {w.meta_upserted} / {w.meta_deleted} |")
        print(lines[-1], flush=True)
    lines[-3:-3] = ["### Incremental updates (rows written / deleted by one save)", "",
                    "| change | chunks | sentences embedded | chunk rows | sentence rows | meta rows |",
                    "|---|---|---|---|---|---|"]
    lines.append("")


def scale(n: int, milvus_dir: Path, lines: list[str], queries: int = 200, batch: int = 5_000) -> None:
    import faiss
    from pymilvus import DataType, MilvusClient

    from hnsw import make_data

    print(f"scale: generating {n:,} vectors", flush=True)
    xb, xq = make_data(n, queries, clusters=2000, noise=0.6, decay=0.0, seed=7)
    client = MilvusClient(str(milvus_dir))
    name = f"scale_{n}"
    if client.has_collection(name):
        client.drop_collection(name)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=xb.shape[1])
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type="HNSW", metric_type="IP",
                    params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
    client.create_collection(name, schema=schema, index_params=index)
    rss_before = rss_mib()
    started = time.perf_counter()
    for b in range(0, n, batch):
        client.insert(name, [{"id": i, "vector": v} for i, v in zip(range(b, b + batch), xb[b : b + batch].tolist())])
        if b and b % 100_000 == 0:
            print(f"scale: {b:,} inserted, {time.perf_counter() - started:.0f} s", flush=True)
    inserted = time.perf_counter() - started
    client.flush(name)
    client.load_collection(name)
    built = time.perf_counter() - started
    print(f"scale: insert {inserted:.0f} s, flush+index+load {built - inserted:.0f} s", flush=True)
    exact = faiss.IndexFlatIP(xb.shape[1])
    exact.add(xb)
    faiss.omp_set_num_threads(1)
    _, truth = exact.search(xq, 10)
    times, recall = [], []
    for q in range(queries):
        t = time.perf_counter()
        res = client.search(name, data=[xq[q].tolist()], anns_field="vector", limit=10,
                            search_params={"metric_type": "IP", "params": {"ef": HNSW_EF_SEARCH}})
        times.append((time.perf_counter() - t) * 1000)
        recall.append(len({r["id"] for r in res[0]} & set(truth[q].tolist())) / 10)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    disk = sum(p.stat().st_size for p in milvus_dir.rglob("*") if p.is_file()) / 2**20
    lines += [f"### {n:,} synthetic vectors through milvus-lite (dense, HNSW M={HNSW_M}, efConstruction="
              f"{HNSW_EF_CONSTRUCTION}, ef={HNSW_EF_SEARCH})", "",
              "| vectors | insert | flush + index + load | query p50 / p95 | recall@10 vs exact | RSS added | peak RSS | on disk |",
              "|---|---|---|---|---|---|---|---|",
              f"| {n:,} | {inserted:.0f} s ({n / inserted:,.0f}/s) | {built - inserted:.0f} s | "
              f"{percentile(times, 50):.2f} / {percentile(times, 95):.2f} ms | {np.mean(recall):.3f} | "
              f"{rss_mib() - rss_before:,.0f} MiB | {peak:,.0f} MiB | {disk:,.0f} MiB |", ""]
    print("\n".join(lines[-2:]), flush=True)
    # Not drop_collection: at 1M rows milvus-lite's drop ran for over 10 minutes of CPU (2026-11-27); the caller
    # removes the whole folder instead.
    client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, action="append",
                    help="synthetic vectors for a scale run (repeatable; default 100,000; 0: skip)")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--split", choices=["dev", "heldout", "all"], default="dev", help="questions for the quality part")
    ap.add_argument("--out", type=Path, default=OUT / "milvus.md")
    args = ap.parse_args()
    lines = [f"## Milvus backend ({machine_note()})", ""]
    milvus_dir = OUT / "milvus-bench.db"
    shutil.rmtree(milvus_dir, ignore_errors=True)
    if not args.skip_quality:
        embedder = load_embedder(Settings.from_env().embedder, 1)
        quality(embedder, milvus_dir, lines, args.split)
        incremental(embedder, lines)
    def save() -> None:  # after every part, so a long run that is stopped keeps what it measured
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")

    save()
    for n in args.scale or [100_000]:
        if n:
            # milvus-lite's per-query cost grows with the rows (a Python pass over them, see docs/BENCHMARKS.md):
            # fewer queries at 1M keep the run under an hour.
            folder = OUT / f"milvus-scale-{n}.db"  # one per size: milvus-lite keeps serving a folder once opened
            shutil.rmtree(folder, ignore_errors=True)
            scale(n, folder, lines, queries=200 if n <= 200_000 else 50)
            shutil.rmtree(folder, ignore_errors=True)
            save()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
