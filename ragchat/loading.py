"""Files → Documents. Knows formats and encodings; nothing about chunks or vectors.

A Document's text is what a reader sees, and every offset in the index points into it: plain text keeps the
file's own characters (line endings included), HTML keeps the text a browser would show, PDF keeps each
page's extracted text with the page's start offset.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import DocumentError, SeedsError
from . import formats
from .language import detect
from .settings import Settings
from .types import Block, Document

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES


@dataclass(frozen=True)
class Limits:
    """What reading one file may cost (RAGCHAT_MAX_FILE_BYTES, _MAX_PDF_PAGES, _PARSE_SECONDS); what a file
    inflates to is bounded by the reader process's memory cap (reader.py)."""

    file_bytes: int = Settings.max_file_bytes
    pdf_pages: int = Settings.max_pdf_pages
    parse_seconds: float = Settings.parse_seconds

    @classmethod
    def of(cls, settings: Settings) -> "Limits":
        return cls(settings.max_file_bytes, settings.max_pdf_pages, settings.parse_seconds)


def discover(seeds_dir: Path) -> list[Path]:
    """The indexable files under seeds_dir, sorted; hidden files and unknown suffixes are ignored."""
    if not seeds_dir.exists():
        raise SeedsError(
            f"documents folder {seeds_dir} does not exist: create it and put .txt, .md, .html or .pdf files in it "
            "(or set RAGCHAT_SEEDS_DIR)"
        )
    if not seeds_dir.is_dir():
        raise SeedsError(f"{seeds_dir} is not a folder: point RAGCHAT_SEEDS_DIR at the folder holding your documents")
    files = sorted(
        p
        for p in seeds_dir.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(seeds_dir).parts)
    )
    if not files:
        raise SeedsError(
            f"documents folder {seeds_dir} has no .txt, .md, .html or .pdf files: add some documents, then run "
            "`ragchat index`"
        )
    return files


def source_name(path: Path, seeds_dir: Path) -> str:
    return path.relative_to(seeds_dir).as_posix()


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def load_file(path: Path, source: str, limits: Limits | None = None) -> Document:
    """Read one file within limits, in the reader process (reader.py): whatever the file holds, the result is a
    Document or a DocumentError naming the file and why (too large, too slow, damaged)."""
    from . import reader

    limits = limits or Limits()
    if path.is_symlink():
        raise DocumentError(f"{source}: is a symbolic link, which is not followed: copy the file itself into the folder")
    try:
        with path.open("rb") as f:
            data = f.read(limits.file_bytes + 1)  # never more than the limit into memory, even if the file grows
    except OSError as e:
        raise DocumentError(f"{source}: cannot be read ({e.strerror}): check its permissions") from None
    _check_size(data, source, limits)
    return reader.shared().parse(data, source, path.suffix.lower(), limits)


def _check_size(data: bytes, source: str, limits: Limits) -> None:
    if len(data) > limits.file_bytes:
        raise DocumentError(
            f"{source}: is larger than the {_mb(limits.file_bytes)} limit for one file: split it, or raise "
            "RAGCHAT_MAX_FILE_BYTES"
        )


def _mb(n: int) -> str:
    return f"{n / 1e6:g} MB"


# Bumped whenever a format's text or blocks come out differently for the same bytes, so that indexes built by
# an older reader re-read their files on the next `ragchat index` (their unchanged sentences keep their
# vectors; chunking changes ride on it too, since re-reading re-chunks). 1: PDF table rows inside paragraphs,
# and their header line no longer taken for a heading. 2: table-of-contents lines (PDF, text) are not indexed,
# and a heading with no text of its own joins the chunk below it. 3: section numbers set heading levels (PDF, text).
# 4: PDF titles from the metadata or cover, chapter headings joined to their titles, one-page sections' running
# footers left out, a paragraph's short first line no longer a heading. 5: HTML inside Markdown read (table rows,
# paragraphs), and a unit holding HTML embedded as its words without tags. 6: an HTML table whose cells hold
# paragraphs of several sentences is layout (DocBook notes), its paragraphs read as paragraphs. 7: plain text's
# opening lines as its title, numbered section lines and ===/--- underlined lines as headings. 8: Markdown front
# matter (YAML, TOML) is metadata: its title names the document, nothing of it is indexed; MediaWiki's "[edit]"
# links after headings are chrome; two <br> in a row end an HTML paragraph, and one parts words in a cell; paged
# plain text's running headers and footers are not indexed. 9: plain text's numbered paragraphs that open with
# their section's title ("2. Waiver. To the …") and headings set in capitals over two or three lines head their
# sections. 10: PDFs are read with their fonts: headings are the lines set apart (larger or bold, over as many
# lines as they wrap), code is what is set in a monospaced font, and prose whose lines end in a footnote's mark is
# not a table. 11: an HTML definition list's terms head the blocks of their definitions (as a header row heads a
# table's rows); links between pages (rel="next", "prev", "up") and permalink marks ("¶") are chrome. 12: a PDF
# page's top and bottom rows set off in its margins (running headers, page numbers) are left out of its text, a
# paragraph goes on across a page break, a font's name says its weight, TeX's ligature codes are letters, lines
# wrapped at a width are prose and a table's rows have a gap between columns. 13: Doxygen's masthead and the line
# numbers of code listings are chrome. 14: so are Doxygen's tooltips (hidden copies of documentation).
READER_VERSION = 14


