"""HNSW (ragchat.vectors.VectorIndex "hnsw") vs exact search (faiss IndexFlatIP) on N synthetic clustered vectors.

Data: 384-d, like all-MiniLM-L6-v2. C cluster centres (random unit vectors); each point is a random centre
plus gaussian noise, L2-normalised. Queries are drawn the same way (fresh draws, not in the set). By default
the noise is isotropic (--decay 0): the hardest case for a graph index, since within a cluster every
direction is equally spread. --decay a > 0 shapes the noise spectrum like real text embeddings (variance of
the i-th of 384 random orthogonal directions proportional to (i+1)^-a; a lower intrinsic dimension).
--noise sets the noise norm relative to the unit centre (default 0.6: a point's cosine to its own centre is
about 0.86, to another cluster's about 0).

Measured in one process: build time of each index (faiss threads as the library leaves them: all cores),
then single-query search latency with 1 faiss thread (faiss.omp_set_num_threads(1)), the HNSW efSearch
values and exact search interleaved query by query; recall@10 of each against exact; memory as the RSS each
build added and the process's peak RSS (resource.getrusage).

Target: HNSW p50 latency <= 5 ms at recall@10 >= 0.95 (at the efSearch in ragchat/vectors.py).

    .venv/bin/python bench/hnsw.py                # full: 1,000,000 vectors (build ~5+ min on 2 cores)
    .venv/bin/python bench/hnsw.py --quick        # smoke: 20,000 vectors (< 60 s)
    .venv/bin/python bench/hnsw.py --n 200000 --decay 1
"""

from __future__ import annotations

import argparse
import time

import _common as C

TARGET_MS = 5.0
TARGET_RECALL = 0.95
EF_SWEEP = (16, 32, 64, 128, 256)
DIM = 384
K = 10


