"""Check every QA file of the dev suite (bench/corpora/suite.json) against its documents.

    python bench/corpora/check_qa.py [suite.json] [--dump OUTDIR]

For each corpus: every QA row has the schema {"id", "question", "gold", "answers", "answerable", "kind",
"split"} (rows of a file the suite gives a default split for may omit "split"), ids are unique within the
corpus, answerable rows have a gold that occurs (whitespace-normalised, case-sensitive) in the text extracted
from at least one document, and every answer string occurs (normalised, case-insensitive) in that document.

Text is extracted here independently of ragchat's loader: plain files are read as UTF-8, HTML with lxml's
text_content() of the whole page, PDF page by page with pypdf (a gold must lie within one page).
--dump writes each extracted, normalised text to OUTDIR (for reading the documents while writing questions).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

KINDS = {"lexical", "paraphrase", "unanswerable", "offtopic"}
SPLITS = {"dev", "heldout"}
FIELDS = {"id", "question", "gold", "answers", "answerable", "kind", "split"}
SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}
HERE = Path(__file__).resolve().parent
DEFAULT_SUITE = HERE / "suite.json"


def normalise(text: str) -> str:
    """Collapse every run of whitespace to one space (and trim)."""
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class QAFile:
    path: Path
    split: str | None = None  # the split of rows that carry none


@dataclass
class Corpus:
    name: str
    docs: Path
    qa: list[QAFile] = field(default_factory=list)


def load_suite(path: Path = DEFAULT_SUITE) -> list[Corpus]:
    spec = json.loads(path.read_text(encoding="utf-8"))
    root = (path.parent / spec.get("root", ".")).resolve()
    corpora = []
    for c in spec["corpora"]:
        files = [QAFile(root / q["path"], q.get("split")) if isinstance(q, dict) else QAFile(root / q) for q in c["qa"]]
        corpora.append(Corpus(c["name"], root / c["docs"], files))
    return corpora


def read_rows(qa: QAFile) -> list[dict]:
    rows = []
    for line in qa.path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if qa.split and "split" not in row:
                row = {**row, "split": qa.split}
            rows.append(row)
    return rows


@lru_cache(maxsize=None)
def extract(path: Path) -> tuple[str, ...]:
    """The document's text as whitespace-normalised parts: one per PDF page, one for any other file."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        import pypdf

        return tuple(normalise(page.extract_text() or "") for page in pypdf.PdfReader(path).pages)
    if suffix in (".html", ".htm"):
        import lxml.html

        return (normalise(lxml.html.fromstring(path.read_bytes()).text_content()),)
    return (normalise(path.read_text(encoding="utf-8")),)


def documents(docs: Path) -> list[Path]:
    return sorted(p for p in docs.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(docs).parts))


def find_gold(gold: str, paths: list[Path]) -> list[Path]:
    """The documents one of whose parts contains the normalised gold."""
    g = normalise(gold)
    return [p for p in paths if any(g in part for part in extract(p))]


def find_gold_spaceless(gold: str, paths: list[Path]) -> list[Path]:
    """The PDFs one of whose pages contains the gold once all whitespace is removed on both sides: for PDFs
    whose extracted text lost its word spaces (see bench/corpora/debian-pdfs/SOURCE.md)."""
    g = re.sub(r"\s+", "", gold)
    return [p for p in paths if p.suffix.lower() == ".pdf"
            and any(g in re.sub(r"\s+", "", part) for part in extract(p))]


NOTES: list[str] = []  # golds accepted only space-insensitively


