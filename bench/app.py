"""The browser chat + HTTP API server (`python app.py`), measured side by side with the library it serves.

1. Cold start: `python app.py` from process start to its first answer over HTTP, with an existing index, beside
   a bare `python -c` that imports ragchat, loads the embedder and the index and answers once (the floor any
   server must pay). Interleaved, fresh processes each time. Target: app < 10 s.
2. Latency: POST /api/ask (extractive) on a running server vs qa.ask() in this process, the same questions,
   interleaved per question in a fresh shuffled order. Also POST /v1/chat/completions and gradio_client's
   /ask for information. Target: HTTP overhead (median difference) <= 10 ms.
3. Load: 20 concurrent clients on /api/ask for 30 s: requests/s, p50, p95, errors, beside the requests/s of
   qa.ask() called back to back in this process. Target: zero errors.

Only 127.0.0.1 is used: the server is a subprocess on a free port, its index a copy built in a temp folder.

    .venv/bin/python bench/app.py            # full: 5 cold starts, all questions x 5 rounds, 30 s of load
    .venv/bin/python bench/app.py --quick    # smoke: 2 cold starts, 20 questions x 2 rounds, 8 s of load
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as C

COLD_TARGET_S = 10.0
OVERHEAD_TARGET_MS = 10.0
CLIENTS = 20

BARE = """
import time, sys
t0 = time.perf_counter()
from ragchat.qa import load
from ragchat.settings import Settings
qa = load(Settings.from_env(), build=False)
qa.ask("When did Shoigu visit North Korea?")
print("ready", time.perf_counter() - t0, flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(work: Path, port: int) -> dict[str, str]:
    env = {**os.environ, "RAGCHAT_SEEDS_DIR": str(C.ROOT / "seeds"), "RAGCHAT_INDEX_DIR": str(work / "index"),
           "RAGCHAT_PORT": str(port), "RAGCHAT_HOST": "127.0.0.1", "RAGCHAT_MODE": "extractive",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("RAGCHAT_API_KEY", None)
    env.pop("RAGCHAT_UI_AUTH", None)
    no_proxy = [h for h in env.get("NO_PROXY", "").split(",") if h]
    env["NO_PROXY"] = env["no_proxy"] = ",".join(no_proxy + ["127.0.0.1", "localhost"])
    return env


def start_server(work: Path, port: int) -> tuple[subprocess.Popen, float]:
    """Start `python app.py`; returns the process and seconds until it first answered /api/ask."""
    import httpx

    log = (work / f"server-{port}.log").open("w+")  # a file, not a pipe: a full pipe would block the server
    t0 = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(C.ROOT / "app.py")], cwd=C.ROOT, env=server_env(work, port),
                               stdout=log, stderr=subprocess.STDOUT)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False) as http:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited with {process.returncode}:\n{Path(log.name).read_text()}")
            try:
                if http.post("/api/ask", json={"question": "When did Shoigu visit North Korea?"}).status_code == 200:
                    return process, time.perf_counter() - t0
            except httpx.TransportError:
                pass
            if time.perf_counter() - t0 > 180:
                process.kill()
                raise RuntimeError("app.py did not answer within 180 s")
            time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bare_start(work: Path) -> float:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", BARE], cwd=C.ROOT, env=server_env(work, 0), capture_output=True,
                         text=True, check=True)
    assert "ready" in out.stdout, out.stderr
    return time.perf_counter() - t0


def cold_start(work: Path, rounds: int) -> dict[str, list[float]]:
    def app() -> float:
        process, seconds = start_server(work, free_port())
        stop(process)
        return seconds

    return C.interleaved({"app.py": app, "bare library": lambda: bare_start(work)}, rounds,
                         log=lambda line: print(line, flush=True))


def latency(url: str, qa, questions: list[str], rounds: int) -> dict[str, list[float]]:
    import httpx
    from gradio_client import Client

    http = httpx.Client(base_url=url, timeout=30, trust_env=False)
    gradio = Client(url + "/", verbose=False, download_files=False)

    def api(q: str) -> None:
        r = http.post("/api/ask", json={"question": q})
        assert r.status_code == 200, r.text

    def v1(q: str) -> None:
        r = http.post("/v1/chat/completions", json={"model": "ragchat-extractive",
                                                    "messages": [{"role": "user", "content": q}]})
        assert r.status_code == 200, r.text

    contenders = {"in-process": lambda q: qa.ask(q), "/api/ask": api, "/v1/chat": v1,
                  "gradio /ask": lambda q: gradio.predict(q, api_name="/ask")}
    for q in questions[:5]:  # warm-up: connections, caches
        for f in contenders.values():
            f(q)
    ms: dict[str, list[float]] = {n: [] for n in contenders}
    orders = C.orders(list(contenders))
    for r in range(rounds):
        for q in questions:
            for name in next(orders):
                t0 = time.perf_counter()
                contenders[name](q)
                ms[name].append((time.perf_counter() - t0) * 1000)
        print(f"  latency round {r + 1}/{rounds}: " + ", ".join(f"{n} {C.median(v):.1f} ms" for n, v in ms.items()),
              flush=True)
    http.close()
    gradio.close()
    return ms


