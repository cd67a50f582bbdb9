"""The values that cross stage boundaries. Frozen, typed, and importing nothing of ours."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field


# header: a table's header row; contents: a table-of-contents line (shown, never indexed)
BLOCK_KINDS = ("heading", "paragraph", "item", "row", "header", "code", "contents")


HEADING_SEPARATOR = " › "  # between the parts of a heading path ("Title › Chapter › Section")
# A heading's leading number ("2.4 Library Notes", "6.2. aptitude", "3 Utilities"), without its final full stop.
_LEADING_NUMBER = re.compile(r"^((?:[A-Z]|\d{1,3})(?:\.\d{1,3})*)\.?\s+(?=\S)")
_MARKUP = re.compile(r"<!--.*?-->|<[!/]?[A-Za-z][^>]*>", re.DOTALL)


def markup_free(text: str) -> str:
    """The words of a fragment of HTML (a table row written in HTML inside Markdown): tags and comments out,
    entities decoded, whitespace collapsed. Spans and quotes keep the source as it is; what is embedded, shown
    as an answer or given to a model is the words."""
    return " ".join(html.unescape(_MARKUP.sub(" ", text)).split())


def unit_words(text: str, kind: str) -> str:
    """A unit's words: markup only goes when there is a closing tag (real HTML) and the unit is not code."""
    return markup_free(text) if kind != "code" and "</" in text else text


@dataclass(frozen=True)
class Block:
    """A structural piece of a document's text: text[start:end] is a heading, a paragraph, a list item,
    a table row, a code block or a table-of-contents line."""

    kind: str  # one of BLOCK_KINDS
    start: int
    end: int
    level: int = 0  # headings: 1 for the top level
    header: str = ""  # table rows: the header row, cells joined by " | " (a row alone does not say what its cells are)


@dataclass(frozen=True)
class Document:
    """A source file as a reader sees it: `text` is what every offset points into."""

    source: str  # path relative to the seeds folder, with forward slashes
    text: str
    sha256: str  # of the file's bytes, so a change to the file is noticed even if its text is not
    # (page number, character offset where that page starts); empty for formats without pages
    pages: tuple[tuple[int, int], ...] = ()
    title: str = ""
    blocks: tuple[Block, ...] = ()  # in order, not overlapping; text outside every block is layout
    language: str = "en"  # ISO 639-1, detected from the text
    reader: int = 0  # loading.READER_VERSION of the code that read it: a newer reader re-reads the file

    def page_at(self, offset: int) -> int | None:
        page = None
        for number, start in self.pages:
            if start > offset:
                break
            page = number
        return page


@dataclass(frozen=True)
class Chunk:
    """A passage of a document. Invariant: document.text[start:end] == text."""

    id: str  # content hash: the same text in the same file keeps its id across rebuilds
    source: str
    start: int
    end: int
    text: str
    page: int | None = None
    # The units this chunk is made of (sentences, list items, table rows, headings, code), as (start, end)
    # offsets into the document; each is embedded on its own, and the chunk's vector is built from theirs.
    sentences: tuple[tuple[int, int], ...] = ()
    kinds: tuple[str, ...] = ()  # per unit: "sentence", "item", "row", "header", "code" or "heading"
    headers: tuple[str, ...] = ()  # per unit: a table row's header row, "" for everything else
    heading: str = ""  # where the chunk stands: "Document title › Section › Subsection"

    def sentence_texts(self) -> list[str]:
        return [self.text[a - self.start : b - self.start] for a, b in self.sentences]

    def kind_of(self, i: int) -> str:
        return self.kinds[i] if i < len(self.kinds) else "sentence"

    def embed_texts(self) -> list[str]:
        """What each unit is embedded as: a table row together with its header row."""
        texts = [unit_words(t, self.kind_of(i)) for i, t in enumerate(self.sentence_texts())]
        return [f"{h}\n{t}" if h else t for t, h in zip(texts, self.headers)] if self.headers else texts


@dataclass(frozen=True)
class Hit:
    """A chunk returned by retrieval, with how each retriever ranked it (None: not in its list)."""

    chunk: Chunk
    score: float  # the fused score used for ordering
    rank: int  # 1-based position in the fused list
    dense_score: float | None = None
    dense_rank: int | None = None
    keyword_score: float | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True)
class Evidence:
    """A sentence picked from a hit as evidence; numbered [n] in prompts and answers."""

    n: int
    chunk: Chunk
    source: str
    start: int
    end: int
    text: str  # == document text[start:end]
    score: float
    kind: str = "sentence"  # the unit kind (see Chunk.kinds)
    header: str = ""  # a table row's header row, a definition's term
    heading: str = ""  # the chunk's heading path
    # Where the header stands in the document, when it is a block of its own there (a definition's term, a
    # table's header row): what is cited when an answer's words are the header's, not the unit's.
    header_start: int = -1
    header_quote: str = ""  # == document text[header_start:header_start + len(header_quote)]

    def words(self) -> str:
        """The unit's text, or an HTML row's words without its tags."""
        return unit_words(self.text, self.kind)

    @property
    def section(self) -> str:
        """The title of the section the unit stands in, when it has one below the document's title: in an API
        reference the sentence says "Sets the timer's start time…" and only its section says `timeout.refresh()`."""
        parts = self.heading.split(HEADING_SEPARATOR)
        return parts[-1] if len(parts) > 1 else ""

    def readable(self, outline: bool = True) -> str:
        """The unit as a reader needs it to make sense, on one line: a table row with its header, under the
        title of its section. `outline` False: without the section's outline number, which orders the document
        and states nothing ("What is the value of ASN1_MAX_NAME_SIZE?" is not answered "2.4" by a sentence in
        "2.4 Library Notes"): what an answer's facts are checked against."""
        text = " ".join(self.words().split())
        text = f"{self.header} / {text}" if self.header else text
        section = self.section if outline else _without_outline_number(self.heading)
        return f"({section}) {text}" if section else text


def _without_outline_number(heading: str) -> str:
    """The last section of a heading path without the number that orders it under its parent ("2 ASN.1 structure
    handling › 2.4 Library Notes" → "Library Notes"). A number its parent's does not begin is kept: it may be
    what the section is about ("Changelog › 2.4.1", "1999 in review")."""
    parts = heading.split(HEADING_SEPARATOR)
    if len(parts) < 2:
        return ""
    own = _LEADING_NUMBER.match(parts[-1])
    parent = _LEADING_NUMBER.match(parts[-2]) if len(parts) > 2 else None
    if own and parent and own.group(1).startswith(parent.group(1) + "."):
        return parts[-1][own.end():]
    return parts[-1]


@dataclass(frozen=True)
class Citation:
    n: int
    chunk_id: str
    source: str
    start: int
    end: int
    quote: str  # == document text[start:end]
    score: float
    verified: bool  # support == "found"
    # What the check of the answer against this passage found: "found" (its numbers, dates, names and
    # quotations, or the very words, are in the passage), "not_found" (one of them is not, or a negation
    # differs), "nothing_checkable" (the sentence states no such fact; its wording was not checked).
    support: str = "found"


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    answerable: bool
    mode: str
    citations: tuple[Citation, ...] = ()
    passages: tuple[Hit, ...] = ()
    standalone_question: str | None = None  # the follow-up rewritten, when history changed it
    unverified: tuple[str, ...] = ()  # answer sentences kept but not supported by their evidence
    warnings: tuple[str, ...] = ()  # e.g. the local model failed and the extractive answer was given instead
    # Not answered though passages may hold the answer: several answer about equally well and neither the rules
    # nor a verified model answer could tell which; the passages are there to read.
    undecided: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
