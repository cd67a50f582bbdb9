"""What the browser chat shows, as HTML strings: an Answer with clickable [n] references, the sources panel,
and a document with cited spans highlighted. Plus saving uploaded files into the documents folder.

No Gradio here (app.py wires these into Blocks), so every function is a plain str → str that tests can call.
Every piece of document or answer text goes through html.escape: an uploaded HTML file is shown as text.

Links use fragment hrefs that app.py's click handler intercepts (Gradio's chat sanitiser keeps href and class):
    #cite-<aid>-<n>   a reference [n] in the answer <aid>: select its source card and show it in its document
    #doc-<aid>-<n>    "view in document" for the same citation
"""

from __future__ import annotations

import html
import os
import re
import threading
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence

from .citations import MARKER
from .errors import DocumentError
from .loading import SUPPORTED_SUFFIXES, file_sha256, load_file
from .types import Answer, Citation, Document

PASSAGE_CONTEXT = 240  # at most this many characters of the passage are shown on each side of the quote
MAX_NAME = 80

_BLANK_LINES = re.compile(r"\n[ \t]*\n[\s]*")


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def span_label(start: int, end: int) -> str:
    return f"chars {start:,}–{end:,}"


# --- the chat message ----------------------------------------------------------------------------------


def answer_html(answer: Answer, aid: str) -> str:
    """The assistant's message: the answer with [n] as links, unverified sentences flagged, abstention badged.

    One <div> with no blank line inside, so the chat's Markdown renderer passes it through as HTML.
    """
    if not answer.answerable:
        body = (f'<div class="rc-abstain"><span class="rc-badge rc-badge-muted">Not in the documents</span>'
                f'<p>{_text(answer.answer)}</p></div>')
        return f'<div class="rc-answer" data-aid="{aid}">{body}{_notes(answer)}</div>'
    by_n = {c.n: c for c in answer.citations}
    pieces = []
    segments, lost = _unverified_segments(answer.answer.strip(), answer.unverified)
    for text, unverified in segments:
        rendered = _with_refs(_lines(text), by_n, aid)  # not stripped: the spaces between segments stay
        if unverified:
            rendered = _flag(rendered)
        pieces.append(rendered)
    if lost:  # never let an unsupported sentence pass unmarked because it could not be located in the text
        pieces.append('<span class="rc-note rc-note-warn">Not supported by the passages: '
                      + " ".join(_flag(_text(s)) for s in lost) + "</span>")
    return f'<div class="rc-answer" data-aid="{aid}"><p>{"".join(pieces)}</p>{_notes(answer)}</div>'


def _flag(rendered: str) -> str:
    return (f'<span class="rc-unverified" title="Not supported by the passage it cites">{rendered}'
            f'<span class="rc-badge rc-badge-warn">unverified</span></span>')


def streaming_html(text: str) -> str:
    """A partial answer while it is generated: plain text and a cursor; references arrive with the final answer."""
    return f'<div class="rc-answer rc-streaming"><p>{_text(text)}<span class="rc-cursor"></span></p></div>'


def pending_html() -> str:
    return ('<div class="rc-answer rc-streaming"><p class="rc-muted">Searching the documents…'
            '<span class="rc-cursor"></span></p></div>')


def error_html(message: str) -> str:
    return (f'<div class="rc-answer"><div class="rc-error"><strong>Could not answer:</strong> {_text(message)}'
            "</div></div>")


def _notes(answer: Answer) -> str:
    parts = []
    for warning in answer.warnings:
        parts.append(f'<div class="rc-note rc-note-warn">{_text(warning)}</div>')
    meta = [answer.mode]
    if answer.citations:
        meta.append(f"{len(answer.citations)} source{'s' if len(answer.citations) != 1 else ''}")
    if "total" in answer.timings_ms:
        meta.append(f"{answer.timings_ms['total'] / 1000:.1f} s" if answer.timings_ms["total"] >= 1000
                    else f"{answer.timings_ms['total']:.0f} ms")
    if answer.standalone_question:
        meta.append(f"searched for “{_text(answer.standalone_question)}”")
    parts.append(f'<div class="rc-meta">{" · ".join(meta)}</div>')
    return "".join(parts)


