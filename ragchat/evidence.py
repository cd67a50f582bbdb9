"""Hits → the few sentences that best answer the question, each with its exact span (Evidence).

Sentence vectors were computed at index time, so scoring is a dot product per sentence: no model call.
A small lexical term rewards sentences that contain the question's rarer words (names, numbers), which
cosine similarity of a small model tends to blur.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .keyword import tokenize
from .store import Store
from .types import Evidence, Hit

LEXICAL_WEIGHT = 0.15
TYPE_BONUS = 0.1  # a sentence holding the kind of thing asked for (a date for "when", a number for "how many")
CONTEXT_WEIGHT = 0.3  # how much the passage around a sentence counts (short sentences lean on their neighbours)

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_TEMPORAL = re.compile(
    rf"\b(?:1[5-9]\d\d|20\d\d)s?\b|\b(?:{_MONTHS})\b|\b\d{{1,2}}(?:st|nd|rd|th)? century\b|\bdecades?\b"
    r"|\b(?:yesterday|today)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?"
    r"|thousands?|millions?|billions?|dozens?|half|double|twice)\b",
    re.IGNORECASE,
)
_ASKS_TIME = re.compile(r"^\s*(?:when|since when|until when|in what year|what year|which year|on what date|what date)\b"
                        r"|\b(?:birthday|born|what year|which year|what date)\b", re.IGNORECASE)
_ASKS_NUMBER = re.compile(
    r"\bhow (?:many|much|long|large|big|far|old|high|deep)\b|\b(?:population|gdp|percentage|number of|volume|cost|price)\b",
    re.IGNORECASE,
)
_ENDS_LIKE_SENTENCE = re.compile(r"[.!?…][\"”’')\]]*$")


def asked_type(question: str) -> str | None:
    """"time" or "number" when the question asks for one (the answer must then contain one), else None."""
    if _ASKS_TIME.search(question):
        return "time"
    if _ASKS_NUMBER.search(question):
        return "number"
    return None


_SINCE = re.compile(r"\b(?:since|until|till)\s*$", re.IGNORECASE)


def has_type(text: str, kind: str | None) -> bool:
    if kind == "time":
        # "since 1991" anchors a span of time; it does not say when the thing asked about happened.
        return any(not _SINCE.search(text[: m.start()]) for m in _TEMPORAL.finditer(text))
    if kind == "number":
        return bool(_NUMBER.search(text))
    return True


def is_statement(text: str) -> bool:
    """Headings and captions ("The strategic importance of North Korea") make poor evidence."""
    return len(text.split()) >= 5 and bool(_ENDS_LIKE_SENTENCE.search(text.strip()))


@dataclass(frozen=True)
class Candidate:
    hit: Hit
    start: int
    end: int
    text: str
    similarity: float  # cosine between question and sentence
    context: float  # cosine between question and the sentence with its neighbours
    overlap: float  # share of the question's terms found in the sentence
    typed: bool  # holds what the question asks for (see asked_type)

    @property
    def score(self) -> float:
        return (
            (1 - CONTEXT_WEIGHT) * self.similarity
            + CONTEXT_WEIGHT * self.context
            + LEXICAL_WEIGHT * self.overlap
            + TYPE_BONUS * self.typed
        )


def candidates(question: str, query_vector: np.ndarray, hits: Sequence[Hit], store: Store) -> list[Candidate]:
    """Every statement-like sentence of the hits, once, scored; best first."""
    terms = set(tokenize([question])[0])
    kind = asked_type(question)
    query = np.asarray(query_vector, dtype=np.float32)
    seen: set[tuple[str, int, int]] = set()
    out: list[Candidate] = []
    for hit in hits:
        chunk = hit.chunk
        if not chunk.sentences:
            continue
        vectors = store.sentences_of(chunk)
        # A sentence in context: itself plus half of each neighbour, renormalised.
        padded = np.vstack([np.zeros_like(vectors[:1]), vectors, np.zeros_like(vectors[:1])])
        window = vectors + 0.5 * (padded[:-2] + padded[2:])
        window /= np.maximum(np.linalg.norm(window, axis=1, keepdims=True), 1e-9)
        sims, contexts = vectors @ query, window @ query
        fresh = [
            (span, text, sim, ctx)
            for span, text, sim, ctx in zip(chunk.sentences, chunk.sentence_texts(), sims, contexts)
            if (chunk.source, *span) not in seen and is_statement(text)
        ]
        seen.update((chunk.source, *span) for span, _, _, _ in fresh)
        # One tokenizer call per passage, not per sentence: this runs on every question.
        for ((start, end), text, sim, ctx), words in zip(fresh, tokenize([t for _, t, _, _ in fresh])):
            overlap = len(terms & set(words)) / len(terms) if terms else 0.0
            out.append(Candidate(hit, start, end, text, float(sim), float(ctx), overlap, has_type(text, kind)))
    out.sort(key=lambda c: -c.score)
    return out


def select(ranked: Sequence[Candidate], limit: int, margin: float) -> list[Evidence]:
    """The best sentence and any others scoring within `margin` of it, at most `limit`, numbered from 1."""
    if not ranked:
        return []
    best = ranked[0].score
    chosen = [c for c in ranked[:limit] if c.score >= best - margin]
    return [
        Evidence(n=n, chunk=c.hit.chunk, source=c.hit.chunk.source, start=c.start, end=c.end, text=c.text, score=c.score)
        for n, c in enumerate(chosen, start=1)
    ]


MIN_SIMILARITY = 0.35  # below this the best sentence is about something else (calibrated: docs/BENCHMARKS.md)
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d\b")


def answerable(question: str, ranked: Sequence[Candidate]) -> bool:
    """Whether the best evidence can answer the question at all; decided in code, not by a model.

    Off-topic questions fail the similarity floor. On-topic questions the documents do not answer usually
    ask for a kind of thing (a date, a number) that no close sentence holds, or name a year their passages lack.
    """
    if not ranked or ranked[0].similarity < MIN_SIMILARITY:
        return False
    close = [c for c in ranked[:3] if c.score >= ranked[0].score - 0.1]
    if asked_type(question) and not any(c.typed for c in close):
        return False
    # A year the question names must be in the passage of a close sentence (not necessarily the sentence
    # itself: "the 2015 agreement ... by 2020" spreads over two sentences).
    years = set(_YEAR.findall(question))
    return not years or any(years & set(_YEAR.findall(c.hit.chunk.text)) for c in close)


def best_first(question: str, ranked: Sequence[Candidate]) -> list[Candidate]:
    """Candidates holding what the question asks for go before those that do not."""
    if asked_type(question) is None:
        return list(ranked)
    return [c for c in ranked if c.typed] + [c for c in ranked if not c.typed]
