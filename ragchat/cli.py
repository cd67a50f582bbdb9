"""Command line: `ragchat index | search | eval`. RagErrors become one-line messages and exit code 1."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

from .errors import RagError
from .schema import hit_json
from .settings import MODES, Settings

DEFAULT_QA = Path("tests/data/qa.jsonl")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
    try:
        settings = Settings.from_env(seeds_dir=args.seeds, index_dir=args.index)
        if getattr(args, "suite", None) is None:  # a suite names its own folders per corpus
            _say_folders(settings)
        return args.run(args, settings)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _say_folders(settings: Settings) -> None:
    """Relative folders are the working directory's: say which ones this run uses, before anything else."""
    where = settings.index_dir.resolve() if settings.store == "faiss" else f"milvus {settings.milvus_target}"
    print(f"ragchat: documents {settings.seeds_dir.resolve()}, index {where}, "
          f"embedder {settings.embedder}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragchat", description=__doc__)
    parser.add_argument("--seeds", type=Path,
                        help="documents folder (default: ./seeds of the working directory, or RAGCHAT_SEEDS_DIR)")
    parser.add_argument("--index", type=Path,
                        help="index folder (default: ./index of the working directory, or RAGCHAT_INDEX_DIR)")
    sub = parser.add_subparsers(required=True, metavar="command")

    p = sub.add_parser("index", help="build or update the index from the documents folder")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything instead of updating")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="embed through Ray Data: alone, on a Ray instance started here; with an address ('auto' "
                   "inside a cluster, or ray://host:10001), on that cluster")
    p.add_argument("--ray-actors", type=int, default=2, metavar="N", help="with --ray: embedders at once (default 2)")
    p.add_argument("--ray-threads", type=int, default=None, metavar="N",
                   help="with --ray: threads per embedder (default: RAGCHAT_TORCH_THREADS)")
    p.set_defaults(run=_cmd_index)

    p = sub.add_parser("search", help="show the passages retrieved for a question")
    p.add_argument("question", nargs="?", help="the question; with --json and none, read one per line on stdin")
    p.add_argument("-k", type=int, default=None, help="how many passages (default: RAGCHAT_TOP_K or 5)")
    p.add_argument("--json", action="store_true", help="print JSON (one object per line)")
    p.set_defaults(run=_cmd_search)

    p = sub.add_parser("ask", help="answer a question with cited passages")
    p.add_argument("question", nargs="?", help="the question; with --json and none, read one per line on stdin")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON (one object per line)")
    p.add_argument("--mode", choices=MODES, help="extractive, local or openai (default: RAGCHAT_MODE or auto)")
    p.add_argument("-k", type=int, default=None, help="passages to retrieve (default: RAGCHAT_TOP_K or 5)")
    p.set_defaults(run=_cmd_ask)

    p = sub.add_parser("eval", help="score retrieval and answers on a QA file, or on a suite of corpora")
    p.add_argument("qa", nargs="?", type=Path, default=DEFAULT_QA, help=f"QA .jsonl file (default: {DEFAULT_QA})")
    p.add_argument("--retrieval", action="store_true", help="retrieval metrics only")
    p.add_argument("--mode", action="append", choices=[m for m in MODES if m != "auto"],
                   help="answer mode to evaluate (repeatable; default: extractive)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for eval.json and eval.png (default: docs/eval); with --suite, the JSON file "
                   "(default: docs/eval/suite.json)")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.add_argument("--suite", type=Path, help="a suite file (bench/corpora/suite.json): score every corpus in it, "
                   "each with its own index under bench/out/index-<name>/")
    p.add_argument("--split", choices=["dev", "heldout", "all"], default="dev",
                   help="with --suite: which questions (default: dev)")
    p.add_argument("--corpus", action="append", metavar="NAME", help="with --suite: only this corpus (repeatable)")
    p.set_defaults(run=_cmd_eval)
    return parser


def _embedder(settings: Settings):
    from .embedding import load_embedder

    return load_embedder(settings.embedder, settings.torch_threads)


def _cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from .indexing import build_index

    embedder = _embedder(settings)
    if args.ray is not None:
        from .ray_embedding import RayOptions, ray_embedder, shutdown

        options = RayOptions(address=args.ray or None, actors=args.ray_actors,
                             threads=args.ray_threads or settings.torch_threads)
        embedder = ray_embedder(embedder, options)
        try:
            report = build_index(settings, embedder, rebuild=args.rebuild, progress=_progress_bar())
        finally:
            shutdown()
    else:
        report = build_index(settings, embedder, rebuild=args.rebuild, progress=_progress_bar())
    if report.kept:  # a server may serve a kept index; asked to index, an empty or missing folder is an error
        print(f"error: {report.kept}", file=sys.stderr)
        return 1
    for source, why in report.skipped:
        print(f"skipped: {why}", file=sys.stderr)
    print(report.summary())
    return 0


def _progress_bar() -> Callable[[int, int], None]:
    from tqdm import tqdm

    bar: list[tqdm] = []

    def update(done: int, total: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, unit="sentence", desc="embedding", file=sys.stderr, disable=total < 64))
        bar[0].update(done - bar[0].n)
        if done >= total:
            bar[0].close()

    return update


def _ensure_index(settings: Settings, embedder) -> None:
    """Build the index on first use so `search`/`ask` work on a fresh checkout."""
    from .indexing import build_index
    from .store import index_exists

    if not index_exists(settings):
        print(f"no index yet: building it from {settings.seeds_dir}/ ...", file=sys.stderr)
        print(build_index(settings, embedder, progress=_progress_bar()).summary(), file=sys.stderr)


