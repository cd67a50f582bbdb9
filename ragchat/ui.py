"""What the browser chat shows, as HTML strings: an Answer with clickable [n] references, the sources panel,
and a document with cited spans highlighted. Plus saving uploaded files into the documents folder.

No Gradio here (app.py wires these into Blocks), so every function is a plain str → str that tests can call.
Every piece of document or answer text goes through html.escape: an uploaded HTML file is shown as text.

Links use fragment hrefs that app.py's click handler intercepts (Gradio's chat sanitiser keeps href and class):
    #cite-<aid>-<n>   a reference [n] in the answer <aid>: select its source card and show it in its document
    #doc-<aid>-<n>    "view in document" for the same citation
"""

from __future__ import annotations

import dataclasses
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
from .errors import DocumentError, IndexBusyError
from .loading import SUPPORTED_SUFFIXES, file_sha256, load_file
from .types import Answer, Block, Citation, Document, Hit

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
        badge = "Unclear which passage answers" if answer.undecided else "Not in the documents"
        body = (f'<div class="rc-abstain"><span class="rc-badge rc-badge-muted">{badge}</span>'
                f'<p>{_text(answer.answer)}</p></div>')
        return f'<div class="rc-answer" data-aid="{aid}">{body}{_notes(answer, aid)}</div>'
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
    return f'<div class="rc-answer" data-aid="{aid}"><p>{"".join(pieces)}</p>{_notes(answer, aid)}</div>'


def _flag(rendered: str) -> str:
    return (f'<span class="rc-unverified" title="Not supported by the passage it cites">{rendered}'
            f'<span class="rc-badge rc-badge-warn">unverified</span></span>')


def streaming_html(text: str) -> str:
    """A partial answer while it is generated: plain text and a cursor; references arrive with the final answer."""
    return f'<div class="rc-answer rc-streaming"><p>{_text(text)}<span class="rc-cursor"></span></p></div>'


def queued_html() -> str:
    """The message shown the moment a question is sent. Its words appear only if the wait lasts (CSS delay):
    then the question is queued behind other people's, and the reader should know it has not been dropped."""
    return ('<div class="rc-answer rc-streaming rc-waiting"><p class="rc-muted rc-queued">Queued: waiting for the '
            'server to finish other questions…<span class="rc-cursor"></span></p></div>')


def stage_html(message: str) -> str:
    """What the answer path is doing now (qa.Stage): searching, reading n passages, checking."""
    return (f'<div class="rc-answer rc-streaming rc-stage"><p class="rc-muted">{_text(message)}…'
            '<span class="rc-cursor"></span></p></div>')


def stopped_html() -> str:
    return '<div class="rc-answer rc-stopped"><p class="rc-muted">Stopped before the answer was finished.</p></div>'


def notice_html(message: str) -> str:
    return f'<div class="rc-notice" role="status">{_text(message)}</div>'


def counter_html(limit: int) -> str:
    """Filled in by the browser while typing (app.COUNT_JS): "n / limit characters"."""
    return f'<div class="rc-count" data-limit="{int(limit)}" aria-live="polite"></div>'


def theme_switch_html() -> str:
    buttons = "".join(f'<button type="button" data-theme="{t}" aria-pressed="false">{label}</button>'
                      for t, label in (("light", "Light"), ("dark", "Dark"), ("system", "System")))
    return f'<div class="rc-theme" role="group" aria-label="Colour theme">{buttons}</div>'


# Server-side wording a reader cannot act on: setting names are the operator's, socket errors are jargon.
_OPERATOR_HINT = re.compile(r"\s*\((?:[^()]*\b)?RAGCHAT_[A-Z_]+[^()]*\)")
_SOCKET_ERROR = re.compile(r"<?urlopen error [^>]*>?|\[Errno -?\d+\][^;)]*|Connection refused")


def user_words(message: str) -> str:
    """A RagError or warning as a reader should see it: no environment variable names, no socket errors."""
    message = _OPERATOR_HINT.sub("", message)
    # "…: start it or fix RAGCHAT_OPENAI_BASE_URL", "…: check RAGCHAT_X and RAGCHAT_Y": fixes for the operator
    message = re.sub(r":?\s*(?:start it or fix|check|or raise)\s+RAGCHAT_\w+(?:\s+and\s+RAGCHAT_\w+)*", "", message)
    message = re.sub(r"RAGCHAT_\w+(?:=\S+)?", "a server setting", message)
    message = _SOCKET_ERROR.sub("it did not respond", message)
    return re.sub(r"\s{2,}", " ", message).strip()


