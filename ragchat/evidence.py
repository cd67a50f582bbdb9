"""Hits → the units (sentences, list items, table rows) that best answer the question, each with its exact
span, and whether they can answer it at all.

Unit vectors were computed at index time, so scoring is a dot product per unit: no model call. A lexical
term rewards units holding the question's rarer words (names, numbers), which cosine similarity of a small
model tends to blur. Language-specific knowledge (which questions ask for a time or a number, word
splitting) comes from the document's Language; thresholds come from the index's Calibration.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .citations import WORD, numbers
from .language import get as get_language
from .store import HEADING_WEIGHT, Store
from .types import Document, Evidence, Hit, unit_words

# Weights of the unit score; chosen on the dev suite (docs/BENCHMARKS.md, "Evidence selection").
LEXICAL_WEIGHT = 0.3
TYPE_BONUS = 0.1  # a unit holding the kind of thing asked for (a date for "when", a number for "how many")
CONTEXT_WEIGHT = 0.3  # how much the passage around a unit counts (short units lean on their neighbours)
CLOSE_MARGIN = 0.2  # units within this of the best may hold the date or number asked for

_QUESTION_END = re.compile(r"[?？]\W*$")


@dataclass(frozen=True)
class Candidate:
    hit: Hit
    start: int
    end: int
    text: str
    kind: str
    header: str
    similarity: float  # cosine between question and unit
    context: float  # cosine between question and the unit with its neighbours
    overlap: float  # share of the question's terms found in the unit, each weighted by its rarity (idf)
    typed: bool  # holds what the question asks for (Language.question_kind)
    header_start: int = -1  # where the header stands in the document (Evidence.header_start), -1: nowhere
    header_quote: str = ""

    @property
    def score(self) -> float:
        return (
            (1 - CONTEXT_WEIGHT) * self.similarity
            + CONTEXT_WEIGHT * self.context
            + LEXICAL_WEIGHT * self.overlap
            + TYPE_BONUS * self.typed
        )

    def evidence(self, n: int) -> Evidence:
        chunk = self.hit.chunk
        return Evidence(n=n, chunk=chunk, source=chunk.source, start=self.start, end=self.end, text=self.text,
                        score=self.score, kind=self.kind, header=self.header, heading=chunk.heading,
                        header_start=self.header_start, header_quote=self.header_quote)


@dataclass(frozen=True)
class Gathered:
    """The scored candidates of a question, best first, and the code's verdict on answerability."""

    candidates: tuple[Candidate, ...]
    answerable: bool
    reason: str  # why not, in words ("" when answerable)
    kind: str | None  # what the question asks for: "time", "number" or None
    on_topic: bool = True  # the best units clear the similarity floor (False: the question is about something else)

    def _ranked(self) -> list[Candidate]:
        return [c for c in self.candidates if c.typed] + [c for c in self.candidates if not c.typed]

    @property
    def lead(self) -> float:
        """How far the first unit `select` gives scores above its nearest rival (all of its score when it has
        none). When the question asks for a date or a number, only units that hold one are rivals."""
        ranked = self._ranked()
        if not ranked:
            return 0.0
        rivals = [c for c in ranked[1:] if c.typed or not ranked[0].typed]
        return ranked[0].score - (rivals[0].score if rivals else 0.0)

    def select(self, limit: int, margin: float) -> list[Evidence]:
        """The best unit and any others scoring within `margin` of it, at most `limit`, numbered from 1;
        units holding what the question asks for go first."""
        ranked = self._ranked()
        if not ranked:
            return []
        best = ranked[0].score
        chosen = [c for c in ranked[:limit] if c.score >= best - margin]
        return [c.evidence(n) for n, c in enumerate(chosen, start=1)]


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def citable(text: str, kind: str, spaced: bool) -> bool:
    """Headings, table header rows and the questions a page asks itself restate a question; they never
    answer it."""
    if kind in ("heading", "header") or _QUESTION_END.search(text):
        return False
    if kind in ("row", "code"):
        return True
    return len(text.split()) >= 3 if spaced else len(text.strip()) >= 4


