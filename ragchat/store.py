"""The index: what retrieval, evidence and indexing ask of it (the `Store` protocol), and its default backend.

Knows nothing of models or prompts: vectors come in already computed. Two backends implement `Store`:
`FaissStore` here (FAISS vectors + bm25s + chunk table + document texts + manifest, files under `index/`, the
default) and `MilvusStore` in milvus_store.py (RAGCHAT_STORE=milvus). `open_store` and friends at the end of
this file choose between them from the settings; nothing else names a backend.

On disk, the FAISS backend's `index/` holds generations: `index/gen-<n>/` is one complete index and `index/CURRENT` names the
live one. A save writes a new generation beside the old, then swaps CURRENT with an atomic rename, so a
crash or kill at any moment leaves the previous index loadable; older generations are removed after.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Protocol, Sequence

import numpy as np

from .errors import ConfigError, IndexBusyError, IndexCorruptError, IndexMismatchError, IndexMissingError, RagError
from .keyword import KeywordIndex
from .language import Language, get as get_language, majority
from .settings import Settings, split_embedder
from .types import Block, Chunk, Document
from .vectors import EXACT, HNSW, VectorIndex

FORMAT_VERSION = 2  # 2: documents carry blocks, chunks their unit kinds and heading path
REBUILD_HINT = "run `ragchat index --rebuild`"


@dataclass(frozen=True)
class IndexConfig:
    """What the vectors and chunks depend on; any difference means a full rebuild."""

    embedder: str
    dim: int
    tokenizer: str
    chunk_tokens: int
    chunk_overlap: int


@dataclass(frozen=True)
class Calibration:
    """Where this embedder's similarities stand on this corpus, measured at index time (indexing.calibrate).

    How similar the best sentence is for a question the corpus cannot answer depends on the embedder
    (MiniLM's unrelated sentences score ~0.1, other models' 0.3 or more) and on the corpus, so the floor is
    measured: questions about everyday things (Language.probes) are matched against the corpus, and the
    floor stands just above how close the closest of them come."""

    probe_median: float = 0.2  # the median over probes of each probe's best cosine with any unit
    probe_p90: float = 0.28
    similarity_floor: float = 0.35  # below this the best unit is about something else

    @classmethod
    def from_probes(cls, best: list[float]) -> "Calibration":
        ordered = sorted(best)
        median = ordered[len(ordered) // 2]
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        return cls(round(median, 4), round(p90, 4), round(p90 + FLOOR_HEADROOM * (1 - p90), 4))


# How far above the 90th percentile of off-topic probes a unit must score to be on the question's topic, as a
# share of the room left above it: cosines of one embedder spread over [0, 1] (MiniLM: probes ~0.2–0.35), of
# another over a narrow band (multilingual e5: probes ~0.85, answerable questions 0.9–0.97), so a margin in
# cosine units would fit one and shut the other out. With MiniLM this is the 0.07 chosen on the dev suite
# (docs/BENCHMARKS.md, "Calibration"): the seed's floor stays 0.365, and on the three English corpora (all
# splits) no question changes side; with e5 on Chinese it puts every off-topic question below and every
# answerable one above (0.877).
FLOOR_HEADROOM = 0.1


# How much a heading path ("Handbook › 6.2. apt-get › Installing") counts beside what stands under it, against 1:
# in a chunk's vector (the mean of its units'; chosen on the dev suite, docs/BENCHMARKS.md, "Heading-path weight in
# chunk vectors"), and in each unit's when evidence scores it ("It returns FFI_OK." says what returns it only under
# its section's title; the same 0.3, docs/BENCHMARKS.md, "A unit's vector under its section's title").
HEADING_WEIGHT = 0.3


def sentence_key(text: str) -> str:
    """Sentence vectors are keyed by content: the same sentence anywhere shares one vector."""
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def unit_texts(chunk: Chunk) -> list[str]:
    """Every text of a chunk that has a vector: its units as embedded, then its heading path."""
    return chunk.embed_texts() + ([chunk.heading] if chunk.heading else [])


def unit_vectors(chunks: Sequence[Chunk], vectors: np.ndarray, sentence_vectors: Mapping[str, np.ndarray]
                 ) -> dict[str, np.ndarray]:
    """The vector of every unit of the chunks, by sentence key; what add_document stores beside one vector per
    chunk (checked: a chunk without its vector is a caller's bug)."""
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    return {sentence_key(t): sentence_vectors[sentence_key(t)] for c in chunks for t in unit_texts(c)}


def keyword_text(chunk: Chunk) -> str:
    """What BM25 indexes: the passage under its heading path, so "apt-get" finds the section about it."""
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text


@dataclass(frozen=True)
class SaveCounts:
    """Rows one save wrote (inserted or replaced) and deleted: the cost of an update, counted. The FAISS
    backend rewrites its files whole, so it counts every row as written; Milvus writes only rows that differ."""

    chunks_upserted: int
    chunks_deleted: int
    sentences_upserted: int
    sentences_deleted: int
    meta_upserted: int  # documents and manifest (Milvus: rows of 16,000 characters)
    meta_deleted: int


def chunk_from_row(row: dict) -> Chunk:
    """A Chunk from its asdict() form read back from JSON (lists where the dataclass has tuples)."""
    row = dict(row)
    row["sentences"] = tuple(tuple(s) for s in row["sentences"])
    row["kinds"], row["headers"] = tuple(row["kinds"]), tuple(row["headers"])
    return Chunk(**row)


def document_from_row(row: dict) -> Document:
    row = dict(row)
    row["pages"] = tuple(tuple(p) for p in row["pages"])
    row["blocks"] = tuple(Block(**b) for b in row["blocks"])
    return Document(**row)


class Store(Protocol):
    """What retrieval, evidence, indexing and qa use of an index, whichever backend holds it.

    Searches return (chunk, score) best first: dense scores are cosines, keyword scores BM25 (retrieval.fuse
    normalises them by the best, so only their ratios matter). Changes (add/remove) are staged until `save`,
    which makes them visible to readers all at once; `generation` names what a reader loaded and
    `latest_generation` what is current in the backing storage now, so a server notices a newer index."""

    config: IndexConfig
    calibration: Calibration
    generation: str | None
    last_save: SaveCounts | None  # what the last save() wrote; None before any

    @property
    def documents(self) -> Mapping[str, Document]: ...
    @property
    def language(self) -> Language: ...
    def __len__(self) -> int: ...
    def search_dense(self, query_vector: np.ndarray, k: int, sources: Iterable[str] | None = None) -> list[tuple[Chunk, float]]: ...
    def search_keyword(self, query: str, k: int, sources: Iterable[str] | None = None) -> list[tuple[Chunk, float]]: ...
    def dense_scores(self, query_vector: np.ndarray, chunks: Sequence[Chunk]) -> list[float]: ...
    def terms(self, texts: Sequence[str]) -> list[list[str]]: ...
    def term_weights(self, terms: Sequence[str]) -> dict[str, float]: ...
    def sentences_of(self, chunk: Chunk) -> np.ndarray: ...
    def sentences_of_all(self, chunks: Sequence[Chunk]) -> list[np.ndarray]: ...
    def heading_vector(self, chunk: Chunk) -> np.ndarray | None: ...
    def chunk(self, chunk_id: str) -> Chunk | None: ...
    def files(self) -> dict[str, str]: ...
    def known_sentence_vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]: ...
    def sentence_sample(self, n: int, seed: int) -> np.ndarray: ...
    def add_document(
        self, doc: Document, chunks: list[Chunk], vectors: np.ndarray, sentence_vectors: dict[str, np.ndarray]
    ) -> None: ...
    def remove_document(self, source: str) -> int: ...
    def use_kind(self, kind: str) -> None: ...
    def save(self) -> str: ...
    def latest_generation(self) -> str | None: ...