def make_data(n: int, nq: int, clusters: int, noise: float, decay: float, seed: int):
    """(base vectors, query vectors), float32, L2-normalised, generated in blocks to bound memory."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # Noise shape: per-direction scale (i+1)^(-decay/2) in a random orthonormal basis, overall norm ~ `noise`.
    scale = (np.arange(1, DIM + 1, dtype=np.float64) ** (-decay / 2.0))
    scale *= noise / np.sqrt((scale**2).sum())
    basis = np.linalg.qr(rng.standard_normal((DIM, DIM)))[0] if decay else np.eye(DIM)
    shape = (scale[:, None] * basis.T).astype(np.float32)  # row i: scale_i * (basis column i)

    def draw(m: int, gen) -> np.ndarray:
        out = np.empty((m, DIM), dtype=np.float32)
        for b in range(0, m, 100_000):
            e = min(m, b + 100_000)
            block = centres[gen.integers(0, clusters, e - b)] + gen.standard_normal((e - b, DIM), dtype=np.float32) @ shape
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            out[b:e] = block
        return out

    return draw(n, rng), draw(nq, np.random.default_rng(seed + 1))


def trim() -> None:
    """Give freed heap back to the OS so RSS deltas show what an index holds, not allocator leftovers."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def hnsw_bytes(index) -> dict[str, int]:
    """What a faiss IndexIDMap2(IndexHNSWFlat) holds, from its own arrays."""
    import faiss

    inner = faiss.downcast_index(index.index)
    g = inner.hnsw
    n = int(inner.ntotal)
    return {
        "vectors": n * inner.d * 4,
        "graph": int(g.neighbors.size()) * 4 + int(g.levels.size()) * 4 + int(g.offsets.size()) * 8,
        "id maps": n * 8 + n * 40,  # id_map vector + rev_map (std::unordered_map node ~40 B; estimate)
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short smoke run: 20,000 vectors, 200 queries")
    ap.add_argument("--n", type=int, help="vectors in the index (default 1,000,000; quick 20,000)")
    ap.add_argument("--queries", type=int, help="queries (default 1,000; quick 200)")
    ap.add_argument("--clusters", type=int, default=2000)
    ap.add_argument("--noise", type=float, default=0.6, help="noise norm relative to the unit centre")
    ap.add_argument("--decay", type=float, default=0.0, help="noise spectrum decay (0: isotropic)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    n = args.n or (20_000 if args.quick else 1_000_000)
    nq = args.queries or (200 if args.quick else 1_000)

    import faiss
    import numpy as np

    from ragchat import vectors as rv
    from ragchat.vectors import VectorIndex

    print(f"# HNSW vs exact  ({C.machine_note()})")
    print(f"# {C.code_note()}")
    print(f"data: n={n:,} dim={DIM} clusters={args.clusters} noise={args.noise} decay={args.decay} seed={args.seed}; "
          f"{nq} queries; ragchat HNSW M={rv.HNSW_M} efConstruction={rv.HNSW_EF_CONSTRUCTION} "
          f"efSearch={rv.HNSW_EF_SEARCH}")
    t0 = time.perf_counter()
    xb, xq = make_data(n, nq, args.clusters, args.noise, args.decay, args.seed)
    print(f"generated in {time.perf_counter() - t0:.1f} s; RSS {C.current_rss_mb():.0f} MiB "
          f"(vectors {xb.nbytes / 2**20:.0f} MiB)")
    ids = np.arange(n, dtype=np.int64)
    build_threads = faiss.omp_get_max_threads()

    trim()
    rss0 = C.current_rss_mb()
    t0 = time.perf_counter()
    hnsw = VectorIndex(DIM, "hnsw")
    hnsw.add(ids, xb)
    hnsw_build = time.perf_counter() - t0
    trim()
    hnsw_rss = C.current_rss_mb() - rss0
    peak_after_hnsw = C.peak_rss_mb()
    parts = hnsw_bytes(hnsw._index)
    hnsw_mb = sum(parts.values()) / 2**20
    print(f"HNSW build: {hnsw_build:.1f} s with {build_threads} faiss threads "
          f"({n / hnsw_build:,.0f} vectors/s); RSS +{hnsw_rss:.0f} MiB; peak RSS so far {peak_after_hnsw:.0f} MiB")
    print("HNSW index holds ~" + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in parts.items())
          + f" = {hnsw_mb:.0f} MiB")

    trim()
    rss0 = C.current_rss_mb()
    t0 = time.perf_counter()
    flat = faiss.IndexFlatIP(DIM)
    flat.add(xb)
    flat_build = time.perf_counter() - t0
    flat_rss = C.current_rss_mb() - rss0
    print(f"exact build: {flat_build:.2f} s; RSS +{flat_rss:.0f} MiB")

    t0 = time.perf_counter()
    _, truth = flat.search(xq, K)  # batched, all threads: ground truth only, not timed as latency
    print(f"ground truth (batched exact search): {time.perf_counter() - t0:.1f} s")

    graph = faiss.downcast_index(hnsw._index.index).hnsw  # the IndexHNSWFlat inside the IndexIDMap2
    faiss.omp_set_num_threads(1)
    contenders = [f"hnsw ef={ef}" for ef in EF_SWEEP] + ["exact"]
    lat: dict[str, list[float]] = {c: [] for c in contenders}
    hits: dict[str, int] = {c: 0 for c in contenders}
    for i in range(min(20, nq)):  # warm-up
        hnsw.search(xq[i], K)
        flat.search(xq[i : i + 1], K)
    shuffled = C.orders(contenders)
    for i in range(nq):
        q = xq[i]
        want = set(truth[i].tolist())
        for c in next(shuffled):
            if c == "exact":
                t0 = time.perf_counter()
                _, got = flat.search(q.reshape(1, -1), K)
                lat[c].append((time.perf_counter() - t0) * 1000)
                found = got[0].tolist()
            else:
                graph.efSearch = int(c.split("=")[1])
                t0 = time.perf_counter()
                res = hnsw.search(q, K)
                lat[c].append((time.perf_counter() - t0) * 1000)
                found = [j for j, _ in res]
            hits[c] += len(want.intersection(found))
    graph.efSearch = rv.HNSW_EF_SEARCH
    faiss.omp_set_num_threads(build_threads)

    recall = {c: hits[c] / (K * nq) for c in contenders}
    print(f"\nsingle-query search, 1 faiss thread, {nq} queries interleaved (ms):")
    print(f"  {'':<13} {'p50':>8} {'p95':>8} {'recall@10':>10}")
    for c in contenders:
        mark = "  <- ragchat default" if c == f"hnsw ef={rv.HNSW_EF_SEARCH}" else ""
        print(f"  {c:<13} {C.median(lat[c]):8.3f} {C.percentile(lat[c], 95):8.3f} {recall[c]:10.4f}{mark}")

    default = f"hnsw ef={rv.HNSW_EF_SEARCH}"
    p50 = C.median(lat[default])
    ok = p50 <= TARGET_MS and recall[default] >= TARGET_RECALL
    speedup = C.median(lat["exact"]) / p50
    meeting = [c for c in contenders[:-1] if C.median(lat[c]) <= TARGET_MS and recall[c] >= TARGET_RECALL]
    print(f"\nRATIO exact/HNSW p50 latency: {speedup:.1f}x; build time HNSW/exact: {hnsw_build / max(flat_build, 1e-9):.0f}x "
          f"({hnsw_build:.1f} s vs {flat_build:.2f} s)")
    print(f"memory: HNSW index ~{hnsw_mb:.0f} MiB (RSS +{hnsw_rss:.0f} MiB), exact index {xb.nbytes / 2**20:.0f} MiB "
          f"(RSS +{flat_rss:.0f} MiB), "
          f"peak RSS {C.peak_rss_mb():.0f} MiB (input vectors {xb.nbytes / 2**20:.0f} MiB included)")
    print(f"TARGET HNSW efSearch={rv.HNSW_EF_SEARCH}: p50 {p50:.3f} ms (<= {TARGET_MS}), recall@10 {recall[default]:.4f} "
          f"(>= {TARGET_RECALL}): {C.verdict(ok)}")
    print(f"efSearch values meeting both: {', '.join(c.split('=')[1] for c in meeting) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
