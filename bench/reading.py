"""What reading files in the reader process costs, side by side with reading them in this process.

  in-process   loading.parse(bytes) here, as before the reader existed
  reader       loading.load_file: the bytes to the child process, the Document back (the child already running)
  first start  starting the child (imports), paid once per process and after each kill

    .venv/bin/python bench/reading.py [--repeat 5] [corpus folders...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("folders", nargs="*", type=Path,
                        default=[ROOT / "seeds", ROOT / "bench/corpora/debian-pdfs/docs",
                                 ROOT / "bench/corpora/debian-handbook/docs"])
    args = parser.parse_args()

    from ragchat import reader
    from ragchat.loading import discover, load_file, parse, source_name

    started = time.perf_counter()
    reader.shared()._ensure_started()
    print(f"reader start: {time.perf_counter() - started:.2f} s")
    print(f"{'corpus':<16} {'files':>5} {'MB':>6} {'in-process s':>13} {'reader s':>9} {'ratio':>6}")
    for folder in args.folders:
        paths = discover(folder)
        size = sum(p.stat().st_size for p in paths) / 1e6
        # Each file read both ways back to back, and the fastest of the repeats kept: on a shared machine the
        # slow runs measure the neighbours, the fastest one the work.
        inproc, guarded = [], []
        for _ in range(args.repeat):
            x = y = 0.0
            for p in paths:
                t = time.perf_counter()
                a = parse(p.read_bytes(), source_name(p, folder), p.suffix.lower())
                x += time.perf_counter() - t
                t = time.perf_counter()
                b = load_file(p, source_name(p, folder))
                y += time.perf_counter() - t
                assert a == b  # the same Document either way
            inproc.append(x)
            guarded.append(y)
        x, y = min(inproc), min(guarded)
        name = folder.parent.name if folder.name == "docs" else folder.name
        print(f"{name:<16} {len(paths):>5} {size:>6.2f} {x:>13.3f} {y:>9.3f} {y / x:>6.2f}")
    print(f"children started: {reader.shared().started}")


if __name__ == "__main__":
    main()
