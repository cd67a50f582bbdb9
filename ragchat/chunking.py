"""Document → Chunks with exact character offsets. Pure: no I/O, no models.

Chunks are runs of whole sentences measured in tokenizer tokens, consecutive chunks sharing about
`overlap` tokens of sentences. A sentence longer than a chunk is cut at word boundaries. The slice
document.text[start:end] is the chunk's text, always, and each chunk lists its sentences' spans.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from .sentences import paragraph_spans, sentence_spans
from .types import HEADING_SEPARATOR, Block, Chunk, Document

CountTokens = Callable[[str], int]


@dataclass(frozen=True)
class PieceLimit:
    """The embedder's own length limit, in its own word pieces (MiniLM silently truncates past it)."""

    count: Callable[[list[str]], list[int]]  # pieces of several texts at once, special tokens excluded
    maximum: int  # special tokens included
    special: int = 2  # [CLS] and [SEP]

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class ChunkParams:
    max_tokens: int
    overlap_tokens: int


def chunk_id(source: str, text: str) -> str:
    return hashlib.sha256(f"{source}\n{text}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Unit:
    """The smallest piece that is embedded and cited: a sentence, list item, table row, code block or heading."""

    start: int
    end: int
    kind: str
    header: str = ""
    section: int = 0  # index of the section (run of blocks under one heading) it belongs to


_UNIT_KIND = {"paragraph": "sentence", "item": "item", "row": "row", "header": "header", "code": "code", "heading": "heading"}


def sections(doc: Document) -> tuple[list[Block], list[tuple[str, ...]]]:
    """The document's blocks and, per block, the heading path it stands under (its own, for a heading)."""
    blocks = list(doc.blocks) or [Block("paragraph", a, b) for a, b in paragraph_spans(doc.text)]
    paths: list[tuple[str, ...]] = []
    stack: list[tuple[int, str]] = []
    for b in blocks:
        if b.kind == "heading":
            level = b.level or 1
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, " ".join(doc.text[b.start : b.end].split())[:120]))
        paths.append(tuple(t for _, t in stack))
    return blocks, paths


def heading_text(title: str, path: tuple[str, ...]) -> str:
    parts = [title] if title else []
    for p in path:
        if p and (not parts or p != parts[-1]):
            parts.append(p)
    return HEADING_SEPARATOR.join(parts)


