"""All settings in one object, read from RAGCHAT_* environment variables once, at the edge.

Library code receives a Settings; nothing below the CLI, app or `ragchat.load()` reads the environment.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import ConfigError

MODES = ("auto", "extractive", "local", "openai")
# How the embedder runs: sentence-transformers on torch, or ONNX Runtime in fp32 or with int8 weights.
EMBED_BACKENDS = ("torch", "onnx", "onnx-int8")
# Where the index lives: FAISS + bm25s files in index_dir (embedded, the default), or a Milvus server.
STORES = ("faiss", "milvus")


@dataclass(frozen=True)
class Settings:
    seeds_dir: Path = Path("seeds")
    index_dir: Path = Path("index")
    prompts_dir: Path | None = None  # default: the prompts/ folder shipped beside the package

    # Recorded in the index manifest: changing any of these forces a full rebuild.
    # The embedder is a model name or folder, plus "+onnx" or "+onnx-int8" for an ONNX Runtime backend (none:
    # torch). RAGCHAT_EMBED_BACKEND=torch|onnx|onnx-int8 sets that suffix alone (see embed_backend).
    embedder: str = "all-MiniLM-L6-v2"
    tokenizer: str = "cl100k_base"
    chunk_tokens: int = 160
    chunk_overlap: int = 32

    # The index backend (ragchat/store.py). With "milvus", milvus_uri is a local .db folder served in-process by
    # milvus-lite (default: index_dir/milvus.db) or a server, http://host:19530 (Milvus Standalone, Distributed,
    # Zilliz, or `milvus-lite server`); milvus_collection prefixes every collection and alias ragchat makes.
    store: str = "faiss"
    milvus_uri: str | None = None
    milvus_token: str | None = None  # "user:password" or an API key, for a server with authentication (Zilliz)
    milvus_collection: str = "ragchat"

    # Above this many chunks the store switches from exact search to HNSW.
    hnsw_threshold: int = 50_000
    embed_batch_size: int = 32
    # One thread keeps query latency flat when a local LLM holds the other core (see MODELS.md).
    torch_threads: int = 1

    top_k: int = 5
    candidates: int = 30  # per retriever, before fusion
    mode: str = "auto"
    max_question_chars: int = 2_000

    # Generation
    llm_path: Path | None = None  # a GGUF file; default: the bundled Qwen2.5-Coder-1.5B, cached
    llm_cache_dir: Path = Path.home() / ".cache" / "ragchat"
    llm_threads: int = 2
    llm_context: int = 2048
    max_answer_tokens: int = 160
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_api_key: str = "none"
    openai_model: str = "default"
    openai_timeout: float = 60.0

    # Server
    host: str = "127.0.0.1"
    port: int = 7860
    api_key: str | None = None
    ui_auth: str | None = None  # "user:password"
    # With no credential and an address other than loopback the server refuses to start unless this is set.
    allow_open: bool = False

    # Budgets: what one caller may ask of the server (ragchat/budget.py, ragchat/guard.py).
    modes: str | None = None  # comma-separated modes callers may request; default: `mode` plus extractive
    max_top_k: int = 50
    local_queue: int = 4  # local generations that may wait while one runs; more get 503 + Retry-After
    max_body_bytes: int = 1_000_000  # a request body on /api and /v1 (a 2,000-char question is ~8 kB)
    max_upload_bytes: int = 50_000_000  # one upload request to the chat's Library tab
    max_upload_files: int = 20
    max_session_messages: int = 200  # chat messages kept per browser session (older ones are dropped)

    # Reading files (ragchat/reader.py): a file over a limit, or that fails or overruns, is skipped with a message
    # naming it, and the rest are indexed. Files are read in a child process that is killed when it overruns.
    max_file_bytes: int = 100_000_000
    max_pdf_pages: int = 5_000
    # A 1,000-page PDF reads in ~30 s on one core here (28 ms a page on the Debian PDFs, docs/RELIABILITY.md);
    # 120 s leaves room for a busy machine, while a hostile file that costs seconds a page is stopped.
    parse_seconds: float = 120.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str) and str(f.type).startswith("Path"):
                # Settings(seeds_dir="docs") from a script: a string would fail far from here.
                object.__setattr__(self, f.name, Path(value).expanduser())
        if self.chunk_tokens < 16:
            raise ConfigError(f"chunk_tokens must be at least 16, got {self.chunk_tokens}: set RAGCHAT_CHUNK_TOKENS higher")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ConfigError(
                f"chunk_overlap must be between 0 and half of chunk_tokens ({self.chunk_tokens // 2}), "
                f"got {self.chunk_overlap}: fix RAGCHAT_CHUNK_OVERLAP"
            )
        if self.top_k < 1:
            raise ConfigError(f"top_k must be greater than 0, got {self.top_k}: fix RAGCHAT_TOP_K")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}: fix RAGCHAT_MODE")
        if self.store not in STORES:
            raise ConfigError(f"store must be one of {', '.join(STORES)}, got {self.store!r}: fix RAGCHAT_STORE")
        if not self.milvus_collection.isidentifier():
            raise ConfigError(
                f"milvus_collection must be letters, digits and underscores, got {self.milvus_collection!r}: "
                "fix RAGCHAT_MILVUS_COLLECTION")
        if self.ui_auth is not None and ":" not in self.ui_auth:
            raise ConfigError("RAGCHAT_UI_AUTH must look like user:password")
        for name in ("max_top_k", "max_body_bytes", "max_upload_bytes", "max_upload_files", "max_session_messages",
                     "max_file_bytes", "max_pdf_pages"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"{name} must be greater than 0, got {getattr(self, name)}: fix RAGCHAT_{name.upper()}")
        if not self.parse_seconds > 0:
            raise ConfigError(f"parse_seconds must be greater than 0, got {self.parse_seconds}: fix RAGCHAT_PARSE_SECONDS")
        if self.local_queue < 0:
            raise ConfigError(f"local_queue must be 0 or more, got {self.local_queue}: fix RAGCHAT_LOCAL_QUEUE")
        unknown = [m for m in self.listed_modes() if m not in MODES or m == "auto"]
        if unknown:
            raise ConfigError(f"RAGCHAT_MODES may list extractive, local and openai, got {', '.join(unknown)}: fix it")

    @property
    def embed_backend(self) -> str:
        return split_embedder(self.embedder)[1]

    @property
    def milvus_target(self) -> str:
        """RAGCHAT_MILVUS_URI, or the milvus-lite folder inside the index folder when it is unset."""
        return self.milvus_uri or str(self.index_dir / "milvus.db")

    def listed_modes(self) -> tuple[str, ...]:
        """RAGCHAT_MODES as a tuple (empty when unset: budget.allowed_modes then decides)."""
        return tuple(dict.fromkeys(m.strip() for m in (self.modes or "").split(",") if m.strip()))

    def replace(self, **changes: object) -> "Settings":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Build settings from RAGCHAT_<FIELD> variables (e.g. RAGCHAT_TOP_K=8); overrides win."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f"RAGCHAT_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, f.type, raw)
        backend = environ.get("RAGCHAT_EMBED_BACKEND", "").strip()
        if backend:
            if backend not in EMBED_BACKENDS:
                raise ConfigError(f"RAGCHAT_EMBED_BACKEND must be one of {', '.join(EMBED_BACKENDS)}, got {backend!r}")
            model = split_embedder(str(values.get("embedder", cls.embedder)))[0]
            values["embedder"] = model if backend == "torch" else f"{model}+{backend}"
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def split_embedder(name: str) -> tuple[str, str]:
    """"all-MiniLM-L6-v2+onnx-int8" → ("all-MiniLM-L6-v2", "onnx-int8"); no backend suffix → torch."""
    model, plus, backend = name.rpartition("+")
    return (model, backend) if plus and backend in EMBED_BACKENDS else (name, "torch")


def _parse(name: str, type_name: object, raw: str) -> object:
    type_text = str(type_name)
    try:
        if type_text.startswith("Path"):
            return Path(raw).expanduser()
        if type_text == "int":
            return int(raw)
        if type_text == "float":
            return float(raw)
        if type_text == "bool":
            if raw.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if raw.strip().lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
    except ValueError:
        raise ConfigError(f"RAGCHAT_{name.upper()}={raw!r} is not a valid {type_text}: fix or unset it") from None
    return raw
