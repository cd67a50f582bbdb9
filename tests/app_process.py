"""`python app.py` in its own process, for tests that need the real entry point (RSS from /proc, SIGKILL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    def __init__(self, process: subprocess.Popen, port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def app_process(seeds: Path, index: Path, log: Path, ready_s: float = 180, **env: str) -> Iterator[AppProcess]:
    """Start app.py on a free port over these folders (extractive unless `env` says otherwise); yields once
    /healthz answers; terminates it on exit unless the test already killed it."""
    port = free_port()
    full = {**os.environ, "RAGCHAT_SEEDS_DIR": str(seeds), "RAGCHAT_INDEX_DIR": str(index), "RAGCHAT_PORT": str(port),
            "RAGCHAT_MODE": "extractive", "NO_PROXY": "127.0.0.1,localhost", **env}
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=full, stdout=out,
                                   stderr=subprocess.STDOUT)
    running = AppProcess(process, port, log)
    try:
        deadline = time.monotonic() + ready_s
        with httpx.Client(base_url=running.url, timeout=10, trust_env=False) as http:
            while True:
                assert process.poll() is None, running.output()
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, running.output()
                time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)
