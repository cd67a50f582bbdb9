"""The JSON shapes scripts see, the same from the CLI, the Python API and HTTP."""

from __future__ import annotations

from .types import Answer, Citation, Hit


def hit_json(hit: Hit) -> dict:
    c = hit.chunk
    return {"chunk_id": c.id, "source": c.source, "start": c.start, "end": c.end, "text": c.text,
            "score": round(hit.score, 6)}


def citation_json(citation: Citation) -> dict:
    return {
        "n": citation.n,
        "chunk_id": citation.chunk_id,
        "source": citation.source,
        "start": citation.start,
        "end": citation.end,
        "quote": citation.quote,
        "score": citation.score,
        "verified": citation.verified,
    }


def answer_json(answer: Answer) -> dict:
    return {
        "question": answer.question,
        "answer": answer.answer,
        "answerable": answer.answerable,
        "mode": answer.mode,
        "citations": [citation_json(c) for c in answer.citations],
        "passages": [hit_json(h) for h in answer.passages],
        "standalone_question": answer.standalone_question,
        "unverified": list(answer.unverified),
        "warnings": list(answer.warnings),
        "undecided": answer.undecided,
        "timings_ms": answer.timings_ms,
    }
