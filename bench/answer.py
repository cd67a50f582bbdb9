"""Answer latency per mode on the seed questions, and the local runtime's speed through ragchat vs raw.

For each answerable question of tests/data/qa.jsonl (the first --n), per mode: time to first token and to
the full verified answer (median, p95). For `local`, the same chat request is also sent straight to the
llama.cpp runtime, interleaved with ragchat's call, and generation speed (tokens/s, from llama.cpp's own
counters) is compared: ragchat / raw ≈ 1.0 means the wrapper adds nothing to generation. Each mode also prints
the median of every stage of the answer path (timings_ms: retrieve, evidence, generate, confirm — the second
reading of a verified answer) and that stage's share of the full answer, measured in the same calls.

    .venv/bin/python bench/answer.py [--n 8] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics

from _common import QA, ROOT, percentile  # noqa: I001 (sets up paths and the offline environment first)

from ragchat import Settings  # noqa: E402
from ragchat import evidence as evidence_mod  # noqa: E402
from ragchat.citations import render_evidence  # noqa: E402
from ragchat.generation import SHORT_ANSWER, local_available  # noqa: E402
from ragchat.qa import load  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="2 questions, extractive only")
    args = parser.parse_args()
    n = 2 if args.quick else args.n
    rows = [json.loads(line) for line in QA.read_text(encoding="utf-8").splitlines()]
    questions = [r["question"] for r in rows if r["answerable"]][:n]
    settings = Settings.from_env(seeds_dir=ROOT / "seeds", index_dir=ROOT / "index")
    qa = load(settings)
    modes = ["extractive"] + (["local"] if local_available(settings) and not args.quick else [])
    print(f"{len(questions)} questions; modes: {', '.join(modes)}")
    for mode in modes:
        qa.ask(questions[0], mode=mode)  # load the model, warm caches
        first, total, ours, raw, prompt_tokens = [], [], [], [], []
        stages: dict[str, list[float]] = {}
        for q in questions:
            answer = qa.ask(q, mode=mode)
            first.append(answer.timings_ms.get("first_token", answer.timings_ms["total"]))
            total.append(answer.timings_ms["total"])
            for stage in ("retrieve", "evidence", "generate", "confirm"):
                if stage in answer.timings_ms:  # a declined question has no confirm stage: not counted as 0
                    stages.setdefault(stage, []).append(answer.timings_ms[stage])
            if mode != "local":
                continue
            generator = qa.generator("local")
            ours.append(generator.last_timings.get("predicted_per_second", 0.0))
            prompt_tokens.append(generator.last_timings.get("prompt_n", 0) + generator.last_timings.get("cache_n", 0))
            # The identical request, straight to the runtime.
            vector = qa.embedder.encode_query(q)
            hits = qa.retriever.search(q, settings.top_k, query_vector=vector)
            chosen = evidence_mod.gather(q, vector, hits, qa.retriever.store).select(generator.budget.units, generator.budget.margin)
            user = qa.prompts.answer_user.format(evidence=render_evidence(chosen), question=q)
            messages = [{"role": "system", "content": qa.prompts.short_answer_system}, {"role": "user", "content": user}]
            request = {"max_tokens": settings.max_answer_tokens, "temperature": 0, "stream": False, "cache_prompt": True,
                       "id_slot": 0, **SHORT_ANSWER.held(messages)}
            result = generator._server.handle_chat_completions(request)
            raw.append(result.get("timings", {}).get("predicted_per_second", 0.0))
        print(f"\n{mode}: first token median {statistics.median(first):.0f} ms, p95 {percentile(first, 95):.0f} ms; "
              f"full answer median {statistics.median(total):.0f} ms, p95 {percentile(total, 95):.0f} ms")
        whole = sum(total)
        print("  stages (median ms, share of all answer time): " + ", ".join(
            f"{stage} {statistics.median(ms):.0f} ({sum(ms) / whole:.0%})" for stage, ms in stages.items()))
        if ours and raw:
            print(f"  prompt tokens median {statistics.median(prompt_tokens):.0f}; generation "
                  f"{statistics.median(ours):.1f} tok/s via ragchat vs {statistics.median(raw):.1f} tok/s raw "
                  f"= {statistics.median(ours) / max(statistics.median(raw), 1e-9):.2f}x")


if __name__ == "__main__":
    main()
