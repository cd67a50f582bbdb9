"""The embedder on ONNX Runtime: a sentence-transformers folder exported once to ONNX (optionally int8), cached.

Why not sentence-transformers' own `backend="onnx"`: it loads through optimum-onnx, whose only release (0.1.0)
pins transformers < 4.58 while sentence-transformers 6.2 runs on transformers 5; installing it would downgrade
the stack. The export here is torch.onnx.export of the same Hugging Face model (no network: the weights are a
local folder), run with onnxruntime, then the folder's own pooling (mean over the attention mask) and L2
normalisation, as in the model's modules.json. Only that architecture (Transformer → mean Pooling → Normalize)
is supported; anything else is refused rather than embedded differently.

The export (~5 s, once per machine and model) is written into a temporary folder and renamed into place, so a
crash or two processes at once never leave a half-written model behind. The cache key covers the weights file
(size and mtime), the backend, and the onnxruntime version (the int8 file is its quantiser's output).

`OnnxSentenceModel` answers the part of SentenceTransformer's interface that `embedding.Embedder` uses
(`tokenizer`, `max_seq_length`, `get_embedding_dimension()`, `encode(...)`), so Embedder does not care which.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import ModelError

EXPORT_VERSION = 1  # bump when the export recipe changes: old cache folders are then ignored
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def int8_supported() -> bool:
    """int8 matrix kernels need AVX2 at least (x86); ARM's are built in. Without them int8 is slower, not faster."""
    import platform

    if platform.machine().lower() in ("aarch64", "arm64"):
        return True
    return "avx2" in cpu_flags()


def _check_architecture(model_dir: Path) -> None:
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{model_dir} is not a sentence-transformers folder the ONNX backend can read ({e}): "
                         "set RAGCHAT_EMBED_BACKEND=torch") from None
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")
    if kinds[:2] != ["Transformer", "Pooling"] or not mean_only or kinds[2:] not in ([], ["Normalize"]):
        raise ModelError(f"the ONNX backend supports Transformer + mean Pooling (+ Normalize) models; {model_dir} has "
                         f"{' + '.join(kinds)}: set RAGCHAT_EMBED_BACKEND=torch")


def cache_key(model_dir: Path, backend: str) -> str:
    import onnxruntime

    weights = [p for p in sorted(model_dir.glob("*")) if p.suffix in (".safetensors", ".bin") and p.is_file()]
    if not weights:
        raise ModelError(f"no weights (*.safetensors or *.bin) in {model_dir}: reinstall the embedder's package")
    facts = [str(EXPORT_VERSION), backend, onnxruntime.__version__, str(model_dir.resolve())]
    facts += [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in weights]
    return hashlib.sha256("\n".join(facts).encode()).hexdigest()[:16]