def _ready(args: argparse.Namespace, settings: Settings):
    """The embedder, with the index built if missing; None (after saying why) when there is no question."""
    if args.question is None and not args.json:
        print("error: give a question, or use --json to read questions from stdin", file=sys.stderr)
        return None
    embedder = _embedder(settings)
    _ensure_index(settings, embedder)
    return embedder


def _questions(args: argparse.Namespace):
    """The question argument, or (with --json and none) each non-blank line of stdin, read as it comes."""
    if args.question is not None:
        yield args.question
        return
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


def _cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from .retrieval import open_retriever

    k = args.k or settings.top_k
    if k < 1:
        print(f"error: -k must be greater than 0, got {k}", file=sys.stderr)
        return 2
    embedder = _ready(args, settings)
    if embedder is None:
        return 2
    retriever = open_retriever(settings, embedder)
    for question in _questions(args):
        hits = retriever.search(question, k)
        if args.json:
            print(json.dumps({"question": question, "hits": [hit_json(h) for h in hits]}, ensure_ascii=False), flush=True)
        else:
            for h in hits:
                c = h.chunk
                print(f"[{h.rank}] {c.source}:{c.start}-{c.end}  score {h.score:.3f}")
                print("    " + " ".join(c.text.split())[:300])
    return 0


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from .qa import load
    from .schema import answer_json

    embedder = _ready(args, settings)
    if embedder is None:
        return 2
    qa = load(settings, embedder)
    status = 0
    for question in _questions(args):
        try:
            if args.json:
                answer = qa.ask(question, mode=args.mode, top_k=args.k)
                print(json.dumps(answer_json(answer), ensure_ascii=False), flush=True)
                continue
            answer = None
            for item in qa.ask_stream(question, mode=args.mode, top_k=args.k):
                if isinstance(item, str):
                    print(item, end="", flush=True)
                else:
                    answer = item
            print()
            _print_sources(answer)
        except RagError as e:  # in a batch one bad question must not stop the rest
            if args.question is not None:
                raise
            print(json.dumps({"question": question, "error": str(e)}, ensure_ascii=False), flush=True)
            status = 1
    return status


def _print_sources(answer) -> None:
    for warning in answer.warnings:
        print(f"note: {warning}", file=sys.stderr)
    if answer.unverified:
        print(f"unverified: {len(answer.unverified)} sentence(s) not supported by the passages they cite")
    for c in answer.citations:
        mark = "" if c.verified else "  (unverified)"
        print(f"[{c.n}] {c.source}:{c.start}-{c.end}{mark}\n    “{' '.join(c.quote.split())}”")


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from .evaluation import evaluate_retrieval, load_qa
    from .retrieval import open_retriever

    if args.suite is not None:
        from .evaluation import corpus_tables, evaluate_suite, load_suite, suite_json, summary_table

        suite = load_suite(args.suite)
        out = args.out or Path("docs/eval/suite.json")
        if out.suffix.lower() != ".json":
            out = out / "suite.json"
        modes = args.mode or ["extractive"]
        results = evaluate_suite(settings, _embedder(settings), suite, modes=modes, split=args.split,
                                 retrieval_only=args.retrieval, names=args.corpus,
                                 progress_factory=_progress_bar)
        report = suite_json(results, suite, args.split)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        if args.json:
            print(json.dumps(report, indent=2))
            return 0
        for r in results:
            print(corpus_tables(r) + "\n")
        print(f"summary ({args.split} split)")
        print(summary_table(results))
        print(f"\nwrote {out}")
        return 0
    if args.split != "dev" or args.corpus:
        print("error: --split and --corpus go with --suite", file=sys.stderr)
        return 2
    args.out = args.out or Path("docs/eval")
    items = load_qa(args.qa)
    embedder = _embedder(settings)
    _ensure_index(settings, embedder)
    retriever = open_retriever(settings, embedder)
    scores = [evaluate_retrieval(retriever, items, m) for m in ("dense", "keyword", "hybrid")]
    if args.json and args.retrieval:
        print(json.dumps([s.__dict__ for s in scores], indent=2))
        return 0
    if not args.json:
        print(f"retrieval on {args.qa} ({scores[0].questions} answerable questions)")
        print(f"{'retriever':<10} {'hit@1':>6} {'hit@5':>6} {'MRR':>6}")
        for s in scores:
            name = "BM25" if s.method == "keyword" else s.method
            print(f"{name:<10} {s.hit_at_1:>6.3f} {s.hit_at_5:>6.3f} {s.mrr:>6.3f}")
    if args.retrieval:
        return 0
    from .evaluation import evaluate_answers, write_chart
    from .qa import load

    qa = load(settings, embedder)
    answers = [evaluate_answers(qa, items, mode) for mode in (args.mode or ["extractive"])]
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"qa_file": str(args.qa), "retrieval": [s.__dict__ for s in scores],
              "answers": [{**a.row(), "failures": list(a.failures)} for a in answers]}
    (args.out / "eval.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write_chart(answers, args.out / "eval.png")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"\nanswers ({answers[0].answerable} answerable, {answers[0].unanswerable} unanswerable questions)")
    head = ("mode", "hit@5", "accuracy", "cit.prec", "cit.recall", "abstain", "false-abst", "median ms", "p95 ms")
    print("".join(f"{h:>11}" for h in head))
    for a in answers:
        values = (a.retrieval_hit_at_5, a.answer_accuracy, a.citation_precision, a.citation_recall,
                  a.abstention_accuracy, a.false_abstention)
        print(f"{a.mode:>11}" + "".join(f"{v:>11.3f}" for v in values) + f"{a.median_ms:>11.1f}{a.p95_ms:>11.1f}")
    print(f"\nwrote {args.out / 'eval.json'} and {args.out / 'eval.png'}")
    return 0