def check_rows(rows: list[dict], paths: list[Path], where: str) -> list[str]:
    errors = []
    for number, row in enumerate(rows, start=1):
        at = f"{where}:{number} ({row.get('id')})"
        missing = FIELDS - set(row)
        if missing:
            errors.append(f"{at}: missing {sorted(missing)}")
            continue
        if not isinstance(row["question"], str) or not row["question"].strip():
            errors.append(f"{at}: empty question")
        if row["kind"] not in KINDS:
            errors.append(f"{at}: kind {row['kind']!r} not in {sorted(KINDS)}")
        if row["split"] not in SPLITS:
            errors.append(f"{at}: split {row['split']!r} not in {sorted(SPLITS)}")
        if not isinstance(row["answers"], list) or not all(isinstance(a, str) and a.strip() for a in row["answers"]):
            errors.append(f"{at}: answers must be a list of non-empty strings")
            continue
        if row["answerable"] is not (row["kind"] in ("lexical", "paraphrase")):
            errors.append(f"{at}: answerable={row['answerable']} does not fit kind {row['kind']}")
        if not row["answerable"]:
            if row["gold"] is not None or row["answers"]:
                errors.append(f"{at}: unanswerable rows have gold null and answers []")
            continue
        if not isinstance(row["gold"], str) or not row["gold"].strip():
            errors.append(f"{at}: answerable rows need a gold string")
            continue
        if not 1 <= len(row["answers"]) <= 3:
            errors.append(f"{at}: answerable rows need 1-3 answers, got {len(row['answers'])}")
        found = find_gold(row["gold"], paths)
        spaceless = False
        if not found:
            found = find_gold_spaceless(row["gold"], paths)
            spaceless = bool(found)
        if not found:
            errors.append(f"{at}: gold not found in any document: {row['gold']!r}")
            continue
        if spaceless:
            NOTES.append(f"{at}: gold found in {found[0].name} only with whitespace removed")
        for answer in row["answers"]:
            a = normalise(answer).lower()
            texts = [" ".join(extract(p)).lower() for p in found]
            if not any(a in t for t in texts) and not (
                    spaceless and any(re.sub(r"\s+", "", a) in re.sub(r"\s+", "", t) for t in texts)):
                errors.append(f"{at}: answer {answer!r} not in the gold's document {found[0].name}")
    return errors


def check_corpus(corpus: Corpus) -> list[str]:
    paths = documents(corpus.docs)
    if not paths:
        return [f"{corpus.name}: no documents in {corpus.docs}"]
    errors, seen = [], set()
    for qa in corpus.qa:
        if not qa.path.exists():
            errors.append(f"{corpus.name}: QA file {qa.path} is missing")
            continue
        rows = read_rows(qa)
        for row in rows:
            if row.get("id") in seen:
                errors.append(f"{qa.path.name}: duplicate id {row.get('id')!r} in corpus {corpus.name}")
            seen.add(row.get("id"))
        errors += check_rows(rows, paths, f"{corpus.name}/{qa.path.name}")
    return errors


def summary(corpus: Corpus) -> str:
    rows = [r for qa in corpus.qa if qa.path.exists() for r in read_rows(qa)]
    count = lambda key: ", ".join(f"{k} {v}" for k, v in sorted(_tally(r[key] for r in rows).items()))  # noqa: E731
    return f"{corpus.name}: {len(rows)} questions ({count('split')}; {count('kind')})"


def _tally(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def main(argv: list[str]) -> int:
    args = list(argv)
    dump = None
    if "--dump" in args:
        i = args.index("--dump")
        dump = Path(args[i + 1])
        del args[i : i + 2]
    suite = Path(args[0]) if args else DEFAULT_SUITE
    corpora = load_suite(suite)
    if dump:
        for corpus in corpora:
            for p in documents(corpus.docs):
                out = dump / corpus.name / (p.name + ".txt")
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text("\n\n=== page break ===\n\n".join(extract(p)) + "\n", encoding="utf-8")
        print(f"wrote extracted texts under {dump}")
        return 0
    errors = []
    for corpus in corpora:
        errors += check_corpus(corpus)
        print(summary(corpus))
    for n in NOTES:
        print("space-insensitive " + n)
    for e in errors:
        print("FAIL " + e)
    print(f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
