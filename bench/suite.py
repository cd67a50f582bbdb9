"""The dev suite (bench/corpora/suite.json): what `ragchat eval --suite` prints, plus a markdown table for
docs/BENCHMARKS.md in bench/out/suite.md.

    .venv/bin/python bench/suite.py [--split dev|heldout|all] [--mode extractive ...] [--corpus NAME ...] [--retrieval]

Each corpus gets its own index in bench/out/index-<name>/ (built incrementally, the user's RAGCHAT_* settings
otherwise); the embedder is loaded once for the whole suite.
"""

from __future__ import annotations

from _common import OUT, ROOT, code_note, machine_note  # noqa: I001 (sets up paths and offline env first)

import argparse
import json
from pathlib import Path

from ragchat import Settings, load_embedder
from ragchat.evaluation import (
    SPLITS,
    corpus_tables,
    evaluate_suite,
    load_suite,
    suite_json,
    summary_markdown,
    summary_table,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", type=Path, default=ROOT / "bench" / "corpora" / "suite.json")
    parser.add_argument("--split", choices=SPLITS, default="dev")
    parser.add_argument("--mode", action="append", choices=["extractive", "local", "openai"])
    parser.add_argument("--corpus", action="append", metavar="NAME")
    parser.add_argument("--retrieval", action="store_true", help="retrieval metrics only")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "eval" / "suite.json", help="the JSON report")
    parser.add_argument("--md", type=Path, default=OUT / "suite.md", help="the markdown table")
    args = parser.parse_args()

    settings = Settings.from_env()
    suite = load_suite(args.suite)
    embedder = load_embedder(settings.embedder, settings.torch_threads)
    results = evaluate_suite(settings, embedder, suite, modes=args.mode or ["extractive"], split=args.split,
                             retrieval_only=args.retrieval, names=args.corpus)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(suite_json(results, suite, args.split), indent=2) + "\n", encoding="utf-8")
    for r in results:
        print(corpus_tables(r) + "\n")
    print(f"summary ({args.split} split)")
    print(summary_table(results))

    lines = [f"### Dev suite, {args.split} split", "", summary_markdown(results), "",
             "Per corpus: retrieval (hit@1 / hit@5 / MRR) by retriever, and questions right (or declined) by kind.", ""]
    for r in results:
        retrieval = "; ".join(f"{'BM25' if s.method == 'keyword' else s.method} {s.hit_at_1:.2f} / {s.hit_at_5:.2f} / "
                              f"{s.mrr:.2f}" for s in r.retrieval)
        lines.append(f"- **{r.name}** ({r.questions} questions, {r.documents} documents, {r.chunks} chunks): {retrieval}")
        for a in r.answers:
            kinds = ", ".join(f"{k} {v['correct']}/{v['questions']}" for k, v in sorted(a.by_kind.items()))
            lines.append(f"  - {a.mode}: {kinds}")
    lines += ["", f"<sub>{machine_note()}; {code_note()}</sub>", ""]
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text("\n".join(lines), encoding="utf-8")
    print(f"\nwrote {args.out} and {args.md}")


if __name__ == "__main__":
    main()