def _text(text: str) -> str:
    return _lines(text.strip())


def _lines(text: str) -> str:
    """Escaped text with line breaks kept and no blank line (which would end the chat's HTML block)."""
    return esc(text).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def _with_refs(escaped: str, by_n: dict[int, Citation], aid: str) -> str:
    def link(m: re.Match) -> str:
        c = by_n.get(int(m.group(1)))
        if c is None:
            return m.group(0)
        title = esc(f"{c.source}, {span_label(c.start, c.end)}")
        return f'<a class="rc-ref" href="#cite-{aid}-{c.n}" title="{title}">[{c.n}]</a>'

    return MARKER.sub(link, escaped)


def _unverified_segments(text: str, unverified: Sequence[str]) -> tuple[list[tuple[str, bool]], list[str]]:
    """Split the answer into (text, is_unverified) runs, each unverified sentence found in order; and the
    unverified sentences that could not be found in the text."""
    spans: list[tuple[int, int]] = []
    lost: list[str] = []
    position = 0
    for sentence in unverified:
        sentence = sentence.strip()
        if not sentence:
            continue
        at = text.find(sentence, position)
        if at < 0:
            at = text.find(sentence)
        if at < 0 or any(a < at + len(sentence) and at < b for a, b in spans):
            lost.append(sentence)
            continue
        end = at + len(sentence)
        tail = MARKER.match(text, end + 1) if text[end : end + 1] == " " else None  # keep its [n] inside the flag
        while tail:
            end = tail.end()
            tail = MARKER.match(text, end)
        spans.append((at, end))
        position = end
    out, cursor = [], 0
    for a, b in sorted(spans):
        if a > cursor:
            out.append((text[cursor:a], False))
        out.append((text[a:b], True))
        cursor = b
    if cursor < len(text):
        out.append((text[cursor:], False))
    return [(t, u) for t, u in out if t], lost


# --- the sources panel ---------------------------------------------------------------------------------


def sources_placeholder() -> str:
    return ('<div class="rc-sources rc-empty"><p>Ask a question: each answer’s sources appear here, the supporting '
            'quote highlighted. Click a reference <span class="rc-ref rc-ref-static">[1]</span> to open it in its '
            'document.</p></div>')


def sources_html(
    answer: Answer, aid: str, document: Callable[[str], Document | None], active: int | None = None
) -> str:
    """One card per cited passage: file, character span, the passage with the quote highlighted."""
    if not answer.answerable:
        return ('<div class="rc-sources rc-empty"><p><strong>No sources.</strong> The documents do not answer '
                f'“{_text(answer.question)}”, so nothing is cited.</p></div>')
    if not answer.citations:
        return '<div class="rc-sources rc-empty"><p>This answer cites no passage.</p></div>'
    chunks = {h.chunk.id: h.chunk for h in answer.passages}
    cards = []
    for c in answer.citations:
        before, quote, after = _passage(c, chunks, document)
        state = "" if c.verified else '<span class="rc-badge rc-badge-warn">not verified</span>'
        cls = "rc-card rc-active" if c.n == active else "rc-card"
        page = _page_label(document(c.source), c.start)
        cards.append(
            f'<div class="{cls}" id="rc-card-{aid}-{c.n}">'
            f'<div class="rc-card-head"><a class="rc-num" href="#doc-{aid}-{c.n}" title="Show in document">{c.n}</a>'
            f'<span class="rc-file" title="{esc(c.source)}">{esc(c.source)}</span>'
            f'<span class="rc-span">{span_label(c.start, c.end)}{page}</span>{state}</div>'
            f'<div class="rc-passage">{before}<mark class="rc-quote">{quote}</mark>{after}</div>'
            f'<div class="rc-card-foot"><a class="rc-view" href="#doc-{aid}-{c.n}">View in document →</a></div>'
            "</div>"
        )
    n = len(answer.citations)
    head = (f'<div class="rc-sources-head">{n} cited passage{"s" if n != 1 else ""} for '
            f"“{_text(answer.question)}”</div>")
    return f'<div class="rc-sources" data-aid="{aid}">{head}{"".join(cards)}</div>'