def exported_model(model_dir: Path, backend: str, cache_dir: Path, label: str | None = None) -> Path:
    """The cached ONNX file for this model folder and backend, exported first if missing.

    `label` names the cache folder (default: the model folder's name), e.g. all-MiniLM-L6-v2-onnx-int8-<key>."""
    if backend not in ("onnx", "onnx-int8"):
        raise ModelError(f"no ONNX export for backend {backend!r}")
    _check_architecture(model_dir)
    label = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in (label or model_dir.name))
    folder = cache_dir / f"{label}-{backend}-{cache_key(model_dir, backend)}"
    if (folder / "model.onnx").is_file():
        return folder / "model.onnx"
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=cache_dir))
    try:
        _export(model_dir, tmp / "fp32.onnx")
        if backend == "onnx-int8":
            _quantize(tmp / "fp32.onnx", tmp / "model.onnx")
            (tmp / "fp32.onnx").unlink()
        else:
            (tmp / "fp32.onnx").rename(tmp / "model.onnx")
        meta = {"source": str(model_dir), "backend": backend, "export_version": EXPORT_VERSION,
                "sha256": _sha256(tmp / "model.onnx")}
        (tmp / "export.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, folder)  # atomic; fails if another process finished first, and then theirs is used
        except OSError:
            if not (folder / "model.onnx").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder / "model.onnx"


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _export(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    try:
        # eager attention: the exported graph then applies the padding mask as plain arithmetic
        model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    except (OSError, ValueError) as e:
        raise ModelError(f"could not load {model_dir} for the ONNX export: {e}: reinstall its package") from e

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    # Trace with padding in the batch so no shortcut for all-ones masks is baked into the graph.
    ids = torch.full((2, 16), 1000, dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 9:] = 0
    dynamic = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHidden(model), (ids, mask, torch.zeros_like(ids)), str(out), input_names=list(INPUTS),
                          output_names=["last_hidden_state"], dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)


def _quantize(src: Path, out: Path) -> None:
    """Dynamic int8 quantisation of the weights of MatMul/Gemm (activations quantised on the fly)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Without VNNI the u8×s8 kernels can saturate: onnxruntime's documented remedy is 7-bit weights.
    reduce_range = "avx512_vnni" not in cpu_flags() and "avx_vnni" not in cpu_flags()
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # "consider pre-processing"
    # Per-channel scales: cosine with fp32 0.99+ instead of 0.88+ (docs/BENCHMARKS.md, "Embedding backends").
    quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                     per_channel=True,
                     reduce_range=reduce_range)


class OnnxSentenceModel:
    """Tokenise → ONNX Runtime → mean pooling over the mask → (optional) L2 normalisation."""

    def __init__(self, model_dir: Path, onnx_file: Path, threads: int | None, one_at_a_time: bool = False) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_seq_length = int(config.get("max_seq_length", 256))
        st_config = model_dir / "config_sentence_transformers.json"
        # Named prefixes ("query: ", "passage: ") of asymmetric models, prepended as sentence-transformers does.
        self.prompts: dict[str, str] = (json.loads(st_config.read_text(encoding="utf-8")).get("prompts") or {}
                                        if st_config.is_file() else {})
        self._normalize = (model_dir / "modules.json").is_file() and "Normalize" in (
            model_dir / "modules.json").read_text(encoding="utf-8")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: onnxruntime's default (one per core)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads spin by default; on a shared machine that steals the other processes' core.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Dynamic int8 quantises activations with one scale per MatMul input, that is per batch: in a batch, a
        # text's vector would depend on its neighbours (cosine down to 0.977 against the same text alone). The
        # int8 model therefore embeds each text alone, which on 1-2 threads is no slower (no padding either).
        self.one_at_a_time = one_at_a_time
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._dim = int(self.session.get_outputs()[0].shape[-1]) if isinstance(
            self.session.get_outputs()[0].shape[-1], int) else None

    def get_embedding_dimension(self) -> int:
        if self._dim is None:
            self._dim = int(self.encode(["dimension"]).shape[1])
        return self._dim

    def encode(self, texts: Sequence[str], batch_size: int = 32, show_progress_bar: bool = False,
               convert_to_numpy: bool = True, normalize_embeddings: bool = False,
               prompt_name: str | None = None) -> np.ndarray:
        prefix = self.prompts.get(prompt_name, "") if prompt_name else ""
        texts = [prefix + t for t in texts]
        if self.one_at_a_time:
            batch_size = 1
        # Like sentence-transformers: longest first, so each batch pads little; results in input order.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: list[np.ndarray | None] = [None] * len(texts)
        for begin in range(0, len(order), batch_size):
            idx = order[begin : begin + batch_size]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                 max_length=self.max_seq_length, return_tensors="np")
            feed = {k: enc[k].astype(np.int64) for k in INPUTS if k in self._inputs and k in enc}
            if "token_type_ids" in self._inputs and "token_type_ids" not in feed:
                feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
            hidden = self.session.run(None, feed)[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            if self._normalize or normalize_embeddings:
                pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            for j, i in enumerate(idx):
                out[i] = pooled[j]
        if not texts:
            return np.zeros((0, self.get_embedding_dimension()), dtype=np.float32)
        return np.stack(out).astype(np.float32)
