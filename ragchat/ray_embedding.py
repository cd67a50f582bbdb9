"""Embedding on Ray (`ragchat index --ray`): the same embedder in a pool of Ray actors, through Ray Data.

Only document embedding moves. Chunking, the store, calibration and the atomic switch stay in this process, and
the actors load the embedder under the same name, so an index built this way equals the plain path's (the
vectors of a text do not depend on where it was embedded: tests/test_ray.py compares them).

On one machine Ray adds a scheduler and an object store to every batch, so it pays off only with more cores
than one process uses, or with a cluster (`--ray auto` inside one, `--ray ray://head:10001` from outside);
docs/BENCHMARKS.md has the numbers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .embedding import Embedder, load_embedder
from .errors import ConfigError, ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: a Ray instance of this process; "auto" or "ray://host:10001": a cluster's
    actors: int = 2  # embedders running at once, each its own process (or node)
    threads: int = 1  # torch/onnx threads per actor


class _Embed:
    """One Ray Data actor: loads the embedder once, then embeds batch after batch."""

    def __init__(self, name: str, threads: int) -> None:
        self.embedder = load_embedder(name, threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.encode_documents([str(t) for t in batch["text"]], len(batch["text"]))
        return {"row": batch["row"], "vector": vectors}


@dataclass
class RayEmbedder(Embedder):
    """An Embedder whose documents are embedded by Ray actors; queries, tokenizer and sizes stay local (the
    chunker and calibration need them here, and one query is not worth a round trip)."""

    options: RayOptions = RayOptions()

    def encode_documents(self, texts: Sequence[str], batch_size: int = 32,
                         progress: Callable[[int], None] | None = None) -> np.ndarray:
        texts = list(texts)
        if len(texts) < batch_size * self.options.actors:  # a few texts (calibration probes): not worth the pool
            return super().encode_documents(texts, batch_size, progress)
        ray = _ray(self.options)
        items = ray.data.from_items([{"row": i, "text": t} for i, t in enumerate(texts)])
        embedded = items.map_batches(
            _Embed, fn_constructor_kwargs={"name": self.name, "threads": self.options.threads},
            batch_size=batch_size, concurrency=self.options.actors, num_cpus=self.options.threads,
            batch_format="numpy",
        )
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        done = 0
        # Batches come back in any order (preserving it would hold fast actors back): rows say where they go.
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            out[batch["row"]] = np.stack(batch["vector"])
            done += len(batch["row"])
            if progress:
                progress(done)
        if done != len(texts):
            raise ModelError(f"Ray returned {done} of {len(texts)} vectors: see the Ray logs, or index without --ray")
        return out


def ray_embedder(local: Embedder, options: RayOptions) -> RayEmbedder:
    """The local embedder (already loaded: its tokenizer chunks, it embeds queries) with documents sent to Ray."""
    if options.actors < 1 or options.threads < 1:
        raise ConfigError("--ray-actors and --ray-threads must be at least 1")
    _ray(options)  # connect now: a wrong address should fail before any file is read
    return RayEmbedder(name=local.name, model=local.model, backend=local.backend, languages=local.languages,
                       query_prompt=local.query_prompt, document_prompt=local.document_prompt,
                       options=options)


def _ray(options: RayOptions):
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray: `pip install 'ray[data]'` (or `pip install 'ragchat[ray]'`)") from None
    if not ray.is_initialized():
        try:
            ray.init(address=options.address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ConfigError(f"cannot reach the Ray cluster at {options.address!r}: {e}: start it (`ray start "
                              "--head`) or give its address (--ray ray://host:10001)") from None
        ray.data.DataContext.get_current().enable_progress_bars = False  # ours counts sentences
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # per-dataset INFO lines would bury the summary
    return ray


def shutdown() -> None:
    """Disconnect from Ray (and stop the instance if this process started it)."""
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()