def error_html(message: str) -> str:
    return (f'<div class="rc-answer"><div class="rc-error"><strong>Could not answer:</strong> {_text(message)}'
            "</div></div>")


def _notes(answer: Answer, aid: str = "") -> str:
    parts = []
    for warning in answer.warnings:
        parts.append(f'<div class="rc-note rc-note-warn">{_text(user_words(warning))}</div>')
    meta = [answer.mode]
    if answer.citations:
        meta.append(f"{len(answer.citations)} source{'s' if len(answer.citations) != 1 else ''}")
    if "total" in answer.timings_ms:
        meta.append(f"{answer.timings_ms['total'] / 1000:.1f} s" if answer.timings_ms["total"] >= 1000
                    else f"{answer.timings_ms['total']:.0f} ms")
    if answer.standalone_question:
        meta.append(f"searched for “{_text(answer.standalone_question)}”")
    actions = ""
    if aid:  # app.REFERENCE_JS handles both: copy the answer's text; put its question in the box and ask it again
        question = esc(" ".join(answer.question.split()))
        actions = (f'<span class="rc-actions"><a class="rc-act" href="#copy-{aid}-0" title="Copy the answer">Copy</a>'
                   f'<a class="rc-act" href="#again-{aid}-0" title="{question}">Ask again</a></span>')
    parts.append(f'<div class="rc-meta">{" · ".join(meta)}{actions}</div>')
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
        # The hover preview: where, what the check found, and the quoted span itself.
        quote = " ".join(c.quote.split())
        quote = quote if len(quote) <= 300 else quote[:300].rsplit(" ", 1)[0] + "…"
        support = SUPPORT_WORDS.get(c.support, "")
        title = esc(f"{c.source}, {span_label(c.start, c.end)}" + (f" ({support})" if support else "")
                    + f"\n“{quote}”").replace("\n", "&#10;")  # no raw line break inside the chat's HTML
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


# --- what the browser keeps across reloads ------------------------------------------------------------


def answer_record(answer: Answer) -> dict:
    """An answer as the browser keeps it (app.py's BrowserState): enough to list its sources and open its spans
    again after a reload; the retrieved passages are left out (the sources panel falls back to the document)."""
    return {"question": answer.question, "answer": answer.answer, "answerable": answer.answerable,
            "mode": answer.mode, "unverified": list(answer.unverified),
            "citations": [[c.n, c.chunk_id, c.source, c.start, c.end, c.quote, c.score, c.verified, c.support]
                          for c in answer.citations]}


def answer_from_record(record: object) -> Answer | None:
    """The inverse of answer_record, for whatever the browser sends back (it is the client's to change): None
    unless every field has its type."""
    try:
        citations = tuple(
            Citation(n=int(n), chunk_id=str(chunk_id), source=str(source), start=int(start), end=int(end),
                     quote=str(quote), score=float(score), verified=bool(verified), support=str(support))
            for n, chunk_id, source, start, end, quote, score, verified, support in record["citations"]
        )
        fields = (record["question"], record["answer"], record["mode"])
        if not all(isinstance(f, str) for f in fields) or not isinstance(record["answerable"], bool):
            return None
        unverified = tuple(u for u in record.get("unverified", ()) if isinstance(u, str))
        return Answer(question=fields[0], answer=fields[1], answerable=record["answerable"], mode=fields[2],
                      citations=citations, unverified=unverified)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


# --- the sources panel ---------------------------------------------------------------------------------


def sources_placeholder() -> str:
    return ('<div class="rc-sources rc-empty"><p>Ask a question: each answer’s sources appear here, the supporting '
            'quote highlighted. Click a reference <span class="rc-ref rc-ref-static">[1]</span> to open it in its '
            'document.</p></div>')


def sources_waiting(question: str) -> str:
    """The panel the moment a new question is asked: the previous answer's sources must not linger under it."""
    return (f'<div class="rc-sources rc-empty"><p>Searching the documents for “{_text(question)}”…</p></div>')


def retrieved_html(question: str, hits: Sequence[Hit]) -> str:
    """The passages retrieval found (qa.Sources), shown while the answer is being read and checked; the cited
    ones replace them, numbered, when the answer is final."""
    if not hits:
        return '<div class="rc-sources rc-empty"><p>No passage matches the question.</p></div>'
    n = len(hits)
    head = (f'<div class="rc-sources-head">{n} passage{"s" if n != 1 else ""} found for “{_text(question)}”; '
            "checking which of them answer it…</div>")
    return f'<div class="rc-sources rc-pending">{head}{_retrieved_cards(hits)}</div>'