def _passage(c: Citation, chunks: dict, document: Callable[[str], Document | None]) -> tuple[str, str, str]:
    """(before, quote, after), escaped: the retrieved chunk around the quote, else a window of the document."""
    chunk = chunks.get(c.chunk_id)
    if chunk is not None and chunk.start <= c.start and c.end <= chunk.end:
        text, offset = chunk.text, chunk.start
    else:
        doc = document(c.source)
        if doc is None:
            return "", esc(c.quote), ""
        text, offset = doc.text, 0
    before, after = text[: c.start - offset], text[c.end - offset :]
    if len(before) > PASSAGE_CONTEXT:  # cut at a word boundary, and say so
        before = "…" + before[-PASSAGE_CONTEXT:].split(" ", 1)[-1]
    if len(after) > PASSAGE_CONTEXT:
        after = after[:PASSAGE_CONTEXT].rsplit(" ", 1)[0] + "…"
    squeeze = lambda s: esc(_BLANK_LINES.sub("\n\n", s))  # noqa: E731 - display only; offsets are not used here
    return squeeze(before.lstrip()), esc(c.quote), squeeze(after.rstrip())


def _page_label(doc: Document | None, offset: int) -> str:
    page = doc.page_at(offset) if doc is not None and doc.pages else None
    return f" · page {page}" if page is not None else ""


# --- the document view ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    n: int
    start: int
    end: int


def document_placeholder() -> str:
    return ('<div class="rc-doc rc-empty"><p>Click a reference in an answer, or “View in document” on a source, '
            'to read the passage in its document. Or open any document from the list.</p></div>')


def document_html(doc: Document, marks: Sequence[Mark] = (), active: int | None = None, aid: str = "") -> str:
    """The whole document, cited spans marked, the active one emphasised (app.py scrolls it into view)."""
    chosen = next((m for m in marks if m.n == active), None)
    where = f"{span_label(chosen.start, chosen.end)}{_page_label(doc, chosen.start)} of " if chosen else ""
    chips = "".join(
        f'<a class="rc-chip{" rc-active" if m.n == active else ""}" href="#doc-{aid}-{m.n}">[{m.n}]</a>' for m in marks
    ) if aid else ""
    head = (f'<div class="rc-doc-head"><span class="rc-file" title="{esc(doc.source)}">{esc(doc.source)}</span>'
            f'<span class="rc-chips">{chips}</span>'
            f'<span class="rc-span rc-doc-where">{where}{len(doc.text):,} chars</span></div>')
    pieces, cursor = [], 0
    for m in sorted(_non_overlapping(marks, active), key=lambda m: m.start):
        pieces.append(esc(doc.text[cursor : m.start]))
        cls = "rc-hl rc-active" if m.n == active else "rc-hl"
        pieces.append(f'<mark class="{cls}" data-n="{m.n}" title="[{m.n}] {span_label(m.start, m.end)}">'
                      f"{esc(doc.text[m.start : m.end])}</mark>")
        cursor = m.end
    pieces.append(esc(doc.text[cursor:]))
    return f'<div class="rc-doc">{head}<div class="rc-doc-body">{"".join(pieces)}</div></div>'


def _non_overlapping(marks: Sequence[Mark], active: int | None) -> list[Mark]:
    """Spans to mark, the active one first so an overlapping neighbour never hides it."""
    kept: list[Mark] = []
    for m in sorted(marks, key=lambda m: (m.n != active, m.start)):
        if m.start < m.end and all(m.end <= k.start or k.end <= m.start for k in kept):
            kept.append(m)
    return kept


def marks_in(answer: Answer, source: str) -> list[Mark]:
    return [Mark(c.n, c.start, c.end) for c in answer.citations if c.source == source]


def library_html(documents: Sequence[Document]) -> str:
    if not documents:
        return '<div class="rc-library rc-empty"><p>No documents indexed.</p></div>'
    rows = "".join(
        f'<li><span class="rc-file">{esc(d.source)}</span><span class="rc-span">{len(d.text):,} chars'
        f'{f" · {len(d.pages)} pages" if d.pages else ""}</span></li>'
        for d in documents
    )
    return f'<div class="rc-library"><ul>{rows}</ul></div>'