class FaissStore:
    """The default backend: everything in memory, saved as files in one folder (see the module docstring)."""

    def __init__(
        self,
        config: IndexConfig,
        vectors: VectorIndex,
        chunks: dict[int, Chunk],
        documents: dict[str, Document],
        sentence_vectors: dict[str, np.ndarray] | None = None,
        keyword: KeywordIndex | None = None,
        next_id: int = 0,
        calibration: Calibration | None = None,
    ) -> None:
        self.config = config
        self.vectors = vectors  # one per chunk, searched
        self.chunks = chunks
        self.documents = documents
        self.sentence_vectors = sentence_vectors or {}  # one per sentence, looked up (evidence, reuse)
        self._keyword = keyword
        self._next_id = next_id
        self._by_chunk_id = {c.id: i for i, c in chunks.items()}
        self.calibration = calibration or Calibration()
        self.generation: str | None = None  # the gen-* folder this was loaded from (None: not loaded)
        self.index_dir: Path | None = None  # where `save()` writes and `latest_generation` looks
        self.last_save: SaveCounts | None = None
        self._language: Language | None = keyword.language if keyword is not None else None

    @property
    def language(self) -> Language:
        """The corpus's language: that of most of its text (keyword terms are made in it)."""
        if self._language is None:
            self._language = majority([(d.language, len(d.text)) for d in self.documents.values()])
        return self._language

    @classmethod
    def empty(cls, config: IndexConfig, index_dir: Path | None = None) -> "FaissStore":
        store = cls(config, VectorIndex(config.dim, EXACT), {}, {})
        store.index_dir = index_dir
        return store

    def __len__(self) -> int:
        return len(self.chunks)

    def sentences_of(self, chunk: Chunk) -> np.ndarray:
        """The stored vectors of a chunk's sentences, in order (rows of a len(sentences) × dim matrix)."""
        return np.stack([self.sentence_vectors[sentence_key(t)] for t in chunk.embed_texts()])

    def sentences_of_all(self, chunks: Sequence[Chunk]) -> list[np.ndarray]:
        """sentences_of for each chunk (one lookup for them all, where the backend is remote)."""
        return [self.sentences_of(c) for c in chunks]

    def heading_vector(self, chunk: Chunk) -> np.ndarray | None:
        return self.sentence_vectors.get(sentence_key(chunk.heading)) if chunk.heading else None

    def known_sentence_vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those sentence keys that have one (indexing reuses them instead of embedding)."""
        return {k: self.sentence_vectors[k] for k in keys if k in self.sentence_vectors}

    def sentence_sample(self, n: int, seed: int) -> np.ndarray:
        """Up to n stored sentence vectors drawn at random (calibration); all of them when there are fewer."""
        if not self.sentence_vectors:
            return np.zeros((0, self.config.dim), dtype=np.float32)
        matrix = np.stack(list(self.sentence_vectors.values()))
        if len(matrix) > n:
            matrix = matrix[np.random.default_rng(seed).choice(len(matrix), n, replace=False)]
        return matrix

    # --- changes -------------------------------------------------------------------------------

    def remove_document(self, source: str) -> int:
        ids = [i for i, c in self.chunks.items() if c.source == source]
        self.vectors.remove(ids)
        for i in ids:
            del self._by_chunk_id[self.chunks.pop(i).id]
        self.documents.pop(source, None)
        self._keyword = None
        self._language = None
        return len(ids)

    def add_document(
        self, doc: Document, chunks: list[Chunk], vectors: np.ndarray, sentence_vectors: dict[str, np.ndarray]
    ) -> None:
        """Add (or replace) a document: one vector per chunk, and a vector for every sentence key of its chunks."""
        self.sentence_vectors.update(unit_vectors(chunks, vectors, sentence_vectors))
        if doc.source in self.documents:
            self.remove_document(doc.source)
        ids = np.arange(self._next_id, self._next_id + len(chunks), dtype=np.int64)
        self._next_id += len(chunks)
        self.vectors.add(ids, vectors)
        for i, chunk in zip(ids.tolist(), chunks):
            self.chunks[i] = chunk
            self._by_chunk_id[chunk.id] = i
        self.documents[doc.source] = doc
        self._keyword = None
        self._language = None

    def use_kind(self, kind: str) -> None:
        if kind != self.vectors.kind:
            self.vectors = self.vectors.converted(kind)

    # --- queries -------------------------------------------------------------------------------

    @property
    def keyword(self) -> KeywordIndex:
        if self._keyword is None:
            ids = sorted(self.chunks)
            self._keyword = KeywordIndex.build(ids, [keyword_text(self.chunks[i]) for i in ids], self.language)
        return self._keyword

    # Restricted to some documents (`sources`), every chunk is ranked and the others' dropped: the chosen
    # documents' best chunks may all be below the usual cut-off k. Exact, and fine at library sizes.
    def search_dense(
        self, query_vector: np.ndarray, k: int, sources: Iterable[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        if sources is None:
            return [(self.chunks[i], s) for i, s in self.vectors.search(query_vector, k)]
        wanted = set(sources)
        ranked = self.vectors.search(query_vector, max(k, len(self)))
        return [(self.chunks[i], s) for i, s in ranked if self.chunks[i].source in wanted]

    def search_keyword(self, query: str, k: int, sources: Iterable[str] | None = None) -> list[tuple[Chunk, float]]:
        if sources is None:
            return [(self.chunks[i], s) for i, s in self.keyword.search(query, k)]
        wanted = set(sources)
        ranked = self.keyword.search(query, max(k, len(self)))
        return [(self.chunks[i], s) for i, s in ranked if self.chunks[i].source in wanted]

    def dense_scores(self, query_vector: np.ndarray, chunks: Sequence[Chunk]) -> list[float]:
        """The cosine of the query with each of these chunks (0 for one no longer indexed)."""
        ids = [self._by_chunk_id.get(c.id) for c in chunks]
        known = [i for i in ids if i is not None]
        cosines = dict(zip(known, (self.vectors.get(known) @ np.asarray(query_vector, dtype=np.float32)).tolist()))
        return [float(cosines[i]) if i is not None else 0.0 for i in ids]

    def terms(self, texts: Sequence[str]) -> list[list[str]]:
        """The keyword terms of each text, made as the keyword index makes them."""
        return self.language.terms(texts)

    def term_weights(self, terms: Sequence[str]) -> dict[str, float]:
        """How rare each keyword term is across the passages (BM25 idf)."""
        return self.keyword.idf(terms)

    def chunk(self, chunk_id: str) -> Chunk | None:
        i = self._by_chunk_id.get(chunk_id)
        return None if i is None else self.chunks[i]

    def files(self) -> dict[str, str]:
        return {source: doc.sha256 for source, doc in sorted(self.documents.items())}

    # --- persistence ---------------------------------------------------------------------------

    def latest_generation(self) -> str | None:
        """The generation CURRENT names now (one read of a small file); None when it cannot be read."""
        if self.index_dir is None:
            return None
        try:
            return (self.index_dir / "CURRENT").read_text(encoding="utf-8").strip()
        except OSError:
            return None

    def save(self, index_dir: Path | None = None) -> str:
        """Write a new generation and make it current atomically; returns its name (the gen-* folder)."""
        index_dir = index_dir or self.index_dir
        if index_dir is None:
            raise ValueError("save() needs the index folder: pass it, or load the store from one")
        self.index_dir = index_dir
        index_dir.mkdir(parents=True, exist_ok=True)
        name = f"gen-{time.time_ns()}"
        tmp = index_dir / f".{name}.tmp"
        tmp.mkdir()
        ids = sorted(self.chunks)
        deleted = self.vectors.save(tmp / "vectors.faiss")
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as f:
            for i in ids:
                f.write(json.dumps({"row": i, **asdict(self.chunks[i])}, ensure_ascii=False) + "\n")
        with (tmp / "documents.jsonl").open("w", encoding="utf-8") as f:
            for doc in self.documents.values():
                f.write(json.dumps(asdict(doc), ensure_ascii=False) + "\n")
        self.keyword.save(tmp / "keyword")
        keys = sorted({sentence_key(t) for c in self.chunks.values() for t in unit_texts(c)})
        self.sentence_vectors = {k: self.sentence_vectors[k] for k in keys}  # drop sentences no chunk uses
        (tmp / "sentence_keys.json").write_text(json.dumps(keys), encoding="utf-8")
        matrix = np.stack([self.sentence_vectors[k] for k in keys]) if keys else np.zeros((0, self.config.dim))
        np.save(tmp / "sentences.npy", matrix.astype(np.float32), allow_pickle=False)
        sizes = {
            p.relative_to(tmp).as_posix(): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        manifest = {
            "format": FORMAT_VERSION,
            **asdict(self.config),
            "index_kind": self.vectors.kind,
            "chunks": len(ids),
            "next_id": self._next_id,
            "deleted_vector_ids": deleted,
            "files": self.files(),
            "language": self.language.code,
            "calibration": asdict(self.calibration),
            "embedder_backend": split_embedder(self.config.embedder)[1],
            "built_with": library_versions(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sizes": sizes,
        }
        _write_synced(tmp / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for p in tmp.rglob("*"):
            if p.is_file():
                _fsync(p)
        final = index_dir / name
        os.rename(tmp, final)
        _write_synced(index_dir / "CURRENT.tmp", name + "\n")
        os.replace(index_dir / "CURRENT.tmp", index_dir / "CURRENT")
        _fsync_dir(index_dir)
        for old in index_dir.iterdir():
            if old.is_dir() and old.name != name and (old.name.startswith("gen-") or old.name.endswith(".tmp")):
                shutil.rmtree(old, ignore_errors=True)
        self.generation = name
        self.last_save = SaveCounts(len(ids), 0, len(keys), 0, len(self.documents) + 1, 0)
        return name

    @classmethod
    def load(cls, index_dir: Path, expect: IndexConfig | None = None) -> "FaissStore":
        """Load the current generation. `expect` checks embedder and dim (what queries depend on)."""
        gen = current_generation(index_dir)
        manifest = read_manifest(index_dir)
        try:
            for rel, size in manifest["sizes"].items():
                actual = (gen / rel).stat().st_size
                if actual != size:
                    raise IndexCorruptError(
                        f"index file {gen / rel} is {actual} bytes, expected {size} (truncated or damaged): {REBUILD_HINT}"
                    )
            config = IndexConfig(**{k: manifest[k] for k in IndexConfig.__dataclass_fields__})
        except (KeyError, TypeError, OSError) as e:
            raise IndexCorruptError(f"index at {gen} is incomplete ({e}): {REBUILD_HINT}") from None
        if expect is not None:
            check_compatible(config, expect, exact=False)
        try:
            vectors = VectorIndex.load(gen / "vectors.faiss", manifest["index_kind"], manifest["deleted_vector_ids"])
            chunks: dict[int, Chunk] = {}
            with (gen / "chunks.jsonl").open(encoding="utf-8") as f:
                for line in f:
                    row = json.loads(line)
                    i = row.pop("row")
                    chunks[i] = chunk_from_row(row)
            documents: dict[str, Document] = {}
            with (gen / "documents.jsonl").open(encoding="utf-8") as f:
                for line in f:
                    doc = document_from_row(json.loads(line))
                    documents[doc.source] = doc
            keyword = KeywordIndex.load(gen / "keyword", get_language(manifest["language"]))
            calibration = Calibration(**manifest["calibration"])
            keys = json.loads((gen / "sentence_keys.json").read_text(encoding="utf-8"))
            matrix = np.load(gen / "sentences.npy", allow_pickle=False)
            if matrix.shape != (len(keys), config.dim):
                raise ValueError(f"sentence vectors have shape {matrix.shape}, expected ({len(keys)}, {config.dim})")
            sentence_vectors = dict(zip(keys, matrix))
        except IndexCorruptError:
            raise
        except Exception as e:  # faiss, json and numpy each fail differently on damaged files
            raise IndexCorruptError(
                f"index at {gen} cannot be read ({type(e).__name__}: {e}){_built_by(manifest)}: {REBUILD_HINT}"
            ) from None
        if len(vectors) != len(chunks) or len(keyword.ids) != len(chunks) or vectors.dim != config.dim:
            raise IndexCorruptError(
                f"index at {gen} is inconsistent ({len(vectors)} vectors, {len(chunks)} chunks): {REBUILD_HINT}"
            )
        store = cls(config, vectors, chunks, documents, sentence_vectors, keyword, manifest["next_id"], calibration)
        store.generation = gen.name
        store.index_dir = index_dir
        return store


def current_generation(index_dir: Path) -> Path:
    _check_folder(index_dir)
    pointer = index_dir / "CURRENT"
    if not pointer.exists():
        raise IndexMissingError(f"no index in {index_dir}/: run `ragchat index` to build it")
    try:
        gen = index_dir / pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise IndexCorruptError(f"{pointer} cannot be read ({e}): {REBUILD_HINT}") from None
    if not gen.name.startswith("gen-") or not gen.is_dir():
        raise IndexCorruptError(f"{pointer} names a missing index generation {gen.name!r}: {REBUILD_HINT}")
    return gen


def read_manifest(index_dir: Path) -> dict:
    gen = current_generation(index_dir)
    try:
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IndexCorruptError(f"{gen / 'manifest.json'} cannot be read ({e}): {REBUILD_HINT}") from None
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{gen / 'manifest.json'} is not a manifest: {REBUILD_HINT}")
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {gen} has format {manifest.get('format')!r}{_built_by(manifest, always=True)}; this "
            f"ragchat {library_versions().get('ragchat', '?')} reads format {FORMAT_VERSION}: {REBUILD_HINT}"
        )
    return manifest


# Recorded in every manifest ("built_with"), so an index that fails to open can say what built it.
LIBRARIES = ("ragchat", "faiss-cpu", "numpy", "bm25s", "sentence-transformers", "onnxruntime")


def library_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    versions["python"] = platform.python_version()
    return versions


def _built_by(manifest: dict, always: bool = False) -> str:
    """", built by ragchat 0.1.0 / faiss-cpu 1.15.1 (now 1.16.0)" for the libraries whose versions differ now."""
    built = manifest.get("built_with")
    if not isinstance(built, dict):
        return " (built before ragchat recorded its versions)" if always else ""
    now = library_versions()
    changed = [f"{k} {built[k]} (now {now.get(k, 'not installed')})" for k in built if built[k] != now.get(k)]
    if changed:
        return ", built by " + ", ".join(changed)
    return f", built by ragchat {built.get('ragchat', '?')}" if always else ""


def check_compatible(found: IndexConfig, wanted: IndexConfig, exact: bool) -> None:
    if (found.embedder, found.dim) != (wanted.embedder, wanted.dim):
        raise IndexMismatchError(
            f"the index was built with embedder {found.embedder} (dim {found.dim}) but the settings use "
            f"{wanted.embedder} (dim {wanted.dim}): {REBUILD_HINT}"
        )
    if exact and found != wanted:
        raise IndexMismatchError(f"the index was built with other chunking settings: {REBUILD_HINT}")


def choose_kind(n_chunks: int, threshold: int) -> str:
    return HNSW if n_chunks > threshold else EXACT


def remove_orphans(index_dir: Path) -> list[str]:
    """Remove what killed builds left: unfinished `.gen-*.tmp` folders, and generations CURRENT does not name
    (a kill between writing one and switching to it). Call only with the write lock held; returns the names."""
    try:
        live: str | None = current_generation(index_dir).name
    except (IndexMissingError, IndexCorruptError):
        live = None  # keep every generation: one of them may be what a damaged CURRENT meant
    removed = []
    for path in sorted(index_dir.iterdir()):
        unfinished = path.name.startswith(".gen-") and path.name.endswith(".tmp")
        stale = live is not None and path.name.startswith("gen-") and path.name != live
        if (unfinished or stale) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def _check_folder(index_dir: Path) -> None:
    if index_dir.exists() and not index_dir.is_dir():
        raise ConfigError(
            f"the index path {index_dir} is a file, not a folder: move the file away, or point RAGCHAT_INDEX_DIR "
            "at a folder"
        )


@contextlib.contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time; readers never wait (they read whichever generation is current)."""
    _check_folder(index_dir)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / ".lock", "w")
    except OSError as e:  # a parent is a file, or no permission
        raise ConfigError(
            f"cannot create the index folder {index_dir} ({e.strerror}): point RAGCHAT_INDEX_DIR at a folder you "
            "can write"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(
                f"another `ragchat index` is writing {index_dir}/: wait for it to finish, then try again"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync(path)


# --- the backend the settings choose -------------------------------------------------------------------
# One place decides between FAISS files and Milvus; the Milvus module (and pymilvus) is imported only when
# RAGCHAT_STORE=milvus, so the default path needs neither.


def open_store(settings: Settings, expect: IndexConfig | None = None) -> Store:
    """The current index for reading and updating; IndexMissingError when none was built yet."""
    if settings.store == "milvus":
        from .milvus_store import MilvusStore

        return MilvusStore.load(settings, expect)
    return FaissStore.load(settings.index_dir, expect)


def new_store(settings: Settings, config: IndexConfig) -> Store:
    """An empty index that replaces the current one when saved (a full rebuild)."""
    if settings.store == "milvus":
        from .milvus_store import MilvusStore

        return MilvusStore.empty(settings, config)
    return FaissStore.empty(config, settings.index_dir)


def index_manifest(settings: Settings) -> dict:
    """The current index's manifest (files, chunks, config, …) without loading the index."""
    if settings.store == "milvus":
        from .milvus_store import read_milvus_manifest

        return read_milvus_manifest(settings)
    return read_manifest(settings.index_dir)


def index_exists(settings: Settings) -> bool:
    try:
        index_manifest(settings)
    except IndexMissingError:
        return False
    except RagError:
        return True  # there is one, but it cannot be read: loading it says why
    return True
