"""The Milvus backend of `Store` (RAGCHAT_STORE=milvus), through pymilvus' MilvusClient.

The same code runs against milvus-lite (a local `.db` folder, served in-process; or `milvus-lite server` on a
port) and against Milvus Standalone / Distributed / Zilliz (`http://host:19530`): only RAGCHAT_MILVUS_URI
changes. What Milvus does natively, it does here:

- dense search: an HNSW index (FLAT below settings.hnsw_threshold, as the FAISS backend) with metric IP; the
  embedder's vectors are L2-normalised, so IP is cosine, the same numbers FAISS returns;
- keyword search: BM25 through a `Function` on a text field, with bm25s' parameters (k1 1.5, b 0.75, Lucene
  idf). The text field holds ragchat's own keyword terms (language.py: stop words out, stemmed, CJK
  bigrams), space-separated, and Milvus' "standard" analyzer (\\w+, lower-case) splits them back: so the
  keyword side ranks as the FAISS backend's bm25s does, in every language ragchat knows, without a Milvus
  analyzer per language (docs/BENCHMARKS.md, "Milvus backend", measures the difference);
- fusion stays in retrieval.fuse: the store runs the two searches and ragchat fuses them, so there is one
  fusion code for both backends. Milvus' WeightedRanker would mix raw BM25 scores (unbounded) with cosines,
  not BM25 divided by the query's best, and RRFRanker is our "rrf" method, not the default convex one;
- primary keys are content hashes: chunk ids (chunking.chunk_id: source + text) and sentence keys
  (store.sentence_key), so an update upserts and deletes only the rows that differ (`SaveCounts`).

Generations and the atomic switch. Each side, "a" and "b", is three collections: `<name>_<side>_chunks`,
`<name>_<side>_sentences` and `<name>_<side>_meta` (documents, manifest). The alias `<name>` names the live
side's meta collection; readers resolve it once when they load and then read that side only. A save
brings the *other* side up to date (deleting and upserting only rows that differ from what it holds),
flushes it, and then moves the alias with one `alter_alias`: readers never see a half-written side, a
build killed at any point leaves the alias on the previous generation, and the next build repairs the
spare side from what it actually holds. The spare side is the previous generation, so the rows a save
touches are those that differ from two builds ago: one build's changes when only one file changed since.
Documents and the manifest are JSON text split into rows of the meta collection (a Milvus VARCHAR holds
at most 65,535 bytes), keyed by a hash of their content, so they survive the process and move with the alias.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from .errors import ConfigError, IndexCorruptError, IndexMismatchError, IndexMissingError, StoreUnavailableError
from .language import Language, get as get_language, majority
from .settings import Settings, split_embedder
from .store import (FORMAT_VERSION, REBUILD_HINT, Calibration, IndexConfig, SaveCounts, check_compatible, chunk_from_row,
                    document_from_row, keyword_text, library_versions, sentence_key, unit_texts, unit_vectors)
from .types import Chunk, Document
from .vectors import EXACT, HNSW, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M

log = logging.getLogger(__name__)

SIDES = ("a", "b")
BM25_K1, BM25_B = 1.5, 0.75  # bm25s' defaults, so both backends score keywords alike
MAX_LIMIT = 16_384  # Milvus refuses a search limit above this (topk); ragchat asks for ~30
TEXT_PART = 16_000  # characters per meta row: at most 64,000 UTF-8 bytes, under VARCHAR's 65,535
BATCH = 500  # rows per insert/upsert/get request: well under gRPC's 64 MB message limit at dim 1024
CACHE = 4_096  # sentence vectors a reader keeps (evidence asks for the same hits' sentences again and again)
# Seconds any one request may take (pymilvus applies the client's timeout to every call, not only to connecting).
# Not 10: milvus-lite's own searches take up to 5 s at 1M rows (docs/BENCHMARKS.md), and one full test run under
# load failed to open the seed index in Milvus once with 10 (error text not kept; the timeout is the likely cause,
# not proven). A refused connection fails at once regardless.
TIMEOUT = 60.0


def connect(settings: Settings):
    """A MilvusClient for the settings' URI; StoreUnavailableError (naming the fix) when there is none."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise ConfigError(
            "RAGCHAT_STORE=milvus needs pymilvus: pip install 'ragchat[milvus]' (pymilvus, milvus-lite), or set "
            "RAGCHAT_STORE=faiss"
        ) from None
    logging.getLogger("pymilvus").setLevel(logging.ERROR)  # it warns on every query iterator it opens
    uri = settings.milvus_target
    local = not uri.startswith(("http://", "https://", "tcp://", "unix:"))
    try:
        if local:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)  # milvus-lite makes the folder, not its parents
        return MilvusClient(uri=uri, token=settings.milvus_token or "", timeout=TIMEOUT)
    except Exception as e:  # pymilvus raises MilvusException, grpc errors or plain exceptions, by transport
        fix = (
            "another process may have it open (milvus-lite allows one): serve it with `milvus-lite server "
            f"--data-dir {uri} --port 19530` and set RAGCHAT_MILVUS_URI=http://127.0.0.1:19530 in every process"
            if local else f"start Milvus at {uri} (docs/SCALING.md), fix RAGCHAT_MILVUS_URI"
        )
        raise StoreUnavailableError(
            f"cannot open Milvus at {uri} ({type(e).__name__}: {_short(e)}): {fix}, or set RAGCHAT_STORE=faiss"
        ) from None


