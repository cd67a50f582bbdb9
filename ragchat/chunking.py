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

from .sentences import sentence_spans
from .types import Chunk, Document

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


def chunk_document(
    doc: Document, params: ChunkParams, count_tokens: CountTokens, limit: PieceLimit | None = None
) -> list[Chunk]:
    """Cut a document into chunks of at most params.max_tokens tokens that also stay within the
    embedder's `limit`, which counts differently from the tokenizer."""
    text = doc.text

    def ok(start: int, end: int) -> bool:
        piece = text[start:end]
        if count_tokens(piece) > params.max_tokens:
            return False
        return limit is None or limit.count([piece])[0] + limit.special <= limit.maximum

    def measure(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
        texts = [text[a:b] for a, b in spans]
        return [count_tokens(t) for t in texts], (limit.count(texts) if limit else [0] * len(texts))

    units: list[tuple[int, int]] = []
    sentences = sentence_spans(text)
    for span, tokens, wordpieces in zip(sentences, *measure(sentences)):
        fits = tokens <= params.max_tokens and (limit is None or wordpieces + limit.special <= limit.maximum)
        units.extend([span] if fits else _split_long(text, span[0], span[1], ok))
    sizes, pieces = measure(units)
    budget = limit.maximum - limit.special if limit else 0

    runs: list[tuple[int, int]] = []  # [i, j) ranges of units
    i = 0
    while i < len(units):
        # Sizes of sentences nearly add up (word pieces exactly, across whitespace): grow by the sums,
        # then confirm the chunk with one exact count and shrink in the rare case it is over.
        j, tokens, wordpieces = i + 1, sizes[i], pieces[i]
        while j < len(units):
            tokens += sizes[j] + 1  # +1: the whitespace between sentences
            wordpieces += pieces[j]
            if tokens > params.max_tokens or (limit and wordpieces > budget):
                break
            j += 1
        while j - 1 > i and not ok(units[i][0], units[j - 1][1]):
            j -= 1
        runs.append((i, j))
        if j >= len(units):
            break
        # Step back over trailing sentences worth at most `overlap` tokens, always moving forward.
        next_i, carried = j, 0
        while next_i - 1 > i and carried + sizes[next_i - 1] <= params.overlap_tokens:
            next_i -= 1
            carried += sizes[next_i]
        i = next_i

    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for i, j in runs:
        start, end = units[i][0], units[j - 1][1]
        piece = text[start:end]
        cid = chunk_id(doc.source, piece)
        # The same passage twice in one file: later copies get a suffix so ids stay unique and stable.
        seen[cid] = seen.get(cid, 0) + 1
        if seen[cid] > 1:
            cid = f"{cid}-{seen[cid]}"
        chunks.append(
            Chunk(
                id=cid,
                source=doc.source,
                start=start,
                end=end,
                text=piece,
                page=doc.page_at(start),
                sentences=tuple(units[i:j]),
            )
        )
    return chunks


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