def parse(data: bytes, source: str, suffix: str, limits: Limits | None = None) -> Document:
    """A file's bytes → Document (text, structure, language), in this process. Raises DocumentError for unusable
    content or content over the limits; a damaged PDF may still make pypdf raise anything or run for long,
    which is why indexing reads files through load_file."""
    limits = limits or Limits()
    _check_size(data, source, limits)
    sha = hashlib.sha256(data).hexdigest()
    pages: tuple[tuple[int, int], ...] = ()
    if suffix in PDF_SUFFIXES:
        text, blocks, pages, title = _pdf(data, source, limits)
    else:
        decoded = decode_text(data, source)
        if suffix in HTML_SUFFIXES:
            text, blocks, title = formats.html(decoded)
        elif suffix in MARKDOWN_SUFFIXES:
            text, blocks, title = formats.markdown(decoded)
        else:
            text, blocks, title = formats.plain(decoded)
    if not text.strip() or not blocks:
        raise DocumentError(f"{source}: has no text to index: add content to it or remove it from the folder")
    title = title or next((text[b.start : b.end] for b in blocks if b.kind == "heading"), "") or Path(source).stem
    language = detect(" ".join(text[b.start : b.end] for b in blocks[:200])).code
    return Document(source=source, text=text, sha256=sha, pages=pages, title=" ".join(title.split())[:200],
                    blocks=blocks, language=language, reader=READER_VERSION)


def load_folder(seeds_dir: Path, limits: Limits | None = None) -> Iterator[Document | DocumentError]:
    """Every document in the folder; unreadable files come back as errors so one bad file stops nothing."""
    for path in discover(seeds_dir):
        source = source_name(path, seeds_dir)
        try:
            yield load_file(path, source, limits)
        except DocumentError as e:
            yield e


def decode_text(data: bytes, source: str) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentError(f"{source}: looks like a binary file, not text: remove it or convert it to .txt/.pdf")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    best = matches[0] if matches else None
    # Short texts decode cleanly in several single-byte code pages; among equally clean candidates prefer
    # the ones most files actually use, instead of whichever (cp775, cp1257) the detector lists first.
    for preferred in _COMMON_ENCODINGS:
        clean = [m for m in matches if m.encoding == preferred and best is not None and m.chaos <= best.chaos]
        if clean:
            best = clean[0]
            break
    if best is None:
        raise DocumentError(
            f"{source}: is not UTF-8 and its encoding could not be detected: re-save it as UTF-8"
        )
    log.info("%s: decoded as %s", source, best.encoding)
    return str(best)