@dataclass(frozen=True)
class _Names:
    """Collection and alias names: the one owner of the naming scheme (the module docstring describes it)."""

    prefix: str

    @property
    def alias(self) -> str:
        return self.prefix

    def chunks(self, side: str) -> str:
        return f"{self.prefix}_{side}_chunks"

    def sentences(self, side: str) -> str:
        return f"{self.prefix}_{side}_sentences"

    def meta(self, side: str) -> str:
        return f"{self.prefix}_{side}_meta"

    def of_side(self, side: str) -> tuple[str, str, str]:
        return self.chunks(side), self.sentences(side), self.meta(side)

    def side_of(self, collection: str) -> str | None:
        return next((side for side in SIDES if collection == self.meta(side)), None)


def _live_side(client, names: _Names) -> str | None:
    """The side the alias names now; None when there is no alias (no index built yet)."""
    try:
        if names.alias not in client.list_aliases()["aliases"]:
            return None
        return names.side_of(client.describe_alias(names.alias)["collection_name"])
    except Exception as e:
        raise _unavailable(e) from None


def _load(client, collections: Iterable[str]) -> None:
    """Milvus serves a collection only once it is loaded into memory, and a restarted server (or a milvus-lite
    folder opened by a new process) starts with every collection released. Loading a loaded one is a no-op."""
    for collection in collections:
        client.load_collection(collection)


def _unavailable(e: Exception) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"Milvus stopped answering ({type(e).__name__}: {_short(e)}): check that it is running, or set "
        "RAGCHAT_STORE=faiss"
    )