def chunk_document(
    doc: Document, params: ChunkParams, count_tokens: CountTokens, limit: PieceLimit | None = None
) -> list[Chunk]:
    """Cut a document into chunks of at most params.max_tokens tokens that also stay within the
    embedder's `limit`, which counts differently from the tokenizer. A chunk never crosses a heading: it
    holds units of one section, and knows that section's heading path."""
    text = doc.text

    def ok(start: int, end: int) -> bool:
        piece = text[start:end]
        if count_tokens(piece) > params.max_tokens:
            return False
        return limit is None or limit.count([piece])[0] + limit.special <= limit.maximum

    def measure(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
        texts = [text[a:b] for a, b in spans]
        return [count_tokens(t) for t in texts], (limit.count(texts) if limit else [0] * len(texts))

    blocks, paths = sections(doc)
    raw: list[Unit] = []
    headings: list[str] = []  # per section: its heading path as text
    previous: tuple[str, ...] | None = None
    after_contents: set[int] = set()  # sections that start right after skipped contents lines
    for block, path in zip(blocks, paths):
        if block.kind == "contents":  # not indexed; and a chunk is one slice, so none may span these lines
            previous = None
            after_contents.add(len(headings))
            continue
        if path != previous:
            headings.append(heading_text(doc.title, path))
            previous = path
        kind = _UNIT_KIND.get(block.kind, "sentence")
        spans = sentence_spans(text, block.start, block.end) if kind in ("sentence", "item") else [(block.start, block.end)]
        raw.extend(Unit(a, b, kind, block.header, len(headings) - 1) for a, b in spans)
    raw = _headings_join_their_text(raw, after_contents)

    units: list[Unit] = []
    for unit, tokens, wordpieces in zip(raw, *measure([(u.start, u.end) for u in raw])):
        fits = tokens <= params.max_tokens and (limit is None or wordpieces + limit.special <= limit.maximum)
        pieces = [(unit.start, unit.end)] if fits else _split_long(text, unit.start, unit.end, ok)
        units.extend(Unit(a, b, unit.kind, unit.header, unit.section) for a, b in pieces)
    sizes, pieces = measure([(u.start, u.end) for u in units])
    budget = limit.maximum - limit.special if limit else 0

    runs: list[tuple[int, int]] = []  # [i, j) ranges of units
    i = 0
    while i < len(units):
        # Sizes of sentences nearly add up (word pieces exactly, across whitespace): grow by the sums,
        # then confirm the chunk with one exact count and shrink in the rare case it is over.
        j, tokens, wordpieces = i + 1, sizes[i], pieces[i]
        while j < len(units) and units[j].section == units[i].section:
            tokens += sizes[j] + 1  # +1: the whitespace between sentences
            wordpieces += pieces[j]
            if tokens > params.max_tokens or (limit and wordpieces > budget):
                break
            j += 1
        while j - 1 > i and not ok(units[i].start, units[j - 1].end):
            j -= 1
        runs.append((i, j))
        if j >= len(units):
            break
        if units[j].section != units[i].section:
            i = j  # a new section starts afresh: overlap would carry another section's text
            continue
        # Step back over trailing sentences worth at most `overlap` tokens, always moving forward.
        next_i, carried = j, 0
        while next_i - 1 > i and carried + sizes[next_i - 1] <= params.overlap_tokens:
            next_i -= 1
            carried += sizes[next_i]
        i = next_i

    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for i, j in runs:
        start, end = units[i].start, units[j - 1].end
        piece = text[start:end]
        cid = chunk_id(doc.source, piece)
        # The same passage twice in one file: later copies get a suffix so ids stay unique and stable.
        seen[cid] = seen.get(cid, 0) + 1
        if seen[cid] > 1:
            cid = f"{cid}-{seen[cid]}"
        run = units[i:j]
        chunks.append(
            Chunk(
                id=cid,
                source=doc.source,
                start=start,
                end=end,
                text=piece,
                page=doc.page_at(start),
                sentences=tuple((u.start, u.end) for u in run),
                kinds=tuple(u.kind for u in run),
                headers=tuple(u.header for u in run) if any(u.header for u in run) else (),
                heading=headings[units[i].section] if headings else doc.title,
            )
        )
    return chunks


def _headings_join_their_text(units: list[Unit], apart: set[int]) -> list[Unit]:
    """A section that holds nothing but its heading ("3.18. /tmp : Temporary files" right above "3.18.1.
    Purpose") joins the section that follows: alone, such a chunk is a few words that match a question's
    words better than the passage that answers it, and it answers nothing. The heading's text stays in the
    index, at the head of the next chunk, and in that section's heading path. Sections in `apart` are not
    joined onto (something unindexed stands between); a bare heading with nothing to join ("Contents" above
    its skipped lines, "Leave a Reply" at a page's end) is left out, unless the document is nothing else."""
    bare = {u.section for u in units} - {u.section for u in units if u.kind != "heading"}
    out = list(units)
    following: int | None = None  # the section the unit after this one ends up in
    after: int | None = None  # and the section it started in
    for i in range(len(out) - 1, -1, -1):  # backwards, so a run of bare headings all joins the text below
        u = out[i]
        joins = u.section in bare and after is not None and after not in apart and after <= u.section + 1
        after = u.section
        if joins:
            out[i] = Unit(u.start, u.end, u.kind, u.header, following)
        else:
            following = u.section
    kept = [u for u in out if u.section not in bare]
    return kept or out


def _split_long(text: str, start: int, end: int, ok: Callable[[int, int], bool]) -> Sequence[tuple[int, int]]:
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    pieces: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        j = i + 1
        while j < len(words) and ok(words[i][0], words[j][1]):
            j += 1
        if not ok(words[i][0], words[i][1]):
            # A single "word" too long for a chunk (a URL, a base64 blob): cut it by characters.
            pieces.extend(_split_chars(words[i][0], words[i][1], ok))
        else:
            pieces.append((words[i][0], words[j - 1][1]))
        i = j
    return pieces


def _split_chars(start: int, end: int, ok: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    pieces = []
    while start < end:
        lo, hi = start + 1, end
        while lo < hi:  # the longest prefix that fits
            mid = (lo + hi + 1) // 2
            if ok(start, mid):
                lo = mid
            else:
                hi = mid - 1
        pieces.append((start, lo))
        start = lo
    return pieces