# --- uploads -------------------------------------------------------------------------------------------


def safe_filename(name: str) -> str:
    """A file name that is safe to create in the documents folder: no folders, no leading dot, no control or
    shell-special characters, a known suffix. Raises DocumentError for a type that cannot be indexed."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFKC", base)
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = "." + suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(sorted(s for s in SUPPORTED_SUFFIXES))
        raise DocumentError(f"{base or name!r} is not a supported file type: upload one of {kinds}")
    stem = re.sub(r"[^\w\-]+", "-", stem)  # \w is Unicode-aware: letters of any script stay
    stem = re.sub(r"-{2,}", "-", stem).strip("-_.")[:MAX_NAME] or "document"
    return stem + suffix


@dataclass(frozen=True)
class Saved:
    source: str  # the name in the documents folder
    new: bool  # False: the same bytes were already there under that name


def save_upload(path: Path, original_name: str, seeds_dir: Path) -> Saved:
    """Copy an uploaded file into seeds_dir under a sanitised, unused name (same content: reuse it).

    The file is read as a document first, so an unreadable upload is refused before it reaches the folder,
    and it is written under a hidden temporary name then renamed, so indexing never sees half a file."""
    name = safe_filename(original_name)
    load_file(path, name)  # raises DocumentError with a message for the user
    seeds_dir.mkdir(parents=True, exist_ok=True)
    digest = file_sha256(path)
    stem, suffix = name[: -len(Path(name).suffix)], Path(name).suffix
    for i in range(1, 1000):
        candidate = seeds_dir / (name if i == 1 else f"{stem}-{i}{suffix}")
        if not candidate.exists():
            break
        if candidate.is_file() and file_sha256(candidate) == digest:
            return Saved(candidate.name, new=False)
    else:
        raise DocumentError(f"too many files named like {name!r} in the documents folder: rename the upload")
    tmp = seeds_dir / f".upload-{uuid.uuid4().hex}{suffix}"
    try:
        tmp.write_bytes(path.read_bytes())
        os.replace(tmp, candidate)
    finally:
        tmp.unlink(missing_ok=True)
    return Saved(candidate.name, new=True)


@dataclass(frozen=True)
class Added:
    saved: tuple[Saved, ...]
    refused: tuple[tuple[str, str], ...]  # (original name, why)
    summary: str  # the index report, one line

    def message(self) -> str:
        lines = []
        new = [s.source for s in self.saved if s.new]
        same = [s.source for s in self.saved if not s.new]
        if new:
            lines.append(f"Added and indexed {', '.join(f'`{n}`' for n in new)}: searchable now.")
        if same:
            lines.append(f"Already in the library: {', '.join(f'`{n}`' for n in same)}.")
        for name, why in self.refused:
            lines.append(f"Not added `{name}`: {why}")
        if self.summary:
            lines.append(f"Index: {self.summary}.")
        return "\n\n".join(lines) or "Nothing to add."


class Library:
    """Adds uploaded files to a QA service's documents folder and index, one batch at a time."""

    def __init__(self, qa) -> None:
        self.qa = qa
        self._lock = threading.Lock()

    def documents(self) -> list[Document]:
        return sorted(self.qa.retriever.store.documents.values(), key=lambda d: (d.source.lower(), d.source))

    def add(self, files: Sequence[tuple[Path, str]], progress: Callable[[int, int], None] | None = None) -> Added:
        """files: (path of the uploaded copy, the name the user gave it)."""
        with self._lock:
            saved, refused = [], []
            for path, original in files:
                try:
                    saved.append(save_upload(Path(path), original, self.qa.settings.seeds_dir))
                except DocumentError as e:
                    refused.append((original, str(e)))
            summary = ""
            if any(s.new for s in saved):
                report = self.qa.reindex(progress=progress)
                summary = report.summary()
                failed = dict(report.skipped)
                for s in [s for s in saved if s.source in failed]:
                    saved.remove(s)
                    refused.append((s.source, failed[s.source]))
                    if s.new:  # it would only be skipped with a warning on every later index run
                        (self.qa.settings.seeds_dir / s.source).unlink(missing_ok=True)
            return Added(tuple(saved), tuple(refused), summary)
