"""What one caller may ask of a shared server: which answer modes, how many passages, and how much model time.

The HTTP API (api.py) and the chat (app.py) both go through this module, so a limit holds on every surface.

- Modes are the server's to allow: RAGCHAT_MODES, else the configured mode plus extractive. A caller who asks for
  `local` on a server set to extractive must not make it load a 1.1 GB model.
- top_k is capped (RAGCHAT_MAX_TOP_K): every passage costs scoring time and response bytes.
- Generation by a model runs in a Lane: a few workers of its own and a short waiting line; a request that finds
  the line full is refused at once with BusyError (HTTP 503 + Retry-After) instead of holding a thread. Extractive
  answers and /healthz never enter a lane, so they keep their capacity however many model requests arrive.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from .errors import BusyError, ModeNotAllowedError, QuestionError
from .settings import MODES, Settings

# Seconds a refused caller is told to wait: a local answer takes ~2 s on two cores (docs/BENCHMARKS.md), so a full
# line of five clears in ~10 s.
RETRY_AFTER_S = 10
# A remote OpenAI-compatible server does its own scheduling; these bound only the threads we spend waiting on it.
OPENAI_WORKERS = 4
OPENAI_WAITING = 8


def resolve_mode(mode: str | None, settings: Settings, available: list[str]) -> str:
    """The mode a request will be answered in: None means the server's own; auto means local when installed."""
    mode = mode or settings.mode
    if mode == "auto":
        return "local" if "local" in available else "extractive"
    return mode


def allowed_modes(settings: Settings, available: list[str]) -> list[str]:
    listed = settings.listed_modes() or ("extractive", resolve_mode(None, settings, available))
    return [m for m in dict.fromkeys(listed) if m in available or m == "extractive"]


def check_mode(mode: str | None, settings: Settings, available: list[str]) -> str:
    """The resolved mode of a request, or ModeNotAllowedError (a known mode this server does not offer) or
    QuestionError (not a mode at all)."""
    if mode is not None and mode not in MODES:
        raise QuestionError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    resolved = resolve_mode(mode, settings, available)
    allowed = allowed_modes(settings, available)
    if mode is not None and resolved not in allowed:
        raise ModeNotAllowedError(
            f"this server does not answer in {resolved!r} mode: use one of {', '.join(allowed)} "
            "(the server's RAGCHAT_MODES decides which modes callers may request)"
        )
    return resolved


def check_top_k(top_k: int | None, settings: Settings) -> int | None:
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise QuestionError(f"top_k must be an integer, got {top_k!r}")
    if not 1 <= top_k <= settings.max_top_k:
        raise QuestionError(f"top_k must be between 1 and {settings.max_top_k}, got {top_k} "
                            "(the server's RAGCHAT_MAX_TOP_K sets the upper bound)")
    return top_k


class Lane:
    """At most `workers` jobs at once and `waiting` more queued; anything beyond is refused with BusyError.

    admit() says yes or no at once (and never blocks); run() then waits for a worker slot. Jobs run on threads the
    caller owns (Gradio's), or that api.py starts per admitted job, never on the shared pool extractive answers use:
    45 local requests once held all 40 of anyio's threads and /healthz timed out."""

    def __init__(self, name: str, workers: int, waiting: int) -> None:
        self.name, self.workers, self.waiting = name, workers, waiting
        self._admitted = 0
        self._count_lock = threading.Lock()
        self._slots = threading.Semaphore(workers)

    def admit(self) -> Callable[[], None]:
        """A place in the lane, or BusyError; call the returned function exactly once to give it back."""
        with self._count_lock:
            if self._admitted >= self.workers + self.waiting:
                raise BusyError(
                    f"the {self.name} model is busy ({self.workers} answering, {self.waiting} waiting): try again in "
                    f"{RETRY_AFTER_S} s, or ask in extractive mode, which is always available",
                    RETRY_AFTER_S,
                )
            self._admitted += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._count_lock:
                if not released:
                    released = True
                    self._admitted -= 1

        return release

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Blocks until a worker slot is free: only on a thread that admit() let in."""
        with self._slots:
            yield

    @contextmanager
    def enter(self) -> Iterator[None]:
        """admit() then slot(), for a caller that is already on its own thread."""
        release = self.admit()
        try:
            with self.slot():
                yield
        finally:
            release()

    @property
    def admitted(self) -> int:
        return self._admitted


class Lanes:
    """One lane per model-backed mode, shared by every surface of one server (API and chat)."""

    def __init__(self, settings: Settings) -> None:
        # One local generation at a time: two would each get half of the CPU and both be late.
        self._lanes = {
            "local": Lane("local", 1, settings.local_queue),
            "openai": Lane("openai", OPENAI_WORKERS, OPENAI_WAITING),
        }

    def for_mode(self, mode: str) -> Lane | None:
        """None for extractive: it needs no model and runs wherever it is asked."""
        return self._lanes.get(mode)