def _retrieved_cards(hits: Sequence[Hit]) -> str:
    cards = []
    for hit in hits:
        c = hit.chunk
        text = " ".join(c.text.split())
        if len(text) > 2 * PASSAGE_CONTEXT:
            text = text[: 2 * PASSAGE_CONTEXT].rsplit(" ", 1)[0] + "…"
        page = f" · page {c.page}" if c.page is not None else ""
        cards.append(
            f'<div class="rc-card rc-retrieved"><div class="rc-card-head">'
            f'<span class="rc-file" title="{esc(c.source)}">{esc(c.source)}</span>'
            f'<span class="rc-span">{span_label(c.start, c.end)}{page}</span></div>'
            f'<div class="rc-passage">{esc(text)}</div></div>')
    return "".join(cards)


def sources_html(
    answer: Answer, aid: str, document: Callable[[str], Document | None], active: int | None = None
) -> str:
    """One card per cited passage: file, character span, the passage with the quote highlighted."""
    if answer.undecided and answer.passages:  # the answer tells the reader to read them here
        n = len(answer.passages)
        head = (f'<div class="rc-sources-head">Nothing cited: several of these {n} passages found for '
                f'“{_text(answer.question)}” answer it about equally well. Read them to decide.</div>')
        return f'<div class="rc-sources">{head}{_retrieved_cards(answer.passages)}</div>'
    if not answer.answerable:
        return ('<div class="rc-sources rc-empty"><p><strong>No sources.</strong> The documents do not answer '
                f'“{_text(answer.question)}”, so nothing is cited.</p></div>')
    if not answer.citations:
        return '<div class="rc-sources rc-empty"><p>This answer cites no passage.</p></div>'
    chunks = {h.chunk.id: h.chunk for h in answer.passages}
    cards = []
    for c in answer.citations:
        before, quote, after = _passage(c, chunks, document)
        state = _support_badge(c)
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


SUPPORT_WORDS = {
    "found": "checked: its facts are in this passage",
    "not_found": "not verified: a fact in the sentence is not in this passage",
    "nothing_checkable": "cited, but the sentence states no fact that could be checked",
}


def _support_badge(c: Citation) -> str:
    if c.verified:
        return ""
    if c.support == "nothing_checkable":
        return f'<span class="rc-badge rc-badge-muted" title="{SUPPORT_WORDS[c.support]}">not checkable</span>'
    return f'<span class="rc-badge rc-badge-warn" title="{SUPPORT_WORDS["not_found"]}">not verified</span>'


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
    """The whole document, cited spans marked, the active one emphasised (app.py scrolls it into view).

    Rendered with its structure (Document.blocks: headings, list items, table rows, code) and, for PDFs, a marker
    where each page starts; every character of `text` between blocks that is not blank is shown too, and the
    marks are cut from the same offsets, so a highlight is exactly text[start:end]."""
    chosen = next((m for m in marks if m.n == active), None)
    where = f"{span_label(chosen.start, chosen.end)}{_page_label(doc, chosen.start)} of " if chosen else ""
    pages = f" · {len(doc.pages)} pages" if doc.pages else ""
    chips = "".join(
        f'<a class="rc-chip{" rc-active" if m.n == active else ""}" href="#doc-{aid}-{m.n}">[{m.n}]</a>' for m in marks
    ) if aid else ""
    head = (f'<div class="rc-doc-head"><span class="rc-file" title="{esc(doc.source)}">{esc(doc.source)}</span>'
            f'<span class="rc-chips">{chips}</span>'
            f'<span class="rc-span rc-doc-where">{where}{len(doc.text):,} chars{pages}</span>'
            '<label class="rc-find"><input type="search" placeholder="Find in this document" '
            'aria-label="Find in this document"><span class="rc-find-count" aria-live="polite"></span></label></div>')
    kept = sorted(_non_overlapping(marks, active), key=lambda m: m.start)
    page_starts = sorted(doc.pages, key=lambda p: p[1])
    pieces = []
    for start, end, kind, level in _regions(doc):
        while page_starts and page_starts[0][1] <= start:
            pieces.append(f'<div class="rc-page" data-page="{page_starts[0][0]}">Page {page_starts[0][0]}</div>')
            page_starts.pop(0)
        inner = _marked(doc.text, start, end, kept, active)
        if kind == "heading":
            level = min(max(level, 1), 3)
            pieces.append(f'<div class="rc-b rc-h rc-h{level}" role="heading" aria-level="{level + 1}">{inner}</div>')
        elif kind == "gap":
            pieces.append(f'<div class="rc-gap">{inner}</div>')
        else:
            pieces.append(f'<div class="rc-b rc-{kind if kind in KNOWN_KINDS else "paragraph"}">{inner}</div>')
    return f'<div class="rc-doc">{head}<div class="rc-doc-body">{"".join(pieces)}</div></div>'