async def _load(url: str, questions: list[str], seconds: float, clients: int) -> tuple[list[float], int, float]:
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(i: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, timeout=60, trust_env=False) as http:
            n = i
            while time.perf_counter() < deadline:
                q = questions[n % len(questions)]
                n += clients
                t0 = time.perf_counter()
                try:
                    r = await http.post("/api/ask", json={"question": q})
                    ok = r.status_code == 200 and "answer" in r.json()
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += not ok

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return latencies, errors, time.perf_counter() - t0


def sequential_rps(qa, questions: list[str], seconds: float) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        qa.ask(questions[n % len(questions)])
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 cold starts, 20 questions x 2 rounds, 8 s load")
    ap.add_argument("--cold", type=int, help="cold starts of each contender (default 5; quick 2)")
    ap.add_argument("--rounds", type=int, help="latency passes over the questions (default 5; quick 2)")
    ap.add_argument("--load-seconds", type=float, help="length of the load test (default 30; quick 8)")
    ap.add_argument("--clients", type=int, default=CLIENTS, help=f"concurrent clients (default {CLIENTS})")
    args = ap.parse_args()
    cold_rounds = args.cold or (2 if args.quick else 5)
    rounds = args.rounds or (2 if args.quick else 5)
    load_seconds = args.load_seconds or (8.0 if args.quick else 30.0)

    from ragchat.qa import load
    from ragchat.settings import Settings

    questions = [json.loads(line)["question"] for line in C.QA.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.quick:
        questions = questions[:20]
    work = Path(tempfile.mkdtemp(prefix="ragchat-bench-app-"))
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    try:
        settings = Settings(seeds_dir=C.ROOT / "seeds", index_dir=work / "index", mode="extractive")
        qa = load(settings)  # builds the index the server subprocesses will find
        say(f"# app: browser chat + HTTP API  ({C.machine_note()})")
        say(f"{len(qa.retriever.store)} chunks; {len(questions)} questions; extractive mode; server = `python app.py` "
            "subprocess on 127.0.0.1")

        print("\n1. cold start (existing index), interleaved:", flush=True)
        cold = cold_start(work, cold_rounds)
        app_s, bare_s = C.median(cold["app.py"]), C.median(cold["bare library"])
        say(f"\ncold start to first answer, median of {cold_rounds}:  app.py {app_s:.2f} s   "
            f"bare library {bare_s:.2f} s   ratio {app_s / bare_s:.2f}   (max app.py {max(cold['app.py']):.2f} s)")
        say(f"  target app.py < {COLD_TARGET_S:.0f} s: {C.verdict(app_s < COLD_TARGET_S)}")

        port = free_port()
        process, _ = start_server(work, port)
        url = f"http://127.0.0.1:{port}"
        try:
            print("\n2. latency, interleaved per question:", flush=True)
            ms = latency(url, qa, questions, rounds)
            base = C.median(ms["in-process"])
            say(f"\nlatency over {len(ms['in-process'])} calls each (ms):")
            say(f"  {'':<12} {'median':>8} {'p95':>8} {'overhead':>9} {'ratio':>6}")
            for name, values in ms.items():
                med = C.median(values)
                say(f"  {name:<12} {med:8.2f} {C.percentile(values, 95):8.2f} {med - base:9.2f} {med / base:6.2f}")
            paired = C.median([h - p for h, p in zip(ms["/api/ask"], ms["in-process"])])
            overhead = C.median(ms["/api/ask"]) - base
            say(f"  /api/ask HTTP overhead: {overhead:.2f} ms (paired median {paired:.2f} ms); "
                f"target <= {OVERHEAD_TARGET_MS:.0f} ms: {C.verdict(overhead <= OVERHEAD_TARGET_MS)}")

            print(f"\n3. load: {args.clients} clients for {load_seconds:.0f} s, then qa.ask back to back:", flush=True)
            latencies, errors, elapsed = asyncio.run(_load(url, questions, load_seconds, args.clients))
            rps = len(latencies) / elapsed
            alone = sequential_rps(qa, questions, min(load_seconds, 10.0))
            say(f"\nload, {args.clients} concurrent clients on /api/ask for {elapsed:.1f} s: "
                f"{len(latencies)} requests, {rps:.1f} req/s, p50 {C.percentile(latencies, 50):.0f} ms, "
                f"p95 {C.percentile(latencies, 95):.0f} ms, errors {errors}")
            say(f"  qa.ask back to back in one process: {alone:.1f} req/s; ratio server/in-process {rps / alone:.2f}")
            say(f"  target zero errors: {C.verdict(errors == 0)}")
        finally:
            stop(process)
        say(f"peak RSS of this process {C.peak_rss_mb():.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    C.OUT.mkdir(exist_ok=True)
    out = C.OUT / ("app-quick.txt" if args.quick else "app.txt")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwritten to {out.relative_to(C.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
