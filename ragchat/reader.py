"""The reader process: files are parsed in a child process that can be killed, so no file can hurt the indexer.

pypdf runs arbitrary work on hostile input: a 162 KB PDF of 1,000 pages sharing one content stream takes an
hour, an inflate bomb allocates hundreds of MB, and a damaged file may raise anything. In a child process
with a time budget (the parent stops waiting and kills it), a memory cap (RLIMIT_AS) and every exception turned
into a DocumentError, the worst a file can do is be skipped with a message naming it.

One long-lived child serves every file (started on first use, ~0.5 s), and is replaced only after it was killed
or died: the cost per file is one pickle of its bytes each way (docs/RELIABILITY.md has the measurement).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DocumentError, ReaderError

if TYPE_CHECKING:
    from .loading import Limits
    from .types import Document

# The child's address-space cap. Python with numpy and pypdf imported maps ~0.5 GB; 3 GB leaves a 100 MB file
# and its text room, and stops an inflate bomb long before the machine swaps.
MEMORY_CAP_BYTES = 3 << 30
# How long the child may take to start (imports) before the parent gives up: not part of any file's budget.
START_SECONDS = 60.0
# The child's own alarm, beyond the parent's budget: if the parent is killed mid-file, the child still stops.
ALARM_GRACE_SECONDS = 10


class Reader:
    """One child process parsing files in turn; thread-safe (calls are serialised)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None
        self._lock = threading.Lock()
        self.started = 0  # how many children were started (tests and benchmarks read it)

    def parse(self, data: bytes, source: str, suffix: str, limits: "Limits") -> "Document":
        request = pickle.dumps((data, source, suffix, limits), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            # Two attempts when the child dies without overrunning: it may have died of something else since the
            # last file (killed from outside); a file that kills a fresh child as well is the file's fault.
            for attempt in (1, 2):
                self._ensure_started()
                assert self._send is not None and self._recv is not None
                try:
                    self._send.send_bytes(request)
                except OSError as e:
                    self._stop()
                    if attempt == 2:
                        raise ReaderError(f"the file reader process keeps dying ({e}): is the machine out of memory?") from None
                    continue
                if not self._recv.poll(limits.parse_seconds):
                    self._stop()
                    raise DocumentError(
                        f"{source}: took longer than {limits.parse_seconds:g} s to read: split it, or raise "
                        "RAGCHAT_PARSE_SECONDS if it is a large document you trust"
                    )
                try:
                    kind, value = pickle.loads(self._recv.recv_bytes())
                    break
                except (EOFError, OSError, pickle.UnpicklingError):
                    code = self._stop()
                    if attempt == 2:
                        raise DocumentError(
                            f"{source}: made the file reader stop ({_exit_reason(code)}): re-export it or remove it"
                        ) from None
        if kind == "error":
            raise DocumentError(value)
        return value

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _ensure_started(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self._stop()
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        # The child must import this very package (a checkout may shadow an installed copy), and needs no threads.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        try:
            # Started from one thread that lives as long as this process: the child's PR_SET_PDEATHSIG fires when
            # the thread that started it ends, and a server's request threads come and go (anyio retires idle
            # ones after 10 s), which would kill the reader under another thread's file.
            self._proc = _SPAWNER.submit(
                subprocess.Popen,
                [sys.executable, "-c", f"from ragchat.reader import serve; serve({to_child_r}, {to_parent_w})"],
                env=env, stdin=subprocess.DEVNULL, pass_fds=(to_child_r, to_parent_w), close_fds=True,
            ).result()
        except OSError as e:
            for fd in (to_child_r, to_child_w, to_parent_r, to_parent_w):
                os.close(fd)
            raise ReaderError(f"the file reader process cannot start ({e}): check the Python installation") from None
        os.close(to_child_r)
        os.close(to_parent_w)
        self._send = Connection(to_child_w, readable=False)
        self._recv = Connection(to_parent_r, writable=False)
        self.started += 1
        if not self._recv.poll(START_SECONDS):
            self._stop()
            raise ReaderError(f"the file reader process did not start within {START_SECONDS:g} s: is the machine overloaded?")
        try:
            self._recv.recv_bytes()  # "ready"
        except (EOFError, OSError):
            code = self._stop()
            raise ReaderError(
                f"the file reader process failed to start ({_exit_reason(code)}): run "
                "`python -c 'import ragchat.loading'` to see why"
            ) from None

    def _stop(self) -> int | None:
        """Kill the child (if any) and forget it; returns its exit status."""
        code = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._proc.wait(timeout=10)
        for conn in (self._send, self._recv):
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()
        self._proc = self._send = self._recv = None
        return code


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "it did not exit"
    if code < 0:
        import signal

        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


_reader: Reader | None = None
_reader_lock = threading.Lock()
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragchat-reader-start")


def shared() -> Reader:
    """The process's one reader (started on first use)."""
    global _reader
    with _reader_lock:
        if _reader is None:
            _reader = Reader()
            import atexit

            atexit.register(_reader.close)
        return _reader


# --- the child -------------------------------------------------------------------------------------


def serve(read_fd: int, write_fd: int) -> None:
    """The child's loop: parse each request with loading.parse, answer ("ok", Document) or ("error", message)."""
    import resource
    import signal

    _die_with_parent()
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))
    # Library prints must not reach anyone's terminal as if they were ours; the protocol has its own pipe.
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    # A damaged PDF makes pypdf log hundreds of lines (one per bad xref entry); the parent's one-line DocumentError
    # says what matters.
    import logging

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    from .loading import parse

    requests = Connection(read_fd, writable=False)
    replies = Connection(write_fd, readable=False)
    replies.send_bytes(b"ready")
    while True:
        try:
            data, source, suffix, limits = pickle.loads(requests.recv_bytes())
        except EOFError:
            return
        signal.alarm(int(limits.parse_seconds) + ALARM_GRACE_SECONDS)  # default action: the child ends
        try:
            reply = ("ok", parse(data, source, suffix, limits))
        except DocumentError as e:
            reply = ("error", str(e))
        except MemoryError:
            reply = ("error", f"{source}: needs more than {MEMORY_CAP_BYTES >> 30} GB of memory to read: "
                              "re-export it or split it")
        except RecursionError:
            reply = ("error", f"{source}: is nested too deeply to read: re-export it or remove it")
        except Exception as e:  # a damaged file may make any library raise anything
            reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
            reply = ("error", f"{source}: cannot be read ({type(e).__name__}{': ' + reason if reason else ''}): "
                              "re-export it or remove it")
        signal.alarm(0)
        del data
        try:
            replies.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        except MemoryError:
            replies.send_bytes(pickle.dumps(("error", f"{source}: its text is too large to pass on: split it")))


def _die_with_parent() -> None:
    """Linux: be killed when the parent dies, so a killed `ragchat index` leaves no reader running."""
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
