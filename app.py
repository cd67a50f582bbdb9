"""Entry point of `make run`. Until the browser chat lands, it builds the index (incrementally) and answers one search."""

from __future__ import annotations

import sys

from ragchat import RagError, Settings, build_index, load_embedder, open_retriever

EXAMPLE = "When did Shoigu visit North Korea?"


def main() -> int:
    try:
        settings = Settings.from_env()
        embedder = load_embedder(settings.embedder, settings.torch_threads)
        print(build_index(settings, embedder).summary())
        question = " ".join(sys.argv[1:]) or EXAMPLE
        print(f"\n{question}")
        for hit in open_retriever(settings, embedder).search(question, settings.top_k):
            c = hit.chunk
            print(f"[{hit.rank}] {c.source}:{c.start}-{c.end} score {hit.score:.3f}\n    {' '.join(c.text.split())[:240]}")
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
