"""seeds/ → index/: incremental index builds (orchestration of loading, chunking, embedding and store).

Re-running with no change embeds and writes nothing; a changed file re-embeds only chunks whose text is
new; a removed file's chunks go; a different embedder or chunking configuration rebuilds everything.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .chunking import ChunkParams, PieceLimit, chunk_document
from .embedding import Embedder
from .errors import DocumentError, IndexCorruptError, IndexMismatchError, IndexMissingError, RagError, SeedsError
from .language import get as get_language
from .loading import READER_VERSION, Limits, discover, file_sha256, load_file, source_name
from .settings import Settings
from .store import (HEADING_WEIGHT, Calibration, IndexConfig, SaveCounts, Store, choose_kind, index_manifest,
                    new_store, open_store, remove_orphans, sentence_key, unit_texts, write_lock)
from .tokens import get_encoding
from .types import Chunk, Document

log = logging.getLogger(__name__)

# (chunks embedded so far, chunks to embed)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class IndexReport:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (source, why)
    chunks: int
    embedded: int
    rebuilt: str | None  # why everything was rebuilt, or None for an incremental run
    written: bool
    seconds: float
    # Why the index was kept as it was without looking at any file (the folder is missing or empty), or None.
    kept: str | None = None
    rows: SaveCounts | None = None  # what the store wrote (None: nothing written)

    def summary(self) -> str:
        if self.kept:
            return self.kept
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
            f"{len(self.removed)} removed",
            f"{len(self.skipped)} skipped",
        ]
        head = f"full rebuild ({self.rebuilt})" if self.rebuilt else "incremental"
        return (
            f"{head}: {', '.join(parts)}; {self.chunks} chunks, {self.embedded} embedded, "
            f"{'index written' if self.written else 'nothing to write'} in {self.seconds:.1f} s"
        )


def index_config(settings: Settings, embedder: Embedder) -> IndexConfig:
    return IndexConfig(
        embedder=embedder.name,
        dim=embedder.dim,
        tokenizer=settings.tokenizer,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
    )


def chunker(settings: Settings, embedder: Embedder) -> Callable[[Document], list[Chunk]]:
    encoding = get_encoding(settings.tokenizer)
    params = ChunkParams(settings.chunk_tokens, settings.chunk_overlap)

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    limit = PieceLimit(embedder.piece_counts, embedder.max_seq_length)
    return lambda doc: chunk_document(doc, params, count, limit)


def build_index(
    settings: Settings, embedder: Embedder, rebuild: bool = False, progress: Progress | None = None
) -> IndexReport:
    """Bring the index up to date with the documents folder. Files are read within the settings' limits
    (loading.Limits); a file that cannot be read is skipped with the reason, and the others are indexed.

    A missing or empty folder never empties an index: the index is kept (report.kept says why, and a warning is
    logged) so a server can go on serving it. A folder that holds files but none of the indexed ones (moved,
    emptied then uploaded into, replaced) raises SeedsError instead of dropping them all: --rebuild does that."""
    started = time.perf_counter()
    config = index_config(settings, embedder)
    limits = Limits.of(settings)
    try:
        paths = discover(settings.seeds_dir)
    except SeedsError as e:
        indexed = _indexed_files(settings)
        if not indexed:
            raise
        chunks = _indexed_chunks(settings)
        kept = (f"{e}; the index in {settings.index_dir}/ ({len(indexed)} documents, {chunks} chunks) is kept as "
                "it is and nothing was removed")
        log.warning("%s", kept)
        return IndexReport((), (), (), (), (), chunks, 0, None, False, time.perf_counter() - started, kept=kept)
    with write_lock(settings.index_dir):
        for name in remove_orphans(settings.index_dir):
            log.info("removed %s, left by an index build that was stopped", name)
        store, why = _previous(settings, config, rebuild)
        full = why is not None
        known = {} if full else store.files()
        present = {source_name(p, settings.seeds_dir) for p in paths}
        indexed = {} if rebuild else _indexed_files(settings)
        if indexed and not present & set(indexed):
            raise SeedsError(
                f"none of the {len(indexed)} indexed documents ({_names(indexed)}) is in {settings.seeds_dir}/ any "
                f"more, which holds {len(present)} other file(s): the folder was probably moved, emptied or replaced. "
                "Put the documents back, or run `ragchat index --rebuild` to index only what is there now"
            )

        docs: list[Document] = []
        unchanged, skipped, failed_known = [], [], []
        for path in paths:
            source = source_name(path, settings.seeds_dir)
            if source in known and file_sha256(path) == known[source] \
                    and store.documents[source].reader == READER_VERSION:
                unchanged.append(source)
                continue
            try:
                docs.append(load_file(path, source, limits))
            except DocumentError as e:
                log.warning("skipped %s", e)
                skipped.append((source, str(e)))
                if source in known:
                    failed_known.append(source)

        removed = sorted((set(known) - present) | set(failed_known))
        for source in removed:
            store.remove_document(source)

        make_chunks = chunker(settings, embedder)
        doc_chunks = [(doc, make_chunks(doc)) for doc in docs]
        all_chunks = [c for _, chunks in doc_chunks for c in chunks]
        sentence_vectors, embedded = _sentence_vectors(store, all_chunks, embedder, settings, progress)
        for doc, chunks in doc_chunks:
            store.add_document(doc, chunks, chunk_vectors(chunks, sentence_vectors, config.dim), sentence_vectors)

        if len(store) == 0:
            reasons = "; ".join(why for _, why in skipped)
            raise SeedsError(
                f"no readable documents in {settings.seeds_dir}/ ({reasons or 'nothing to index'}): "
                "add .txt, .md, .html or .pdf files with text"
            )
        written = full or bool(docs) or bool(removed)
        if written:
            store.calibration = calibrate(store, embedder)
            store.use_kind(choose_kind(len(store), settings.hnsw_threshold))
            store.save()
    return IndexReport(
        added=tuple(d.source for d in docs if d.source not in known),
        updated=tuple(d.source for d in docs if d.source in known),
        unchanged=tuple(unchanged),
        removed=tuple(removed),
        skipped=tuple(skipped),
        chunks=len(store),
        embedded=embedded,
        rebuilt=why,
        written=written,
        seconds=time.perf_counter() - started,
        rows=store.last_save if written else None,
    )


def _indexed_files(settings: Settings) -> dict[str, str]:
    """The documents the current index holds (source → sha256), from its manifest; {} when there is none to read."""
    try:
        files = index_manifest(settings).get("files")
    except RagError:
        return {}
    return files if isinstance(files, dict) else {}


def _indexed_chunks(settings: Settings) -> int:
    try:
        return int(index_manifest(settings).get("chunks", 0))
    except (RagError, TypeError, ValueError):
        return 0


def _names(files: dict[str, str], shown: int = 3) -> str:
    names = sorted(files)
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _previous(settings: Settings, config: IndexConfig, rebuild: bool) -> tuple[Store, str | None]:
    """The store to update, and why it must be rebuilt from scratch (None: update incrementally)."""
    if rebuild:
        return new_store(settings, config), "--rebuild asked for"
    try:
        store = open_store(settings)
    except IndexMissingError:
        return new_store(settings, config), "no index yet"
    except (IndexCorruptError, IndexMismatchError) as e:
        log.warning("rebuilding: %s", e)
        return new_store(settings, config), "previous index unreadable"
    if store.config != config:
        return new_store(settings, config), "embedder or chunking settings changed"
    return store, None


def _sentence_vectors(
    store: Store, chunks: list[Chunk], embedder: Embedder, settings: Settings, progress: Progress | None
) -> tuple[dict[str, np.ndarray], int]:
    """A vector for every sentence of the chunks: reused from the store when known, else embedded once."""
    texts = {sentence_key(t): t for c in chunks for t in unit_texts(c)}
    vectors = store.known_sentence_vectors(texts)
    # Longest first, so each slice holds sentences of similar length: sentence-transformers sorts only within
    # one call, and mixed slices pad short sentences to the longest (22% more work measured).
    todo = sorted((k for k in texts if k not in vectors), key=lambda k: -len(texts[k]))
    report = (lambda done: progress(done, len(todo))) if progress else None
    encoded = embedder.encode_documents([texts[k] for k in todo], settings.embed_batch_size, progress=report)
    vectors.update(zip(todo, encoded))
    return vectors, len(todo)


def chunk_vectors(chunks: list[Chunk], sentence_vectors: dict[str, np.ndarray], dim: int) -> np.ndarray:
    """A chunk's vector is the normalised mean of its units' vectors, nudged towards its heading path's.

    On the seed this retrieves better than embedding the whole chunk (hybrid hit@5 0.99 vs 0.98, MRR 0.84
    vs 0.83), and it means each sentence is embedded once even though chunks overlap, with short inputs
    that are cheaper per token; the sentence vectors are then at hand for picking evidence at answer time.
    """
    if not chunks:
        return np.zeros((0, dim), dtype=np.float32)
    rows = []
    for c in chunks:
        mean = np.mean([sentence_vectors[sentence_key(t)] for t in c.embed_texts()], axis=0)
        mean = mean / max(float(np.linalg.norm(mean)), 1e-9)
        if c.heading and HEADING_WEIGHT:
            mean = mean + HEADING_WEIGHT * sentence_vectors[sentence_key(c.heading)]
        rows.append(mean)
    rows = np.stack(rows)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms == 0, 1, norms)).astype(np.float32)


def calibrate(store: Store, embedder: Embedder, sample: int = 20_000, seed: int = 0) -> Calibration:
    """How close questions the corpus cannot answer come to it, with this embedder (see Calibration)."""
    matrix = store.sentence_sample(sample, seed)
    if not len(matrix):
        return Calibration()
    probes = embedder.encode_queries(list(store.language.probes or get_language("en").probes))
    return Calibration.from_probes((probes @ matrix.T).max(axis=1).tolist())
