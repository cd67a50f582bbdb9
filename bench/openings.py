"""Reply openings written into the prompt, or generated under the grammar: what the default (local) mode saves.

Every reply of the local model has a fixed opening (`{"answer":`, `{"supported":`). Held by a grammar alone, the
model generates it token by token, each a full decoding step; written into the prompt as the start of the model's
turn (generation.Form), it is processed with the prompt in one batch. Two local generators run side by side in one
process over the same indexes and questions:

- `generated`: the whole reply held to the grammar, opening included (ragchat until session 29);
- `written`: LocalGenerator as it is, the opening written for the model.

Questions of two corpora's dev splits are asked by both, interleaved question by question (which goes first
alternates). The script prints the full-answer time of each (median of per-question ratios), the model stages'
medians, and the questions whose answers differ: the opening's tokens come from the prompt's batch instead of
one-token steps, so logits may differ in the last digits and a greedy answer with them.

    .venv/bin/python bench/openings.py [--corpus seed --corpus pdf-manuals] [--n 15] [--quick]
"""

from __future__ import annotations

from _common import ROOT, code_note, local_settings, machine_note  # noqa: I001 (sets up paths and the offline environment first)

import argparse
import statistics
import time

from ragchat import load, load_embedder
from ragchat.evaluation import load_suite, select_split
from ragchat.generation import Form, LocalGenerator, local_model_path
from ragchat.prompts import Prompts


class Generated(LocalGenerator):
    """The whole reply under the grammar: no opening written into the prompt."""

    def _chat(self, messages, max_tokens, form=None, again=False):
        whole = None if form is None else Form("", form.grammar)
        return super()._chat(messages, max_tokens, whole, again)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", help="corpora of bench/corpora/suite.json (default: seed, "
                        "pdf-manuals)")
    parser.add_argument("--n", type=int, default=15, help="dev questions of each corpus, from the first")
    parser.add_argument("--quick", action="store_true", help="3 questions of each")
    args = parser.parse_args()
    settings = local_settings()
    suite = load_suite(ROOT / "bench" / "corpora" / "suite.json")
    names = args.corpus or ["seed", "pdf-manuals"]
    embedder = load_embedder(settings.embedder, settings.torch_threads)
    prompts = Prompts.load(settings.prompts_dir)
    path = local_model_path(settings)
    generators = {"generated": Generated(prompts, settings, path), "written": LocalGenerator(prompts, settings, path)}
    print(machine_note(), code_note(), sep="\n")

    seconds: dict[str, list[float]] = {name: [] for name in generators}
    stages: dict[str, dict[str, list[float]]] = {name: {} for name in generators}
    differ: list[str] = []
    asked = 0
    for corpus_name in names:
        corpus = next(c for c in suite.corpora if c.name == corpus_name)
        s = suite.settings_for(settings, corpus)
        services = {name: load(s, embedder, generators={"local": g}) for name, g in generators.items()}
        items = select_split(corpus.items, "dev")[: 3 if args.quick else args.n]
        for k, item in enumerate(items):
            answers = {}
            for name in (list(services) if k % 2 == 0 else list(services)[::-1]):
                started = time.perf_counter()
                answer = services[name].ask(item.question, mode="local")
                seconds[name].append(time.perf_counter() - started)
                answers[name] = answer.answer
                for stage in ("generate", "confirm"):
                    if stage in answer.timings_ms:
                        stages[name].setdefault(stage, []).append(answer.timings_ms[stage])
            asked += 1
            if answers["generated"] != answers["written"]:
                differ.append(f"{item.id}: {answers['generated'][:70]!r} / {answers['written'][:70]!r}")

    print(f"{', '.join(names)}: {asked} dev questions, local mode, each asked by both generators")
    for name in generators:
        print(f"{name:10} full answer median {statistics.median(seconds[name]):.2f} s; " + ", ".join(
            f"{stage} median {statistics.median(ms) / 1000:.2f} s" for stage, ms in stages[name].items()))
    ratios = [w / g for w, g in zip(seconds["written"], seconds["generated"])]
    print(f"written / generated, full answer per question: median {statistics.median(ratios):.2f}x")
    print(f"answers that differ: {len(differ)} of {asked}")
    for line in differ:
        print("  " + line)


if __name__ == "__main__":
    main()