KNOWN_KINDS = ("paragraph", "item", "row", "header", "code")


def _regions(doc: Document) -> list[tuple[int, int, str, int]]:
    """(start, end, kind, level) covering the text in order: the blocks, and the text between them unless blank.
    A document without blocks is one run of text, shown with its own line breaks."""
    if not doc.blocks:
        return [(0, len(doc.text), "gap", 0)]
    regions, cursor = [], 0
    for block in sorted(doc.blocks, key=lambda b: b.start):
        if block.start < cursor:  # blocks never overlap; if one ever did, show its text once
            continue
        if doc.text[cursor : block.start].strip():
            regions.append((cursor, block.start, "gap", 0))
        regions.append((block.start, block.end, block.kind, block.level))
        cursor = block.end
    if doc.text[cursor:].strip():
        regions.append((cursor, len(doc.text), "gap", 0))
    return regions


def _marked(text: str, start: int, end: int, marks: Sequence[Mark], active: int | None) -> str:
    """text[start:end], escaped, with the parts of the marks that fall inside it wrapped in <mark>."""
    pieces, cursor = [], start
    for m in marks:
        a, b = max(m.start, start), min(m.end, end)
        if a >= b:
            continue
        pieces.append(esc(text[cursor:a]))
        cls = "rc-hl rc-active" if m.n == active else "rc-hl"
        pieces.append(f'<mark class="{cls}" data-n="{m.n}" title="[{m.n}] {span_label(m.start, m.end)}">'
                      f"{esc(text[a:b])}</mark>")
        cursor = b
    pieces.append(esc(text[cursor:end]))
    return "".join(pieces)


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
    """The indexed documents: a name opens it, "Delete" removes it (app.LIBRARY_JS turns both into events)."""
    if not documents:
        return '<div class="rc-library rc-empty"><p>No documents indexed.</p></div>'
    rows = "".join(
        f'<li><a class="rc-open" href="#" data-open="{esc(d.source)}" title="Open {esc(d.source)}">{esc(d.source)}</a>'
        f'<span class="rc-span">{len(d.text):,} chars{f" · {len(d.pages)} pages" if d.pages else ""}</span>'
        f'<button type="button" class="rc-delete" data-delete="{esc(d.source)}" '
        f'aria-label="Delete {esc(d.source)}">Delete</button></li>'
        for d in documents
    )
    n = len(documents)
    return (f'<div class="rc-library"><div class="rc-sources-head">{n} document{"s" if n != 1 else ""} indexed</div>'
            f"<ul>{rows}</ul></div>")


def welcome_markdown(documents: Sequence[Document]) -> str:
    """The empty chat: what is loaded, so a reader knows what can be asked."""
    if not documents:
        return "### Ask about your documents\nNo documents are indexed yet: add some in the Library tab."
    names = ", ".join(f"`{d.source}`" for d in documents[:MAX_NAMED])
    more = f" and {len(documents) - MAX_NAMED} more" if len(documents) > MAX_NAMED else ""
    n = len(documents)
    return (f"### Ask about your documents\n{n} document{'s' if n != 1 else ''} loaded: {names}{more}. "
            "Every answer cites its sources; click a reference to read the passage in its document.")


MAX_NAMED = 6
MAX_EXAMPLES = 4
_CHROME_HEADING = re.compile(r"\b(reply|comment|share|subscribe|contents|navigation|menu|related|footer|"
                             r"required|cookie|copyright|licen[cs]e|about the author)\b", re.I)


def example_questions(documents: Sequence[Document]) -> list[str]:
    """Questions a reader could ask of this library, from its documents' section headings (second level and
    below: a title is too broad), taken round-robin across documents; none when no heading reads like a topic."""
    per_doc: list[list[str]] = []
    for d in documents:
        topics = []
        for b in d.blocks:
            if b.kind != "heading" or b.level < 2:
                continue
            heading = " ".join(d.text[b.start : b.end].split()).strip(" :#")
            words = heading.split()
            if not 2 <= len(words) <= 10 or _CHROME_HEADING.search(heading) or heading in topics:
                continue
            topics.append(heading)
        per_doc.append(topics)
    questions: list[str] = []
    for i in range(max((len(t) for t in per_doc), default=0)):
        for topics in per_doc:
            if i < len(topics) and len(questions) < MAX_EXAMPLES:
                questions.append(f"What do the documents say about “{topics[i]}”?")
    return questions


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
    # \w is Unicode-aware: letters of any script stay; dots inside a name ("gfdl-1.3") are safe and kept.
    stem = re.sub(r"[^\w\-.]+", "-", stem)
    stem = re.sub(r"-{2,}", "-", stem)
    stem = re.sub(r"\.{2,}", ".", stem).strip("-_.")[:MAX_NAME] or "document"
    return stem + suffix


