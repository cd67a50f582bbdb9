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

LEXICAL_WEIGHT = 0.3
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
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d\b")
_ENDS_LIKE_SENTENCE = re.compile(r"[.!?…][\"”’')\]]*$")


def asked_type(question: str) -> str | None:
    """"time" or "number" when the question asks for one (the answer must then contain one), else None."""
    if _ASKS_TIME.search(question) or _ASKS_SPAN.search(question):
        return "time"
    if _ASKS_NUMBER.search(question):
        return "number"
    return None


_SINCE = re.compile(r"\b(?:since|until|till)\s*$", re.IGNORECASE)
# "Until when ...?", "Since what year ...?": here "until 1956" is the answer, not a span around it.
_ASKS_SPAN = re.compile(r"\b(?:since|until|till)\s+(?:when|what year|which year|what date)\b", re.IGNORECASE)


def has_type(text: str, kind: str | None, spans_answer: bool = False) -> bool:
    if kind == "time":
        # "since 1991" anchors a span of time; it does not say when the thing asked about happened
        # (unless the question asks since or until when).
        return any(spans_answer or not _SINCE.search(text[: m.start()]) for m in _TEMPORAL.finditer(text))
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
    similarity: float  # cosine between question and sentence (with the sentence before, if it opens "He ...")
    context: float  # cosine between question and the sentence with its neighbours
    overlap: float  # share of the question's terms found in the sentence, each weighted by its rarity (idf)
    typed: bool  # holds what the question asks for (see asked_type)
    years: frozenset[str] = frozenset()  # years named in the passage or the text just before it

    @property
    def score(self) -> float:
        return (
            (1 - CONTEXT_WEIGHT) * self.similarity
            + CONTEXT_WEIGHT * self.context
            + LEXICAL_WEIGHT * self.overlap
            + TYPE_BONUS * self.typed
        )


# A sentence opening with one of these is about something the sentence before named ("He labeled ...").
_REFERS_BACK = re.compile(r"^(?:He|She|It|They|This|These)\b")
# "In November of the same year ..." leans on a year stated earlier, often before the passage starts.
LOOKBACK_CHARS = 800


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def candidates(question: str, query_vector: np.ndarray, hits: Sequence[Hit], store: Store) -> list[Candidate]:
    """Every statement-like sentence of the hits, once, scored; best first."""
    terms = set(tokenize([question])[0])
    weights = store.term_weights(sorted(terms)) if terms else {}
    total = sum(weights.values()) or 1.0
    kind = asked_type(question)
    spans_answer = bool(_ASKS_SPAN.search(question))
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
        window = _unit(vectors + 0.5 * (padded[:-2] + padded[2:]))
        with_previous = _unit(vectors + padded[:-2])
        sims, contexts, joined = vectors @ query, window @ query, with_previous @ query
        document = store.documents.get(chunk.source)
        before = document.text[max(0, chunk.start - LOOKBACK_CHARS) : chunk.start] if document else ""
        years = frozenset(_YEAR.findall(before + chunk.text))
        texts = chunk.sentence_texts()
        fresh = [
            i for i, span in enumerate(chunk.sentences)
            if (chunk.source, *span) not in seen and is_statement(texts[i])
        ]
        seen.update((chunk.source, *chunk.sentences[i]) for i in fresh)
        # One tokenizer call per passage, not per sentence: this runs on every question.
        for i, words in zip(fresh, tokenize([texts[i] for i in fresh])):
            similarity = float(sims[i])
            if i > 0 and _REFERS_BACK.match(texts[i]):
                similarity = max(similarity, float(joined[i]))
            overlap = sum(weights[t] for t in terms.intersection(words)) / total
            start, end = chunk.sentences[i]
            out.append(
                Candidate(
                    hit, start, end, texts[i], similarity, float(contexts[i]), overlap,
                    has_type(texts[i], kind, spans_answer), years,
                )
            )
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
CLOSE_MARGIN = 0.2  # sentences within this of the best may hold the date or number asked for


def answerable(question: str, ranked: Sequence[Candidate]) -> bool:
    """Whether the best evidence can answer the question at all; decided in code, not by a model.

    Off-topic questions fail the similarity floor. On-topic questions the documents do not answer usually
    ask for a kind of thing (a date, a number) that no close sentence holds, or name a year their passages lack.
    """
    if not ranked or ranked[0].similarity < MIN_SIMILARITY:
        return False
    close = [c for c in ranked[:3] if c.score >= ranked[0].score - CLOSE_MARGIN]
    if asked_type(question) and not any(c.typed for c in close):
        return False
    # A year the question names must be near a close sentence (not necessarily in it: "the 2015 agreement
    # ... by 2020" spreads over two sentences, "in November of the same year" names it a paragraph before).
    years = set(_YEAR.findall(question))
    return not years or any(years & c.years for c in close)


def best_first(question: str, ranked: Sequence[Candidate]) -> list[Candidate]:
    """Candidates holding what the question asks for go before those that do not."""
    if asked_type(question) is None:
        return list(ranked)
    return [c for c in ranked if c.typed] + [c for c in ranked if not c.typed]
