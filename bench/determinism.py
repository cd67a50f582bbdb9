"""The same question, the same answer: does the default (local) mode answer a question alike whatever was asked
before it, and what does that cost?

Two local generators run side by side in one process over the same index and questions:

- `previous`: llama.cpp as ragchat ran it until session 27: one slot, and the server's host-memory prompt cache
  (`cache_ram_mib` 8192, its default), which restores the state of any earlier prompt sharing a prefix;
- `current`: LocalGenerator as it is: a slot per kind of prompt, no host-memory cache, and each slot cut back
  to its system prompt before a new prompt, so every prompt is computed from the same point.

Each asks the same questions in two orders (as listed, then shuffled), interleaved question by question with the
other generator, and the script counts questions whose answer differs between the two orders, and compares the
full-answer time of the two generators (median of per-question ratios), for each order apart.

    .venv/bin/python bench/determinism.py [--corpus pdf-manuals] [--n 12] [--quick]
"""

from __future__ import annotations

from _common import ROOT, code_note, local_settings, machine_note  # noqa: I001 (sets up paths and the offline environment first)

import argparse
import random
import statistics
import time

from ragchat import load, load_embedder
from ragchat.evaluation import load_suite, select_split
from ragchat.generation import LocalGenerator, local_model_path
from ragchat.prompts import Prompts


class Previous(LocalGenerator):
    """One slot and llama.cpp's default host-memory prompt cache; no cut-back."""

    SLOTS = 1
    PROMPT_CACHE_MIB = 8192

    def _cut_back(self, slot: int, first: dict) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="pdf-manuals", help="a corpus of bench/corpora/suite.json")
    parser.add_argument("--n", type=int, default=12, help="dev questions of the corpus, from the first")
    parser.add_argument("--quick", action="store_true", help="4 questions")
    args = parser.parse_args()
    settings = local_settings()
    suite = load_suite(ROOT / "bench" / "corpora" / "suite.json")
    corpus = next(c for c in suite.corpora if c.name == args.corpus)
    questions = [i.question for i in select_split(corpus.items, "dev")][: 4 if args.quick else args.n]
    s = suite.settings_for(settings, corpus)
    embedder = load_embedder(s.embedder, s.torch_threads)
    prompts = Prompts.load(s.prompts_dir)
    path = local_model_path(s)
    services = {name: load(s, embedder, generators={"local": kind(prompts, s, path)})
                for name, kind in (("previous", Previous), ("current", LocalGenerator))}
    print(machine_note(), code_note(), sep="\n")
    print(f"{args.corpus}: {len(questions)} dev questions, local mode, each asked in two orders")

    orders = [list(range(len(questions))), random.Random(27).sample(range(len(questions)), len(questions))]
    answers: dict[str, list[dict[int, str]]] = {name: [{}, {}] for name in services}
    seconds: dict[str, list[float]] = {name: [] for name in services}
    for o, order in enumerate(orders):
        for k, i in enumerate(order):
            # Alternate which generator goes first, so neither always follows the other's load on the machine.
            for name in (list(services) if k % 2 == 0 else list(services)[::-1]):
                started = time.perf_counter()
                answers[name][o][i] = services[name].ask(questions[i], mode="local").answer
                seconds[name].append(time.perf_counter() - started)

    for name in services:
        differ = [i for i in range(len(questions)) if answers[name][0][i] != answers[name][1][i]]
        print(f"{name:9} answers that differ between the two orders: {len(differ)} of {len(questions)}"
              + (f" ({', '.join(str(i) for i in differ)})" if differ else ""))
    n = len(questions)
    # The first order asks each question for the first time; in the second, the previous generator's host-memory
    # cache may still hold a question's whole prompt from the first, which a user asking anew does not have.
    for label, part in (("first asked", slice(0, n)), ("asked again", slice(n, 2 * n))):
        prev, cur = seconds["previous"][part], seconds["current"][part]
        ratios = [c / p for c, p in zip(cur, prev)]
        print(f"full answer, {label}: median previous {statistics.median(prev):.2f} s, current "
              f"{statistics.median(cur):.2f} s; current / previous per question: median {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