def candidates(question: str, query_vector: np.ndarray | None, hits: Sequence[Hit], store: Store) -> list[Candidate]:
    """Every citable unit of the hits, once (the same words in two chunks or files count once), best first.
    Without a query vector (the embedder does not read the library's language) a unit's closeness is its share
    of the question's terms, alone and with its neighbours, in place of the cosines."""
    terms = set(store.terms([question])[0])
    weights = store.term_weights(sorted(terms)) if terms else {}
    total = sum(weights.values()) or 1.0
    query = None if query_vector is None else np.asarray(query_vector, dtype=np.float32)
    seen: set[str] = set()
    block_starts: dict[str, list[int]] = {}
    out: list[Candidate] = []
    for hit in hits:
        chunk = hit.chunk
        if not chunk.sentences:
            continue
        document = store.documents.get(chunk.source)
        language = get_language(document.language if document else "en")
        kind_asked = language.question_kind(question)
        texts = chunk.sentence_texts()
        # One tokenizer call per passage, not per unit: this runs on every question.
        overlaps = np.array([sum(weights[t] for t in terms.intersection(words)) / total
                             for words in store.terms(texts)]) if texts else np.zeros(0)
        if query is not None:
            vectors = store.sentences_of(chunk)
            heading = store.heading_vector(chunk)
            if heading is not None:
                # Each unit under its section's title, as the model reads it: "It returns FFI_OK." says what
                # returns it only there. The answer's unit was among those the model reads for 0.78 of the dev
                # questions against 0.73 without (held-out 0.79 against 0.74; docs/BENCHMARKS.md, "A unit's
                # vector under its section's title").
                vectors = _unit(vectors + HEADING_WEIGHT * heading)
            # A unit in context: itself plus half of each neighbour, renormalised.
            padded = np.vstack([np.zeros_like(vectors[:1]), vectors, np.zeros_like(vectors[:1])])
            window = _unit(vectors + 0.5 * (padded[:-2] + padded[2:]))
            sims, contexts = vectors @ query, window @ query
        else:
            padded = np.concatenate([[0.0], overlaps, [0.0]])
            sims, contexts = overlaps, np.minimum(1.0, overlaps + 0.5 * (padded[:-2] + padded[2:]))
        fresh = []
        for i, text in enumerate(texts):
            key = " ".join(text.split()).lower()
            if key in seen or not citable(text, chunk.kind_of(i), language.spaced):
                continue
            seen.add(key)
            fresh.append(i)
        for i in fresh:
            start, end = chunk.sentences[i]
            header = chunk.headers[i] if i < len(chunk.headers) else ""
            where = None
            if header and document:
                if chunk.source not in block_starts:
                    block_starts[chunk.source] = [b.start for b in document.blocks]
                where = _header_block(document, block_starts[chunk.source], start, header)
            out.append(
                Candidate(
                    hit, start, end, texts[i], chunk.kind_of(i), header, float(sims[i]), float(contexts[i]),
                    float(overlaps[i]), language.has_kind(f"{header} {texts[i]}", kind_asked, question),
                    *(where or ()),
                )
            )
    out.sort(key=lambda c: -c.score)
    return out


def _header_block(document: Document, starts: Sequence[int], start: int, header: str) -> tuple[int, str] | None:
    """Where the header of the unit at `start` stands in the document, and its text: the nearest block before
    the unit's, past the blocks under the same header, whose words are all the header's (a definition's term,
    a table's header row). None when there is none. `starts`: the blocks' starts."""
    blocks = document.blocks
    at = bisect.bisect_right(starts, start) - 1
    held = set(WORD.findall(header.lower()))
    for j in range(at - 1, -1, -1):  # not a reversed slice: documents have thousands of blocks
        b = blocks[j]
        if b.header == header:
            continue
        text = document.text[b.start : b.end]
        words = set(WORD.findall(unit_words(text, b.kind).lower()))
        return (b.start, text) if words and words <= held else None
    return None


def _surroundings(candidate: Candidate, store: Store) -> str:
    """Where a number the question names may stand for this unit: its chunk under its heading path; the whole
    block (paragraph, list item, row) that holds it, since a chunk may start after the year its paragraph is
    about ("In October 2014, … In November of the same year, …"); and its document's title and file name
    ("In CC0 1.0, …" names the version only CC0-1.0.txt holds)."""
    chunk = candidate.hit.chunk
    document = store.documents.get(chunk.source)
    if document is None:
        return f"{chunk.heading} {chunk.text}"
    block = next((b for b in document.blocks if b.start <= candidate.start < b.end), None)
    held = document.text[block.start : block.end] if block else ""
    return f"{chunk.heading} {chunk.text} {held} {document.title} {Path(document.source).stem}"


def gather(question: str, query_vector: np.ndarray | None, hits: Sequence[Hit], store: Store) -> Gathered:
    """Score the hits' units and decide, in code, whether they can answer the question at all.

    Off-topic questions fail the corpus's calibrated similarity floor. On-topic questions the documents do
    not answer often ask for a kind of thing (a date, a number) that no close unit holds, or name a number
    (a year, a version) that none of the close units' passages contains."""
    ranked = candidates(question, query_vector, hits, store)
    document = store.documents.get(hits[0].chunk.source) if hits else None
    kind = get_language(document.language if document else "en").question_kind(question)
    floor = store.calibration.similarity_floor
    if not ranked:
        return Gathered((), False, "no passage holds a citable sentence", kind, on_topic=False)
    best = max(c.similarity for c in ranked[:5])
    if query_vector is not None and best < floor:
        reason = f"the closest sentence is about something else ({best:.2f} < {floor:.2f})"
        return Gathered(tuple(ranked), False, reason, kind, on_topic=False)
    close = [c for c in ranked[:3] if c.score >= ranked[0].score - CLOSE_MARGIN]
    if kind and not any(c.typed for c in close):
        return Gathered(tuple(ranked), False, f"no close sentence holds the {kind} asked for", kind)
    named = set(numbers(question))
    if named:
        around = set(numbers(" ".join(_surroundings(c, store) for c in close)))
        if not named & around:
            return Gathered(tuple(ranked), False, "the numbers the question names are not in the close passages", kind)
    return Gathered(tuple(ranked), True, "", kind)
