"""The browser chat's responsiveness: from pressing Enter to what a reader sees, in Debian's Chromium (Playwright).

For each question of tests/data/qa.jsonl (the first --n; answerable and not), in --mode extractive (default) or
local (the bundled Qwen2.5 1.5B), on a live server:
  Enter → the question shown (the message accepted at once, outside the queue)
  Enter → the first stage message ("Searching the documents…", "Reading n passages…")
  Enter → the retrieved passages visible in the Sources panel
  Enter → the final, checked answer
measured in the page (a MutationObserver, performance.now()), beside the same answer path in this process
(`qa.events`: to its Sources event, to its Answer), interleaved question by question. The difference is what
the browser, Gradio's queue and the network add. A stage can be too short to be painted at all: extractive
answers take ~20 ms, so how often the first stage was seen is reported too.

    .venv/bin/python bench/chat.py [--n 30] [--quick] [--mode local]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from _common import QA, ROOT, code_note, machine_note, median, percentile  # noqa: I001 (sets up paths first)

CHROMIUM = Path("/usr/bin/chromium")

OBSERVER = """() => {
window.__rc = {t0: null};
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Enter' || !e.target.closest || !e.target.closest('#rc-question')) return;
  window.__rc = {t0: performance.now(), shown: null, stage: null, sources: null, done: null,
                 metas: document.querySelectorAll('#rc-chat .rc-meta').length};
}, true);
new MutationObserver(() => {
  const r = window.__rc;
  if (r.t0 === null) return;
  const now = performance.now();
  if (r.shown === null && document.querySelector('#rc-chat .rc-waiting, #rc-chat .rc-stage')) r.shown = now;
  if (r.stage === null && document.querySelector('#rc-chat .rc-stage')) r.stage = now;
  if (r.sources === null && document.querySelector('#rc-sources .rc-retrieved')) r.sources = now;
  if (r.done === null && document.querySelectorAll('#rc-chat .rc-meta').length > r.metas) r.done = now;
}).observe(document.documentElement, {subtree: true, childList: true, characterData: true});
}"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="5 questions")
    parser.add_argument("--mode", choices=("extractive", "local"), default="extractive")
    args = parser.parse_args()
    n = 5 if args.quick else args.n

    from playwright.sync_api import expect, sync_playwright

    import importlib.util

    # The repository's app.py, not bench/app.py (the benchmark of the server, beside this file on sys.path).
    spec = importlib.util.spec_from_file_location("ragchat_app", ROOT / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    from ragchat import Settings, build_index, load_embedder
    from ragchat.qa import Answer, Sources, load

    rows = [json.loads(line) for line in QA.read_text(encoding="utf-8").splitlines()]
    questions = [r["question"] for r in rows][:n]
    print(machine_note())
    print(code_note())
    tmp = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    try:
        shutil.copytree(ROOT / "seeds", tmp / "seeds")
        settings = Settings.from_env(seeds_dir=tmp / "seeds", index_dir=tmp / "index", mode=args.mode,
                                     modes=f"{args.mode},extractive")
        embedder = load_embedder(settings.embedder, settings.torch_threads)
        build_index(settings, embedder)
        qa = load(settings, embedder=embedder, build=False)
        app.ensure_no_proxy()
        seen: dict[str, list[float]] = {k: [] for k in ("shown", "stage", "sources", "done", "lib_sources",
                                                        "lib_done")}
        stage_seen = 0
        with app.BackgroundServer(app.create_app(qa, settings)) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(server.url + "/")
            box = page.locator("#rc-question textarea")
            expect(box).to_be_visible(timeout=30_000)
            page.evaluate(OBSERVER)
            qa.ask(questions[0])  # warm caches
            for i, question in enumerate(questions):
                # In-process, the same path: to the Sources event and to the Answer.
                t0 = time.perf_counter()
                for event in qa.events(question):
                    if isinstance(event, Sources):
                        seen["lib_sources"].append((time.perf_counter() - t0) * 1000)
                    elif isinstance(event, Answer):
                        seen["lib_done"].append((time.perf_counter() - t0) * 1000)
                # In the browser. A fresh conversation each time: a follow-up would add a rewrite.
                if i:
                    page.locator('#rc-chat button[aria-label="Clear"]').click()
                box.fill(question)
                box.press("Enter")
                try:
                    page.wait_for_function("window.__rc.done !== null", timeout=20_000 if args.mode == "extractive" else 180_000)
                except Exception:
                    print(page.evaluate("JSON.stringify(window.__rc)"), page.locator("#rc-chat").inner_text()[:500])
                    raise
                r = page.evaluate("window.__rc")
                for key in ("shown", "stage", "sources", "done"):
                    if r[key] is not None:
                        seen[key].append(r[key] - r["t0"])
                stage_seen += r["stage"] is not None
                ms = {k: "-" if r[k] is None else f"{r[k] - r['t0']:.0f}" for k in ("shown", "stage", "sources", "done")}
                print(f"  {i + 1:>3}/{len(questions)}  shown {ms['shown']:>5} ms  stage {ms['stage']:>5} ms  "
                      f"sources {ms['sources']:>5} ms  answer {ms['done']:>5} ms")
                expect(box).to_be_enabled()
            browser.close()
        print()
        print(f"{len(questions)} questions, {args.mode}; medians (p95), milliseconds")
        labels = {"shown": "Enter → question shown", "stage": "Enter → first stage visible",
                  "sources": "Enter → sources visible", "done": "Enter → final answer",
                  "lib_sources": "qa.events → Sources (in process)", "lib_done": "qa.events → Answer (in process)"}
        for key, label in labels.items():
            xs = seen[key]
            if xs:
                print(f"  {label:<36} {median(xs):7.0f} ({percentile(xs, 95):.0f})   n={len(xs)}")
        print(f"  first stage painted in {stage_seen}/{len(questions)} answers (extractive stages last milliseconds)")
        if seen["sources"] and seen["lib_sources"]:
            print(f"  browser + queue + network add {median(seen['sources']) - median(seen['lib_sources']):.0f} ms "
                  "to the sources, "
                  f"{median(seen['done']) - median(seen['lib_done']):.0f} ms to the answer (difference of medians)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