def _reason(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__


_COMMON_ENCODINGS = ("cp1252", "latin_1", "iso8859_15", "cp1251", "shift_jis", "gb18030", "euc_kr", "utf_16")

def pdf_pages(data: bytes, source: str, max_pages: int) -> tuple[list[str], list[list[formats.LineStyle | None]],
                                                                 list[list[float | None]], str]:
    """Each page's text, its lines' styles and baselines (points from the page's foot), by PDFium (Chrome's PDF
    engine, through pypdfium2), and the title its metadata gives.

    PDFium puts spaces where the layout has gaps: pypdf ran the words of XeTeX PDFs together
    ("TheDebianProjectwascreatedbyIanMurdock", 8 of the dev suite's PDF golds unmatchable), and took ~25x
    longer (73 pages: 0.2 s against 5 s). A word hyphenated at a line end comes marked with U+FFFE and
    is joined, so "docu-/mentation" is found as "documentation"."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        if len(document) > max_pages:
            raise DocumentError(
                f"{source}: has {len(document):,} pages, over the limit of {max_pages:,}: split it, or raise "
                "RAGCHAT_MAX_PDF_PAGES"
            )
        texts, styles, baselines = [], [], []
        for i in range(len(document)):
            page = document[i]
            textpage = page.get_textpage()
            raw = textpage.get_text_range()
            page_styles, page_baselines = _line_styles(textpage, raw)
            styles.append(page_styles)
            baselines.append(page_baselines)
            texts.append(raw.replace("\ufffe", "").replace("\r\n", "\n").replace("\r", "\n").translate(_TEX_CODES))
            textpage.close()
            page.close()
        return texts, styles, baselines, _metadata_title(document)
    finally:
        document.close()


_BREAK = re.compile(r"\r\n|\r|\n")
# TeX's fonts without a Unicode map come through as their raw codes, which fall among the control characters:
# "coe\x1ecients" was not found as "coefficients". Ligatures stand at 0x0B-0x0F in TeX's OT1 encoding and at
# 0x1B-0x1F in T1 (Cork), whose quotes and dashes below them are also read; the other low codes are accents
# (or one encoding's letter and the other's accent) and are left as they are.
_TEX_CODES = str.maketrans({
    **{chr(base + i): ligature for base in (0x0B, 0x1B)
       for i, ligature in enumerate(("ff", "fi", "fl", "ffi", "ffl"))},
    "\x10": "\u201c", "\x11": "\u201d", "\x15": "\u2013", "\x16": "\u2014", "\x17": "",
})
# Monospaced families by name: PDFs seldom set the descriptor's fixed-pitch flag (LaTeX's cmtt/t1xtt, Courier,
# Nimbus Mono, DejaVu Sans Mono, Consolas, Menlo, Source Code Pro; not Monotype's foundry name).
_MONO_FONT = re.compile(r"mono(?!type)|courier|consol|menlo|typewriter|fixed|code|nimbusmon|(?:cm|sf|lm|tx|t1x|ec)tt|^tt")
_BOLD_FONT = re.compile(r"bold|black|heavy|demi|^(?:cm|sf)(?:ss)?bx?\d")  # TeX's cmbx10, cmssbx10, sfbx1200
# A font whose name says it is of regular weight is not bold whatever weight PDFium reports: PDFium estimates the
# weight of Type 1 fonts from their stems, and gives Latin Modern's body font (LMRoman10-Regular) 744.
_REGULAR_FONT = re.compile(r"regular|roman|book|light|medium|italic|oblique|slant|^(?:cm|sf|lm)")
_CAPS_FONT = re.compile(r"csc\d|caps|smallcap")  # TeX's cmcsc10, Latin Modern's LMRomanCaps10, "…-SmallCaps"
_SAMPLES = 8  # characters a line's style is read from, spread over it: a bold lead-in word is not a bold line


def _line_styles(textpage, raw: str) -> tuple[list[formats.LineStyle | None], list[float | None]]:
    """The style of each line of the page's text (split at its line breaks): its characters' median font size,
    whether every sampled character is bold, or monospaced, whether its sampled letters are in small capitals, and
    whether it has a gap between columns; and its baseline, the median of its sampled characters' origins (None
    for a line with no character PDFium places)."""
    import ctypes
    import pypdfium2.raw as pdfium_c

    units = None  # text indices count UTF-16 units, str indices code points: the map, when they differ
    if any(ord(c) > 0xFFFF for c in raw):
        units = [0]
        for c in raw:
            units.append(units[-1] + (2 if ord(c) > 0xFFFF else 1))
    name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    out: list[formats.LineStyle | None] = []
    baselines: list[float | None] = []
    x, y = ctypes.c_double(), ctypes.c_double()
    bounds, start = [], 0
    for m in _BREAK.finditer(raw):
        bounds.append((start, m.start()))
        start = m.end()
    bounds.append((start, len(raw)))
    for first, stop in bounds:
        positions = [p for p in range(first, stop) if not raw[p].isspace() and raw[p] != "\ufffe"]
        gapped = _column_gap(textpage, raw, first, stop, units)
        if len(positions) > _SAMPLES:
            positions = [positions[k * (len(positions) - 1) // (_SAMPLES - 1)] for k in range(_SAMPLES)]
        sizes, bold, mono, caps, letters, ys = [], True, True, True, 0, []
        for p in positions:
            char = pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage, units[p] if units else p)
            if char < 0:
                continue
            sizes.append(pdfium_c.FPDFText_GetFontSize(textpage, char))
            if pdfium_c.FPDFText_GetCharOrigin(textpage, char, ctypes.byref(x), ctypes.byref(y)):
                ys.append(y.value)
            fits = pdfium_c.FPDFText_GetFontInfo(textpage, char, name, len(name), ctypes.byref(flags)) <= len(name)
            font = name.value.decode("latin-1").rpartition("+")[2].lower() if fits else ""  # "PPSGID+CharisSIL-Bold"
            bold = bold and _is_bold(font, pdfium_c.FPDFText_GetFontWeight(textpage, char))
            mono = mono and (bool(flags.value & 1) or bool(_MONO_FONT.search(font)))
            if raw[p].isalpha():  # its letters: "1. A Simple Example" is set in small capitals, its number is not
                letters += 1
                caps = caps and bool(_CAPS_FONT.search(font))
        out.append(formats.LineStyle(round(sorted(sizes)[len(sizes) // 2], 1), bold, mono, caps and letters > 0, gapped)
                   if sizes else None)
        baselines.append(sorted(ys)[len(ys) // 2] if ys else None)
    return out, baselines


_COLUMN_GAP = 2.5  # mean character advances: a word space is about one, a justified line's at most about two


def _column_gap(textpage, raw: str, first: int, stop: int, units: list[int] | None) -> bool:
    """Whether the line raw[first:stop] has a gap between two of its words wider than words are set apart: the
    space between a table's columns ("csh" … "The C shell (optional)": 40 character widths), which the text gives
    as one space. Measured at the line's spaces only, against the line's mean advance per character."""
    import ctypes
    import pypdfium2.raw as pdfium_c

    left, right, bottom, top = (ctypes.c_double() for _ in range(4))

    def box(p: int) -> tuple[float, float] | None:
        char = pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage, units[p] if units else p)
        if char >= 0 and pdfium_c.FPDFText_GetCharBox(textpage, char, ctypes.byref(left), ctypes.byref(right),
                                                       ctypes.byref(bottom), ctypes.byref(top)):
            return left.value, right.value
        return None

    spaces = [m for m in _SPACES.finditer(raw, first, stop) if first < m.start() and m.end() < stop]
    ends = (box(first), box(stop - 1)) if spaces else (None, None)
    if ends[0] is None or ends[1] is None or ends[1][1] <= ends[0][0]:
        return False
    advance = (ends[1][1] - ends[0][0]) / (stop - first)
    for m in spaces:
        before, after = box(m.start() - 1), box(m.end())
        if before and after and after[0] - before[1] > _COLUMN_GAP * advance:
            return True
    return False


_SPACES = re.compile(r"[ \t]+")
_WORD = re.compile(r"[^\W_]+")


def _is_bold(font: str, weight: int) -> bool:
    """A font's name says its weight when it names one; PDFium's weight decides only for names that do not."""
    return bool(_BOLD_FONT.search(font)) or (not _REGULAR_FONT.search(font) and weight >= 600)


def _metadata_title(document) -> str:
    try:
        return " ".join(str(document.get_metadata_dict().get("Title") or "").split())
    except Exception:  # damaged metadata takes the title away, not the text
        return ""


def _pdf(data: bytes, source: str, limits: Limits) -> tuple[str, tuple[Block, ...], tuple[tuple[int, int], ...], str]:
    # PDFium has no decompression caps of its own: an inflate bomb is bounded by the reader process's memory
    # cap and time budget (reader.py), which is where every file is parsed.
    try:
        page_texts, styles, baselines, title = pdf_pages(data, source, limits.pdf_pages)
    except DocumentError:
        raise
    except Exception as e:  # PDFium reports a damaged file as PdfiumError; anything else is as unusable
        raise DocumentError(f"{source}: is not a readable PDF ({_reason(e)}): re-export it or remove it") from None
    if page_texts and not any(t.strip() for t in page_texts):  # pages without text are images: a scan
        raise DocumentError(f"{source}: its {len(page_texts):,} page(s) hold no text, only images (a scan?): run "
                            "OCR on it first (e.g. ocrmypdf), or remove it from the folder")
    repeated = formats.repeated_lines(page_texts)
    typography = formats.Typography.of(list(zip(page_texts, styles)))
    margins = formats.margin_lines(baselines, styles, typography, page_texts)
    text, blocks, starts = formats.pdf_document(list(zip(page_texts, styles, margins)), repeated, typography)
    pages = [(number, start) for number, start in enumerate(starts, start=1)]
    # The first heading found is often a subtitle ("Release 12.18"): the title is also the running header, left
    # out as such. The metadata's title when the cover shows it (tools write "Microsoft Word - draft3.docx"
    # there), else the cover's first line.
    cover = page_texts[0] if page_texts else ""
    if not title or not set(_WORD.findall(title.lower())) <= set(_WORD.findall(cover.lower())):
        first = next((line.strip() for line in cover.split("\n") if line.strip()), "")
        title = first if 0 < len(first.split()) <= 15 else ""
    return text, tuple(formats.numbered_levels(blocks, text)), tuple(pages), title
