"""The local model under two llama.cpp bindings, side by side: xllamacpp (what ragchat uses) and llama-cpp-python.

Both run the bundled Qwen2.5-Coder-1.5B GGUF on the exact requests ragchat's local mode sends (short-answer
system prompt, the question's evidence sentences, the JSON grammar), 2 threads, context 2,048, temperature 0,
streaming. Each runtime runs in its own process (both bundle their own ggml); rounds alternate the order.
Per request: time to the first streamed token (≈ prompt processing), then generation speed.

llama-cpp-python has no wheel on PyPI: it is compiled from source, with AMX off (MODELS.md: its default build
dies with SIGILL here). Install it into a separate environment, then point --llama-cpp-python at its python:

    python3 -m venv /tmp/lcp-venv
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON \
      -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
      /tmp/lcp-venv/bin/pip install -r bench/requirements-llamacpp.txt
    .venv/bin/python bench/runtimes.py --llama-cpp-python /tmp/lcp-venv/bin/python [--n 12] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

THREADS, CONTEXT = 2, 2048


def worker(runtime: str, model: str, prompts_file: str) -> None:
    """Runs in the runtime's own process; prints one JSON object per request, then one for the load."""
    requests = json.loads(Path(prompts_file).read_text(encoding="utf-8"))
    started = time.perf_counter()
    if runtime == "xllamacpp":
        import queue
        import threading

        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = model
        params.n_ctx, params.n_parallel = CONTEXT, 1
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = THREADS
        params.hostnames, params.port, params.warmup, params.verbosity = ["127.0.0.1"], 0, False, 1
        server = xllamacpp.Server(params)

        def stream(r: dict):
            body = {"messages": r["messages"], "max_tokens": r["max_tokens"], "temperature": 0, "stream": True,
                    "cache_prompt": True, "grammar": r["grammar"]}
            pieces: queue.Queue = queue.Queue()
            done = object()
            threading.Thread(target=lambda: (server.handle_chat_completions(body, pieces.put), pieces.put(done)),
                             daemon=True).start()
            while (item := pieces.get()) is not done:
                item = json.loads(item) if isinstance(item, str) else item
                for choice in item.get("choices", []) if isinstance(item, dict) else []:
                    if (choice.get("delta") or {}).get("content"):
                        yield choice["delta"]["content"]
    else:
        from llama_cpp import Llama, LlamaGrammar

        llm = Llama(model_path=model, n_ctx=CONTEXT, n_threads=THREADS, n_threads_batch=THREADS, verbose=False)

        def stream(r: dict):
            for chunk in llm.create_chat_completion(
                messages=r["messages"], max_tokens=r["max_tokens"], temperature=0, stream=True,
                grammar=LlamaGrammar.from_string(r["grammar"], verbose=False),
            ):
                content = chunk["choices"][0]["delta"].get("content")
                if content:
                    yield content

    print(json.dumps({"load_s": time.perf_counter() - started}), flush=True)
    for r in requests:
        t0 = time.perf_counter()
        first, pieces, text = None, 0, ""
        for piece in stream(r):
            first = first or time.perf_counter()
            pieces += 1
            text += piece
        end = time.perf_counter()
        print(json.dumps({"first_s": (first or end) - t0, "total_s": end - t0, "pieces": pieces, "text": text}),
              flush=True)


def build_requests(n: int) -> list[dict]:
    """ragchat's own local-mode requests for the first n answerable questions of the QA set."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import QA, ROOT  # noqa: I001 (sets up paths and the offline environment)

    from ragchat import Settings
    from ragchat import evidence as evidence_mod
    from ragchat.citations import render_evidence
    from ragchat.evaluation import load_qa
    from ragchat.generation import SHORT_ANSWER
    from ragchat.generation import ChatGenerator
    from ragchat.qa import load

    settings = Settings.from_env(seeds_dir=ROOT / "seeds", index_dir=ROOT / "index")
    qa = load(settings)
    out = []
    for item in [q for q in load_qa(QA) if q.answerable][:n]:
        vector = qa.embedder.encode_query(item.question)
        hits = qa.retriever.search(item.question, settings.top_k, query_vector=vector)
        budget = ChatGenerator.budget
        chosen = evidence_mod.gather(item.question, vector, hits, qa.retriever.store).select(budget.units, budget.margin)
        user = qa.prompts.answer_user.format(evidence=render_evidence(chosen), question=item.question)
        out.append({"messages": [{"role": "system", "content": qa.prompts.short_answer_system},
                                 {"role": "user", "content": user}],
                    "max_tokens": settings.max_answer_tokens, "grammar": SHORT_ANSWER.grammar})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", choices=["xllamacpp", "llama-cpp-python"])
    parser.add_argument("--model")
    parser.add_argument("--prompts")
    parser.add_argument("--llama-cpp-python", dest="lcp_python", help="python of the env holding llama-cpp-python")
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.model, args.prompts)
        return
    if not args.lcp_python:
        parser.error("--llama-cpp-python PYTHON is required (see the docstring for the install)")

    requests = build_requests(args.n)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import OUT

    from ragchat import Settings
    from ragchat.generation import local_model_path

    model = str(local_model_path(Settings.from_env()))
    OUT.mkdir(parents=True, exist_ok=True)
    prompts_file = OUT / "runtimes-requests.json"
    prompts_file.write_text(json.dumps(requests), encoding="utf-8")
    pythons = {"xllamacpp": sys.executable, "llama-cpp-python": args.lcp_python}
    results: dict[str, dict[str, list]] = {name: {"load_s": [], "first_s": [], "gen_tps": [], "texts": []}
                                           for name in pythons}
    for round_ in range(args.rounds):
        order = list(pythons) if round_ % 2 == 0 else list(reversed(pythons))
        for name in order:
            proc = subprocess.run([pythons[name], __file__, "--worker", name, "--model", model,
                                   "--prompts", str(prompts_file)], capture_output=True, text=True, check=True)
            rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
            results[name]["load_s"].append(rows[0]["load_s"])
            for row in rows[1:]:
                results[name]["first_s"].append(row["first_s"])
                if row["pieces"] > 1:
                    results[name]["gen_tps"].append((row["pieces"] - 1) / max(row["total_s"] - row["first_s"], 1e-9))
                if round_ == 0:
                    results[name]["texts"].append(row["text"])
            print(f"round {round_ + 1}: {name} done", flush=True)

    print(f"\n{args.n} requests x {args.rounds} rounds, {THREADS} threads, context {CONTEXT}, temperature 0, "
          "JSON grammar, streamed")
    print(f"{'runtime':>18} {'load s':>7} {'first token ms (median)':>24} {'generation tok/s (median)':>26}")
    for name, r in results.items():
        print(f"{name:>18} {statistics.median(r['load_s']):7.1f} {statistics.median(r['first_s']) * 1000:24.0f} "
              f"{statistics.median(r['gen_tps']):26.1f}")
    x, lcp = results["xllamacpp"], results["llama-cpp-python"]
    print(f"\nllama-cpp-python / xllamacpp: first token {statistics.median(lcp['first_s']) / statistics.median(x['first_s']):.2f}x "
          f"the time, generation {statistics.median(lcp['gen_tps']) / statistics.median(x['gen_tps']):.2f}x the speed")
    same = sum(_answer(a) == _answer(b) for a, b in zip(x["texts"], lcp["texts"]))
    print(f"identical answers: {same} of {len(x['texts'])}")


def _answer(reply: str) -> str | None:
    try:
        return json.loads(reply)["answer"]
    except (ValueError, KeyError, TypeError):
        return None


if __name__ == "__main__":
    main()
