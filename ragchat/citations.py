"""The [n] citation convention, in one place: number evidence for prompts, compose extractive answers,
parse markers in generated text, verify that each sentence is supported by what it cites, and turn the
survivors into Citations with exact spans.

A marker [n] refers to evidence number n (1-based). Markers outside 1..len(evidence) resolve to nothing
and are removed: [0] never means "the last one".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from .sentences import sentence_spans
from .types import Citation, Evidence

MARKER = re.compile(r"\[(\d{1,4})\]")
# "[1, 2]" and "[1][2]" are both read; "[1-3]" is not a form we ask for.
_GROUP = re.compile(r"\[(\d{1,4}(?:\s*,\s*\d{1,4})+)\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d{1,4}\])+[.,;]?\s*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_QUOTED = re.compile(r"[\"“]([^\"”]{3,})[\"”]")
# Capitalised words that are not sentence-initial: names, places, organisations.
_NAME = re.compile(r"(?<=[a-z0-9,;:)] )[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*")
# Months are dates wherever they stand: a short answer "July 2014" opens with one.
_MONTH = re.compile(r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\b")


def render_evidence(evidence: Sequence[Evidence]) -> str:
    return "\n".join(f"[{e.n}] {' '.join(e.text.split())}" for e in evidence)


def compose_extractive(evidence: Sequence[Evidence]) -> str:
    """The answer made of the evidence sentences themselves, each followed by its marker."""
    return " ".join(f"{' '.join(e.text.split())} [{e.n}]" for e in evidence)


def normalise_markers(text: str) -> str:
    return _GROUP.sub(lambda m: "".join(f"[{n.strip()}]" for n in m.group(1).split(",")), text)


def markers(text: str) -> list[int]:
    return [int(m) for m in MARKER.findall(normalise_markers(text))]


@dataclass(frozen=True)
class Verified:
    answer: str  # the text with dangling markers removed; valid markers keep their numbers
    citations: tuple[Citation, ...]
    unverified: tuple[str, ...]  # answer sentences (without markers) not supported by their evidence
    verified_sentences: int


def required_facts(sentence: str) -> list[str]:
    """What a sentence claims that its evidence must also contain: numbers, dates, names."""
    facts = [m.group(0) for m in _NUMBER.finditer(sentence)]
    facts += [m.group(0) for m in _MONTH.finditer(sentence)]
    facts += [m.group(0) for m in _NAME.finditer(sentence)]
    return facts


def supported(sentence: str, evidence_text: str) -> bool:
    """Every number, name and quotation in the sentence occurs in the cited evidence."""
    plain = MARKER.sub("", sentence)
    for quote in _QUOTED.findall(plain):
        if quote.strip() not in evidence_text:
            return False
    haystack = _fold(evidence_text)
    # "a ten-day visit" supports "10 days": a number may be written out in the evidence.
    spelled = _SPELLED.sub(lambda m: _SMALL_NUMBERS[m.group(0)], haystack)
    return all((fact := _fold(f)) in haystack or fact in spelled for f in required_facts(plain))


_SMALL_NUMBERS = {
    word: str(n)
    for n, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_SPELLED = re.compile(rf"\b(?:{'|'.join(_SMALL_NUMBERS)})\b")


def _fold(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("‘", "'").lower().split())


_WORD = re.compile(r"\w{3,}")


def attribute(text: str, evidence: Sequence[Evidence]) -> str:
    """Give an answer written without markers the marker of the evidence that supports it: of the sentences
    that pass `supported`, the one sharing most of its words (the earlier, better-ranked one on a tie).
    Text that already cites, or that no sentence supports, is returned as it is (verify judges it)."""
    if not text.strip() or markers(text):
        return text
    words = set(_WORD.findall(_fold(text)))
    best, shared = None, 0
    for e in evidence:
        count = len(words & set(_WORD.findall(_fold(e.text))))
        if count > shared and supported(text, e.text):
            best, shared = e, count
    return f"{text.strip()} [{best.n}]" if best else text


def verify(text: str, evidence: Sequence[Evidence]) -> Verified:
    """Check generated text against the evidence it cites and build the citations."""
    text = normalise_markers(text).strip()
    by_n = {e.n: e for e in evidence}
    sentences = _answer_sentences(text)
    # Numbers are kept as the generator wrote them (not renumbered), so text already streamed to a reader
    # matches the citations that arrive at the end.
    order: list[int] = []
    support: dict[int, bool] = {}
    parts: list[str] = []
    unverified: list[str] = []
    verified_count = 0
    for sentence in sentences:
        cited = [n for n in dict.fromkeys(markers(sentence)) if n in by_n]
        body = " ".join(MARKER.sub("", sentence).split())
        if not body:
            continue
        body = re.sub(r"\s+([.,;:!?])", r"\1", body)
        ok = bool(cited) and supported(body, " ".join(by_n[n].text for n in cited))
        if ok:
            verified_count += 1
        else:
            unverified.append(body)
        for n in cited:
            if n not in support:
                order.append(n)
            support[n] = support.get(n, False) or ok
        tags = "".join(f"[{n}]" for n in cited)
        parts.append(f"{body} {tags}" if tags else body)
    citations = tuple(
        Citation(
            n=n,
            chunk_id=by_n[n].chunk.id,
            source=by_n[n].source,
            start=by_n[n].start,
            end=by_n[n].end,
            quote=by_n[n].text,
            score=round(by_n[n].score, 6),
            verified=support[n],
        )
        for n in order
    )
    return Verified(" ".join(parts), citations, tuple(unverified), verified_count)


def _answer_sentences(text: str) -> list[str]:
    """Sentences of an answer, with markers that trail a sentence ("... July. [1]") kept on it."""
    out: list[str] = []
    for start, end in sentence_spans(text):
        piece = text[start:end]
        leading = _LEADING_MARKERS.match(piece)
        if out and leading:  # the splitter put "[1]" at the start of the next sentence
            out[-1] += " " + leading.group(0).strip()
            piece = piece[leading.end() :]
        if out and MARKER.sub("", piece).strip(" .,;") == "":
            out[-1] += " " + piece
        elif piece.strip():
            out.append(piece)
    return out
