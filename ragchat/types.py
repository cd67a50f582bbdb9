"""The values that cross stage boundaries. Frozen, typed, and importing nothing of ours."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """A source file as a reader sees it: `text` is what every offset points into."""

    source: str  # path relative to the seeds folder, with forward slashes
    text: str
    sha256: str  # of the file's bytes, so a change to the file is noticed even if its text is not
    # (page number, character offset where that page starts); empty for formats without pages
    pages: tuple[tuple[int, int], ...] = ()

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
    # The sentences this chunk is made of, as (start, end) offsets into the document; each is embedded
    # on its own, and the chunk's vector is their normalised mean.
    sentences: tuple[tuple[int, int], ...] = ()

    def sentence_texts(self) -> list[str]:
        return [self.text[a - self.start : b - self.start] for a, b in self.sentences]


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


@dataclass(frozen=True)
class Citation:
    n: int
    chunk_id: str
    source: str
    start: int
    end: int
    quote: str  # == document text[start:end]
    score: float
    verified: bool


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
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
