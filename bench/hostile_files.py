"""Hostile files and folders against the indexer of a checkout: what happens, before and after the reader process.

    .venv/bin/python bench/hostile_files.py                      # this checkout
    git archive 80a351e | tar -x -C /tmp/base                    # before: the commit this work started from
    .venv/bin/python bench/hostile_files.py --root /tmp/base

Each probe runs in its own process (a hang or a crash is a result, not the end of the run), with a wall-clock cap.
The hostile PDFs come from tests/hostile.py of *this* checkout, so both sides read the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

PROBE = textwrap.dedent("""
    import importlib.util, json, resource, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    spec = importlib.util.spec_from_file_location("hostile", Path(sys.argv[2]) / "tests" / "hostile.py")
    hostile = importlib.util.module_from_spec(spec); spec.loader.exec_module(hostile)
    from ragchat.loading import load_file
    from ragchat.errors import DocumentError
    work = Path(sys.argv[3]); probe = sys.argv[4]
    def outcome(path):
        t = time.perf_counter()
        try:
            load_file(path, path.name); kind = "read"
        except DocumentError as e:
            kind = "DocumentError: " + str(e)[:110]
        except BaseException as e:
            kind = "CRASH " + type(e).__name__ + ": " + str(e)[:80]
        return kind, round(time.perf_counter() - t, 2)
    if probe == "bomb":
        (work / "bomb.pdf").write_bytes(hostile.inflate_bomb(300))
        kind, s = outcome(work / "bomb.pdf")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(json.dumps({"outcome": kind, "seconds": s, "peak_rss_mb": peak}))
    elif probe == "slow":
        (work / "slow.pdf").write_bytes(hostile.slow_pages(1_000, 20_000))
        kind, s = outcome(work / "slow.pdf")
        print(json.dumps({"outcome": kind, "seconds": s}))
    elif probe == "deep_html":
        (work / "deep.html").write_text("<div>" * 100_000 + "Deep text." + "</div>" * 100_000)
        kind, s = outcome(work / "deep.html")
        print(json.dumps({"outcome": kind, "seconds": s}))
    elif probe == "fuzz":
        counts = {}
        fhs = Path(sys.argv[1]) / "bench/corpora/debian-pdfs/docs/fhs-3.0.pdf"
        for original, copies in ((hostile.real_small_pdf(), 240), (fhs.read_bytes(), 30)):
            for name, data in hostile.damaged(original, copies, seed=11):
                (work / name).write_bytes(data)
                kind = outcome(work / name)[0].split(":")[0]
                counts[kind] = counts.get(kind, 0) + 1
                (work / name).unlink()
        print(json.dumps(counts))
""")


def run(root: Path, probe: str, cap: float) -> str:
    with tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(root)}
        try:
            done = subprocess.run([sys.executable, "-c", PROBE, str(root), str(HERE), work, probe], env=env,
                                  capture_output=True, text=True, timeout=cap)
        except subprocess.TimeoutExpired:
            return f"still reading after {cap:g} s (killed)"
        lines = done.stdout.strip().splitlines()
        return lines[-1] if lines else f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=HERE, help="the checkout to probe")
    parser.add_argument("--cap", type=float, default=300, help="wall-clock seconds per probe")
    parser.add_argument("--probe", action="append", choices=("bomb", "slow", "deep_html", "fuzz"))
    args = parser.parse_args()
    for probe in args.probe or ("bomb", "slow", "deep_html", "fuzz"):
        print(f"{probe:<5} {run(args.root.resolve(), probe, args.cap)}", flush=True)


if __name__ == "__main__":
    main()