def _short(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text[:300] + ("…" if len(text) > 300 else "")


def _term(term: str) -> str:
    """A keyword term as one \\w+ token of Milvus' standard analyzer: language.terms never yields "_" (its
    words are [^\\W_]+ joined by apostrophes), so apostrophes become underscores and nothing else changes."""
    return term.replace("'", "_")


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a double-quoted literal with JSON escapes, as Milvus reads


def _parts(name: str, payload: str) -> list[dict]:
    """Meta rows holding `payload` (JSON text); the key hashes name and content, so an unchanged document
    keeps its rows and a save leaves them alone."""
    digest = hashlib.sha1(f"{name}\n{payload}".encode()).hexdigest()[:20]
    pieces = [payload[i : i + TEXT_PART] for i in range(0, len(payload), TEXT_PART)] or [""]
    return [
        {"key": f"{digest}-{i:05d}", "name": name, "part": i, "data": piece, "vector": [1.0, 0.0]}
        for i, piece in enumerate(pieces)
    ]


def _read_meta(client, collection: str) -> dict[str, str]:
    """name → joined payload of every object in a meta collection."""
    pieces: dict[str, list[tuple[int, str]]] = {}
    for row in _scan(client, collection, "name", ["name", "part", "data"]):
        pieces.setdefault(row["name"], []).append((row["part"], row["data"]))
    return {name: "".join(d for _, d in sorted(parts)) for name, parts in pieces.items()}


def _scan(client, collection: str, pk: str, fields: list[str], batch: int = 1_000) -> Iterator[dict]:
    """Every row of a collection (a query iterator: a plain query stops at 16,384 rows)."""
    it = client.query_iterator(collection, batch_size=batch, filter=f'{pk} != ""', output_fields=fields)
    try:
        while rows := it.next():
            yield from rows
    finally:
        it.close()


def _manifest(client, names: _Names, side: str) -> tuple[dict, dict[str, str]]:
    try:
        _load(client, [names.meta(side)])
        objects = _read_meta(client, names.meta(side))
    except Exception as e:
        raise _unavailable(e) from None
    if "manifest" not in objects:
        raise IndexCorruptError(
            f"the Milvus index {names.alias} has no manifest (a collection was changed by hand?): {REBUILD_HINT}")
    try:
        manifest = json.loads(objects["manifest"])
    except ValueError as e:
        raise IndexCorruptError(f"the Milvus index {names.alias} has a damaged manifest ({e}): {REBUILD_HINT}") from None
    if manifest.get("format") != FORMAT_VERSION or manifest.get("backend") != "milvus":
        built = manifest.get("built_with") if isinstance(manifest.get("built_with"), dict) else {}
        raise IndexMismatchError(
            f"the Milvus index {names.alias} has format {manifest.get('format')!r} (built by ragchat "
            f"{built.get('ragchat', '?')}, pymilvus {built.get('pymilvus', '?')}); this ragchat "
            f"{library_versions().get('ragchat', '?')} reads format {FORMAT_VERSION}: {REBUILD_HINT}"
        )
    return manifest, objects


def read_milvus_manifest(settings: Settings) -> dict:
    client = connect(settings)
    names = _Names(settings.milvus_collection)
    side = _live_side(client, names)
    if side is None:
        raise IndexMissingError(
            f"no index in Milvus at {settings.milvus_target} (alias {names.alias}): run `ragchat index` to build it")
    return _manifest(client, names, side)[0]


class MilvusStore:
    """`Store` over Milvus collections (see the module docstring for the layout and the switch).

    A reader holds the documents, manifest and calibration in memory and asks Milvus for chunks and vectors;
    the chunk table is read into memory only when the store is changed (indexing)."""

    def __init__(self, settings: Settings, client, config: IndexConfig, side: str | None,
                 documents: dict[str, Document], manifest: dict | None = None) -> None:
        self._client = client
        self._names = _Names(settings.milvus_collection)
        self._uri = settings.milvus_target
        self.config = config
        self.side = side  # the side this store reads; None for a new, empty index
        self._documents = documents
        manifest = manifest or {}
        self.calibration = Calibration(**manifest["calibration"]) if "calibration" in manifest else Calibration()
        self.generation: str | None = manifest.get("generation")
        self._count = int(manifest.get("chunks", 0))
        self._kind = manifest.get("index_kind", EXACT)
        self._language: Language | None = get_language(manifest["language"]) if "language" in manifest else None
        # Staged changes (indexing): the whole chunk table once anything changes, and the vectors not in Milvus yet.
        self._chunks: dict[str, Chunk] | None = None if side is not None else {}
        self._new_vectors: dict[str, np.ndarray] = {}
        self._new_sentences: dict[str, np.ndarray] = {}
        self._cache: dict[str, np.ndarray] = {}
        self.last_save: SaveCounts | None = None

    # --- opening -------------------------------------------------------------------------------

    @classmethod
    def load(cls, settings: Settings, expect: IndexConfig | None = None) -> "MilvusStore":
        client = connect(settings)
        names = _Names(settings.milvus_collection)
        side = _live_side(client, names)
        if side is None:
            raise IndexMissingError(
                f"no index in Milvus at {settings.milvus_target} (alias {names.alias}): run `ragchat index` to "
                "build it")
        for collection in (names.chunks(side), names.sentences(side)):
            if not client.has_collection(collection):
                raise IndexCorruptError(f"the Milvus collection {collection} is missing: {REBUILD_HINT}")
        try:
            _load(client, names.of_side(side))
        except Exception as e:
            raise _unavailable(e) from None
        try:
            manifest, objects = _manifest(client, names, side)
            config = IndexConfig(**{k: manifest[k] for k in IndexConfig.__dataclass_fields__})
            documents = {}
            for name, payload in objects.items():
                if name.startswith("doc:"):
                    doc = document_from_row(json.loads(payload))
                    documents[doc.source] = doc
        except (IndexCorruptError, IndexMismatchError):
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise IndexCorruptError(f"the Milvus index {names.alias} cannot be read ({e}): {REBUILD_HINT}") from None
        if expect is not None:
            check_compatible(config, expect, exact=False)
        return cls(settings, client, config, side, documents, manifest)

    @classmethod
    def empty(cls, settings: Settings, config: IndexConfig) -> "MilvusStore":
        return cls(settings, connect(settings), config, None, {})

    # --- what readers ask ----------------------------------------------------------------------

    @property
    def documents(self) -> Mapping[str, Document]:
        return self._documents

    @property
    def language(self) -> Language:
        if self._language is None:
            self._language = majority([(d.language, len(d.text)) for d in self._documents.values()])
        return self._language

    def __len__(self) -> int:
        return len(self._chunks) if self._chunks is not None else self._count

    def search_dense(
        self, query_vector: np.ndarray, k: int, sources: Iterable[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        if self.side is None or not len(self) or k <= 0:
            return []
        rows = self._search(
            self._names.chunks(self.side), [np.asarray(query_vector, dtype=np.float32).tolist()], "vector", k,
            sources, {"metric_type": "IP", "params": {"ef": max(HNSW_EF_SEARCH, min(k, MAX_LIMIT))}},
        )
        return [(chunk_from_row(r["entity"]["chunk"]), float(r["distance"])) for r in rows]

    def dense_scores(self, query_vector: np.ndarray, chunks: Sequence[Chunk]) -> list[float]:
        if self.side is None or not chunks:
            return [0.0] * len(chunks)
        vectors = self._get(self._names.chunks(self.side), "id", [c.id for c in chunks])
        q = np.asarray(query_vector, dtype=np.float32)
        return [float(vectors[c.id] @ q) if c.id in vectors else 0.0 for c in chunks]

    def search_keyword(self, query: str, k: int, sources: Iterable[str] | None = None) -> list[tuple[Chunk, float]]:
        if self.side is None or not len(self) or k <= 0:
            return []
        terms = self.language.terms([query])[0]
        if not terms:
            return []
        rows = self._search(
            self._names.chunks(self.side), [" ".join(_term(t) for t in terms)], "sparse", k, sources,
            {"metric_type": "BM25"},
        )
        # Milvus Standalone reports a BM25 match's score as its distance; milvus-lite 3.2 its negation (smaller
        # is closer). Scores are never negative, so the magnitude is the score on both.
        out = [(chunk_from_row(r["entity"]["chunk"]), abs(float(r["distance"]))) for r in rows]
        return [(c, s) for c, s in out if s > 0]

    def _search(self, collection: str, data: list, field: str, k: int, sources, params: dict) -> list[dict]:
        where = ""
        if sources is not None:
            wanted = sorted(set(sources))
            if not wanted:
                return []
            where = f"source in [{', '.join(_quote(s) for s in wanted)}]"
        try:
            result = self._client.search(
                collection, data=data, anns_field=field, limit=min(k, MAX_LIMIT), filter=where,
                output_fields=["chunk"], search_params=params,
            )
        except Exception as e:
            raise self._failed(e) from None
        return list(result[0]) if result else []

    def terms(self, texts: Sequence[str]) -> list[list[str]]:
        return self.language.terms(texts)

    def term_weights(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25's idf of each term, from the number of chunks matching it (text_match on the terms field),
        with the formula KeywordIndex.idf uses: the same weights as the FAISS backend."""
        n = len(self)
        out = {}
        for term in terms:
            df = 0
            if n:
                df = self._count_matching(_term(term))
            out[term] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
        return out

    def _count_matching(self, token: str) -> int:
        if self.side is None:
            return 0
        try:
            rows = self._client.query(
                self._names.chunks(self.side), filter=f"text_match(terms, '{token}')", output_fields=["count(*)"])
        except Exception as e:
            raise self._failed(e) from None
        return int(rows[0]["count(*)"]) if rows else 0

    def sentences_of(self, chunk: Chunk) -> np.ndarray:
        return self.sentences_of_all([chunk])[0]

    def sentences_of_all(self, chunks: Sequence[Chunk]) -> list[np.ndarray]:
        # One request (per BATCH) for the sentences of all the chunks, not one per chunk: retrieval asks this of
        # every candidate of every question.
        keys = [[sentence_key(t) for t in c.embed_texts()] for c in chunks]
        found = self._vectors_of([k for ks in keys for k in ks])
        for chunk, ks in zip(chunks, keys):
            missing = [k for k in ks if k not in found]
            if missing:
                raise IndexCorruptError(
                    f"the Milvus index {self._names.alias} lacks {len(missing)} sentence vector(s) of a chunk of "
                    f"{chunk.source}: {REBUILD_HINT}")
        return [np.stack([found[k] for k in ks]) for ks in keys]

    def heading_vector(self, chunk: Chunk) -> np.ndarray | None:
        if not chunk.heading:
            return None
        key = sentence_key(chunk.heading)
        return self._vectors_of([key]).get(key)

    def _vectors_of(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Sentence vectors by key: staged ones, then the reader's cache, then Milvus (one request per BATCH)."""
        out = {k: self._new_sentences[k] for k in keys if k in self._new_sentences}
        out.update({k: self._cache[k] for k in keys if k in self._cache and k not in out})
        todo = [k for k in dict.fromkeys(keys) if k not in out]
        if todo and self.side is not None:
            fetched = self._get(self._names.sentences(self.side), "key", todo)
            if len(self._cache) + len(fetched) > CACHE:
                self._cache.clear()
            self._cache.update(fetched)
            out.update(fetched)
        return out

    def _get(self, collection: str, pk: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors of those rows (by primary key) that exist."""
        out = {}
        try:
            for begin in range(0, len(ids), BATCH):
                for row in self._client.get(collection, ids=list(ids[begin : begin + BATCH]), output_fields=["vector"]):
                    out[row[pk]] = np.asarray(row["vector"], dtype=np.float32)
        except Exception as e:
            raise self._failed(e) from None
        return out

    def chunk(self, chunk_id: str) -> Chunk | None:
        if self._chunks is not None:
            return self._chunks.get(chunk_id)
        try:
            rows = self._client.get(self._names.chunks(self.side), ids=[chunk_id], output_fields=["chunk"])
        except Exception as e:
            raise self._failed(e) from None
        return chunk_from_row(rows[0]["chunk"]) if rows else None

    def files(self) -> dict[str, str]:
        return {source: doc.sha256 for source, doc in sorted(self._documents.items())}

    def latest_generation(self) -> str | None:
        """The generation the alias names now: two small requests (the alias, then the manifest's name row)."""
        try:
            side = _live_side(self._client, self._names)
            if side is None:
                return None
            if side != self.side:
                _load(self._client, [self._names.meta(side)])
            rows = self._client.query(
                self._names.meta(side), filter='name == "generation"', output_fields=["data"])
            return rows[0]["data"] if rows else None
        except Exception as e:  # a server restarting: keep serving what was loaded
            log.warning("cannot ask Milvus for the current index (%s)", _short(e))
            return None

    # --- what indexing asks --------------------------------------------------------------------

    def known_sentence_vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        return self._vectors_of(list(keys))

    def sentence_sample(self, n: int, seed: int) -> np.ndarray:
        """Up to n vectors of the sentences the staged chunks use (all of them when fewer), drawn at random."""
        keys = sorted({sentence_key(t) for c in self._table().values() for t in unit_texts(c)})
        if len(keys) > n:
            keys = [keys[i] for i in sorted(np.random.default_rng(seed).choice(len(keys), n, replace=False))]
        found = self._vectors_of(keys)
        if not found:
            return np.zeros((0, self.config.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys if k in found])

    def _table(self) -> dict[str, Chunk]:
        """The chunk table, read from the live side on the first change (a reader never needs it)."""
        if self._chunks is None:
            try:
                self._chunks = {
                    row["id"]: chunk_from_row(row["chunk"])
                    for row in _scan(self._client, self._names.chunks(self.side), "id", ["id", "chunk"])
                }
            except Exception as e:
                raise self._failed(e) from None
        return self._chunks

    def remove_document(self, source: str) -> int:
        table = self._table()
        ids = [i for i, c in table.items() if c.source == source]
        for i in ids:
            del table[i]
            self._new_vectors.pop(i, None)
        self._documents.pop(source, None)
        self._language = None
        return len(ids)

    def add_document(
        self, doc: Document, chunks: list[Chunk], vectors: np.ndarray, sentence_vectors: dict[str, np.ndarray]
    ) -> None:
        self._new_sentences.update(unit_vectors(chunks, vectors, sentence_vectors))
        if doc.source in self._documents:
            self.remove_document(doc.source)
        table = self._table()
        for chunk, vector in zip(chunks, vectors):
            table[chunk.id] = chunk
            self._new_vectors[chunk.id] = np.asarray(vector, dtype=np.float32)
        self._documents[doc.source] = doc
        self._language = None

    def use_kind(self, kind: str) -> None:
        """FLAT (exact) or HNSW for the dense index, as the FAISS backend chooses (store.choose_kind)."""
        self._kind = kind

    # --- the switch ----------------------------------------------------------------------------

    def save(self) -> str:
        """Bring the spare side up to the staged state, flush it, then move the alias to it (atomic)."""
        client, names = self._client, self._names
        table = self._table()
        try:
            live = _live_side(client, names)
            spare = "b" if live == "a" else "a"
            self._prepare(spare)
            chunk_counts = self._sync_chunks(spare, live, table)
            sentence_counts = self._sync_sentences(spare, live, table)
            name = f"gen-{time.time_ns()}"
            meta_counts = self._sync_meta(spare, name, table)
            for collection in names.of_side(spare):
                client.flush(collection)
            # The one step readers can see: before it they read `live`, after it `spare`, never a mixture.
            if live is None:
                if names.alias in client.list_aliases()["aliases"]:
                    client.alter_alias(names.meta(spare), names.alias)
                else:
                    client.create_alias(names.meta(spare), names.alias)
            else:
                client.alter_alias(names.meta(spare), names.alias)
            if live is None:
                # The first build also fills the other side, so the next update has a spare one build behind
                # and writes only its own changes (not every row). Costs a second copy of the writes, once.
                other = "b" if spare == "a" else "a"
                self._prepare(other)
                self._sync_chunks(other, spare, table)
                self._sync_sentences(other, spare, table)
                self._sync_meta(other, name, table)
                for collection in names.of_side(other):
                    client.flush(collection)
        except (IndexCorruptError, IndexMismatchError, StoreUnavailableError):
            raise
        except Exception as e:
            raise self._failed(e) from None
        self.last_save = SaveCounts(*chunk_counts, *sentence_counts, *meta_counts)
        log.info("milvus: %s is live on side %s (%s)", name, spare, self.last_save)
        self.side, self.generation, self._count = spare, name, len(table)
        self._new_vectors, self._new_sentences = {}, {}
        self._cache.clear()
        return name

    def _prepare(self, side: str) -> None:
        """Make the side's collections exist with this index's dimension and index kind; recreate them (all
        three, empty) when they have another, e.g. after the embedder changed or the corpus crossed the
        HNSW threshold."""
        client, names = self._client, self._names
        collections = names.of_side(side)
        if all(client.has_collection(c) for c in collections) and self._fits(names.chunks(side)):
            _load(client, collections)
            return
        for collection in collections:
            if client.has_collection(collection):
                client.drop_collection(collection)
        self._create(side)

    def _fits(self, collection: str) -> bool:
        try:
            fields = {f["name"]: f for f in self._client.describe_collection(collection)["fields"]}
            dim = int(fields["vector"]["params"]["dim"])
            index = self._client.describe_index(collection, "vector")
        except Exception:
            return False
        return dim == self.config.dim and index.get("index_type") == _index_type(self._kind)

    def _create(self, side: str) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        client, names, dim = self._client, self._names, self.config.dim
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=128)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("terms", DataType.VARCHAR, max_length=65_535, enable_analyzer=True, enable_match=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("source", DataType.VARCHAR, max_length=4_096)
        schema.add_field("chunk", DataType.JSON)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                     output_field_names=["sparse"]))
        index = client.prepare_index_params()
        if self._kind == HNSW:
            index.add_index(field_name="vector", index_type="HNSW", metric_type="IP",
                            params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
        else:
            index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
        _create_collection(client, names.chunks(side), schema, index)

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        index = client.prepare_index_params()
        index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")  # looked up by key, never searched
        _create_collection(client, names.sentences(side), schema, index)

        # Milvus wants a vector field in every collection; the meta rows carry a constant 2-d one.
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("name", DataType.VARCHAR, max_length=8_192)
        schema.add_field("part", DataType.INT64)
        schema.add_field("data", DataType.VARCHAR, max_length=65_535)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
        index = client.prepare_index_params()
        index.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
        _create_collection(client, names.meta(side), schema, index)

    def _sync_chunks(self, spare: str, live: str | None, table: dict[str, Chunk]) -> tuple[int, int]:
        collection = self._names.chunks(spare)
        held = {row["id"]: row["chunk"] for row in _scan(self._client, collection, "id", ["id", "chunk"])}
        stale = [i for i in held if i not in table]
        # A row is rewritten when its chunk differs from what the spare holds: a new id, or the same text
        # moved (offsets, heading) inside its file.
        changed = [i for i, c in table.items() if held.get(i) != _jsonable(asdict(c))]
        vectors = self._new_or_live(changed, self._new_vectors, self._names.chunks(live) if live else None,
                                    "id", "chunk")
        language = self.language
        for begin in range(0, len(changed), BATCH):
            ids = changed[begin : begin + BATCH]
            chunks = [table[i] for i in ids]
            terms = language.terms([keyword_text(c) for c in chunks])
            self._client.upsert(collection, [
                {"id": c.id, "vector": vectors[c.id].tolist(), "terms": " ".join(_term(t) for t in words),
                 "source": c.source, "chunk": _jsonable(asdict(c))}
                for c, words in zip(chunks, terms)
            ])
        self._delete(collection, stale)
        return len(changed), len(stale)

    def _new_or_live(self, keys: list[str], staged: dict[str, np.ndarray], live: str | None, pk: str, what: str
                     ) -> dict[str, np.ndarray]:
        """The vectors a save writes: staged by add_document, else copied from the live collection."""
        vectors = {k: staged[k] for k in keys if k in staged}
        todo = [k for k in keys if k not in vectors]
        if todo and live is not None:
            vectors.update(self._get(live, pk, todo))
        if len(vectors) != len(keys):
            raise IndexCorruptError(
                f"{len(keys) - len(vectors)} {what} vectors are neither new nor in Milvus: {REBUILD_HINT}")
        return vectors

    def _delete(self, collection: str, ids: Sequence[str]) -> None:
        for begin in range(0, len(ids), BATCH):
            self._client.delete(collection, ids=list(ids[begin : begin + BATCH]))

    def _sync_sentences(self, spare: str, live: str | None, table: dict[str, Chunk]) -> tuple[int, int]:
        collection = self._names.sentences(spare)
        held = {row["key"] for row in _scan(self._client, collection, "key", ["key"])}
        wanted = {sentence_key(t) for c in table.values() for t in unit_texts(c)}
        stale, missing = sorted(held - wanted), sorted(wanted - held)
        vectors = self._new_or_live(missing, self._new_sentences, self._names.sentences(live) if live else None,
                                    "key", "sentence")
        for begin in range(0, len(missing), BATCH):
            self._client.upsert(collection, [{"key": k, "vector": vectors[k].tolist()}
                                             for k in missing[begin : begin + BATCH]])
        self._delete(collection, stale)
        return len(missing), len(stale)

    def _sync_meta(self, spare: str, name: str, table: dict[str, Chunk]) -> tuple[int, int]:
        collection = self._names.meta(spare)
        manifest = {
            "format": FORMAT_VERSION,
            "backend": "milvus",
            "generation": name,
            **asdict(self.config),
            "index_kind": self._kind,
            "chunks": len(table),
            "files": self.files(),
            "language": self.language.code,
            "calibration": asdict(self.calibration),
            "embedder_backend": split_embedder(self.config.embedder)[1],
            "built_with": {**library_versions(), **_milvus_versions()},
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        rows = [r for doc in self._documents.values()
                for r in _parts(f"doc:{doc.source}", json.dumps(asdict(doc), ensure_ascii=False))]
        rows += _parts("manifest", json.dumps(manifest, ensure_ascii=False))
        rows += _parts("generation", name)
        held = {row["key"] for row in _scan(self._client, collection, "key", ["key"])}
        wanted = {r["key"] for r in rows}
        fresh = [r for r in rows if r["key"] not in held]
        stale = sorted(held - wanted)
        for begin in range(0, len(fresh), BATCH // 10):  # a row may hold 64 kB of text
            self._client.upsert(collection, fresh[begin : begin + BATCH // 10])
        self._delete(collection, stale)
        return len(fresh), len(stale)

    def _failed(self, e: Exception) -> Exception:
        text = _short(e)
        if "collection not found" in text.lower() or "can't find collection" in text.lower():
            return IndexCorruptError(
                f"a collection of the Milvus index {self._names.alias} at {self._uri} is gone ({text}): {REBUILD_HINT}")
        return _unavailable(e)


def _create_collection(client, name: str, schema, index) -> None:
    """Create, index and load a collection. Strong consistency: a reader that follows the alias right after a
    switch sees every row written. sync=False: pymilvus otherwise polls every 0.5 s until each index reports
    built (2 s of a 4.5 s first build on the seed), and loading waits for the index anyway."""
    client.create_collection(name, schema=schema, consistency_level="Strong")
    client.create_index(name, index, sync=False)
    client.load_collection(name)


def _index_type(kind: str) -> str:
    return "HNSW" if kind == HNSW else "FLAT"


def _jsonable(row: dict) -> dict:
    """A dict as it comes back from a JSON field (tuples are lists), so staged and stored chunks compare."""
    return json.loads(json.dumps(row, ensure_ascii=False))


def _milvus_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("pymilvus", "milvus-lite"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out