@dataclass(frozen=True)
class Saved:
    source: str  # the name in the documents folder
    new: bool  # False: the same bytes were already there under that name, and indexed
    given: str = ""  # the upload's own name, when it had to be changed (unsafe characters, or taken)


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
            return Saved(candidate.name, new=False, given=_given(original_name, candidate.name))
    else:
        raise DocumentError(f"too many files named like {name!r} in the documents folder: rename the upload")
    tmp = seeds_dir / f".upload-{uuid.uuid4().hex}{suffix}"
    try:
        tmp.write_bytes(path.read_bytes())
        os.replace(tmp, candidate)
    finally:
        tmp.unlink(missing_ok=True)
    return Saved(candidate.name, new=True, given=_given(original_name, candidate.name))


def _given(original: str, saved: str) -> str:
    base = PurePosixPath(original.replace("\\", "/")).name
    return base if base != saved else ""


@dataclass(frozen=True)
class Added:
    saved: tuple[Saved, ...]
    refused: tuple[tuple[str, str], ...]  # (original name, why)
    summary: str  # the index report, one line
    pending: str = ""  # why the saved files are not searchable yet (another process is writing the index)

    def message(self) -> str:
        lines = []
        new = [s.source for s in self.saved if s.new]
        same = [s.source for s in self.saved if not s.new]
        if self.pending:
            names = ", ".join(f"`{s.source}`" for s in self.saved)
            lines.append(f"Saved {names}, but not searchable yet: {self.pending}")
            new = same = []
        if new:
            lines.append(f"Added and indexed {', '.join(f'`{n}`' for n in new)}: searchable now.")
        if same:
            lines.append(f"Already in the library: {', '.join(f'`{n}`' for n in same)}.")
        for s in self.saved:
            if s.given:
                lines.append(f"`{s.given}` is saved as `{s.source}`: "
                             + ("that name was taken by another file." if safe_filename(s.given) != s.source
                                else "file names keep only letters, digits, dots and dashes."))
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

    def delete(self, source: str) -> str:
        """Remove an indexed document's file from the documents folder and re-index; returns what happened."""
        with self._lock:
            if self.qa.document(source) is None:
                raise DocumentError(f"{source!r} is not in the library (it may have been deleted already)")
            root = self.qa.settings.seeds_dir.resolve()
            path = (root / source).resolve()
            if root not in path.parents:  # an indexed name is relative to the folder; never act outside it
                raise DocumentError(f"{source!r} is not a file in the documents folder")
            path.unlink(missing_ok=True)
            self.qa.reindex()
            return f"Deleted `{source}`: it is no longer searched or cited."

    def add(self, files: Sequence[tuple[Path, str]], progress: Callable[[int, int], None] | None = None,
            reading: Callable[[int, int, str], None] | None = None) -> Added:
        """files: (path of the uploaded copy, the name the user gave it). `reading(i, n, name)` is called before
        each file is read (a large PDF takes a while), `progress(done, total)` while new passages are embedded."""
        with self._lock:
            saved, refused = [], []
            for i, (path, original) in enumerate(files):
                if reading is not None:
                    reading(i, len(files), original)
                try:
                    saved.append(save_upload(Path(path), original, self.qa.settings.seeds_dir))
                except DocumentError as e:
                    refused.append((original, str(e)))
            summary = ""
            # A file saved before but never indexed (its indexing failed, or another process held the index)
            # is indexed now, not reported as already in the library.
            saved = [s if s.new or self.qa.document(s.source) is not None else dataclasses.replace(s, new=True)
                     for s in saved]
            if any(s.new for s in saved):
                try:
                    report = self.qa.reindex(progress=progress)
                except IndexBusyError:
                    why = ("another indexing run is writing the index; upload the file again once it has finished "
                           "(or it is searched as soon as that run includes it).")
                    return Added(tuple(saved), tuple(refused), "", why)
                summary = report.summary()
                failed = dict(report.skipped)
                for s in [s for s in saved if s.source in failed]:
                    saved.remove(s)
                    refused.append((s.source, failed[s.source]))
                    if s.new:  # it would only be skipped with a warning on every later index run
                        (self.qa.settings.seeds_dir / s.source).unlink(missing_ok=True)
            return Added(tuple(saved), tuple(refused), summary)
