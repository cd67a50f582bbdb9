"""Files → Documents. Knows formats and encodings; nothing about chunks or vectors.

A Document's text is what a reader sees, and every offset in the index points into it: plain text keeps the
file's own characters (line endings included), HTML keeps the text a browser would show, PDF keeps each
page's extracted text with the page's start offset.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

from .errors import DocumentError, SeedsError
from .types import Document

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES


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
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_file(path: Path, source: str) -> Document:
    """Read one file. Raises DocumentError (naming the file) when it cannot be read as a document."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DocumentError(f"{source}: cannot be read ({e.strerror}): check its permissions") from None
    sha = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    pages: tuple[tuple[int, int], ...] = ()
    if suffix in PDF_SUFFIXES:
        text, pages = _pdf_text(data, source)
    else:
        text = decode_text(data, source)
        if suffix in HTML_SUFFIXES:
            text = html_to_text(text)
    if not text.strip():
        raise DocumentError(f"{source}: has no text to index: add content to it or remove it from the folder")
    return Document(source=source, text=text, sha256=sha, pages=pages)


def load_folder(seeds_dir: Path) -> Iterator[Document | DocumentError]:
    """Every document in the folder; unreadable files come back as errors so one bad file stops nothing."""
    for path in discover(seeds_dir):
        source = source_name(path, seeds_dir)
        try:
            yield load_file(path, source)
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


_COMMON_ENCODINGS = ("cp1252", "latin_1", "iso8859_15", "cp1251", "shift_jis", "gb18030", "euc_kr", "utf_16")

_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer", "h1", "h2", "h3",
    "h4", "h5", "h6", "blockquote", "pre", "hr", "title", "dd", "dt", "figcaption", "main", "aside", "nav",
}
_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._title: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP_TAGS:
            self._skip += 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP_TAGS and self._skip:
            self._skip -= 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        elif not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML page: block elements become paragraph breaks, scripts and styles vanish."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    body = "".join(parser.parts)
    body = re.sub(r"[ \t\r\f\v]*\n[ \t\r\f\v\n]*\n[ \t\r\f\v]*", "\n\n", body)
    body = re.sub(r"[ \t\r\f\v]+", " ", body)
    title = " ".join("".join(parser._title).split())
    text = body.strip()
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}"
    return text


def _pdf_text(data: bytes, source: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        page_texts = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as e:
        raise DocumentError(f"{source}: is not a readable PDF ({e}): re-export it or remove it") from None
    parts: list[str] = []
    pages: list[tuple[int, int]] = []
    offset = 0
    for number, page_text in enumerate(page_texts, start=1):
        if parts:
            parts.append("\n\n")
            offset += 2
        pages.append((number, offset))
        parts.append(page_text)
        offset += len(page_text)
    return "".join(parts), tuple(pages)
