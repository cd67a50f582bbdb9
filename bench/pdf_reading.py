"""PDF reading: ragchat's `loading.parse` (PDFium's text, each line's fonts, baseline and column gaps, margins,
blocks) vs the bare minimum, PDFium's text of every page and nothing else, on the same files.

Files: every PDF of the dev suite (bench/corpora/*/docs/*.pdf, ~380 pages). Each round reads every file with
both contenders, in a fresh shuffled order, in this process (`parse`, not the reader child process that
`load_file` uses, whose start-up would be measured too). Reports the median time per round of each and their
ratio: what reading a PDF's structure costs over extracting its text. Embedding the same pages' units takes
tens of seconds, so this is a small share of indexing; the ratio shows whether it grows.

    .venv/bin/python bench/pdf_reading.py            # 7 rounds
    .venv/bin/python bench/pdf_reading.py --quick    # 2 rounds
"""

from __future__ import annotations

import argparse
import statistics

import _common as C

from ragchat.loading import Limits, parse


def bare_text(data: bytes) -> None:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        for i in range(len(document)):
            page = document[i]
            textpage = page.get_textpage()
            textpage.get_text_range()
            textpage.close()
            page.close()
    finally:
        document.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds")
    ap.add_argument("--rounds", type=int, help="rounds (default 7; quick 2)")
    args = ap.parse_args()
    rounds = args.rounds or (2 if args.quick else 7)
    files = sorted((C.ROOT / "bench" / "corpora").glob("*/docs/*.pdf"))
    data = [(f.name, f.read_bytes()) for f in files]
    limits = Limits()
    pages = sum(len(parse(d, name, ".pdf", limits).pages) for name, d in data)  # also warms both up
    print(C.machine_note(), C.code_note(), sep="\n")
    print(f"{len(files)} PDFs, {pages} pages; {rounds} rounds")

    def ragchat() -> None:
        for name, d in data:
            parse(d, name, ".pdf", limits)

    def bare() -> None:
        for _, d in data:
            bare_text(d)

    times = C.interleaved({"ragchat": ragchat, "pdfium text": bare}, rounds, log=lambda *_: None)
    ours, raw = statistics.median(times["ragchat"]), statistics.median(times["pdfium text"])
    ratios = [a / b for a, b in zip(times["ragchat"], times["pdfium text"])]
    print(f"ragchat parse: {ours:.2f} s per round ({1000 * ours / pages:.1f} ms/page)")
    print(f"pdfium text:   {raw:.2f} s per round ({1000 * raw / pages:.1f} ms/page)")
    print(f"ratio ragchat / pdfium text: {ours / raw:.2f} (median of per-round ratios {statistics.median(ratios):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
