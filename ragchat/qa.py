"""Orchestration only: question (+ history) → Answer.

rewrite follow-up → retrieve → pick evidence sentences → abstain? → generate → verify in code.
Every stage lives in its own module; this one decides the order and what happens when a stage fails.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Iterator, Mapping, Sequence

from . import evidence as evidence_mod
from .citations import attribute, compose_extractive, verify
from .embedding import Embedder, load_embedder
from .errors import ModelError, QuestionError, QuestionTooLongError
from .generation import NOT_ANSWERED, Extractive, Generator, Turn, local_available, make_generator
from .indexing import IndexReport, Progress, build_index
from .prompts import Prompts
from .retrieval import Retriever, open_retriever
from .settings import MODES, Settings
from .types import Answer, Document, Hit

log = logging.getLogger(__name__)

# (how many sentences, how far below the best they may score). Extractively the evidence *is* the answer, so
# a second sentence joins only when it scores almost as well as the best; a model reads more and picks.
# Prompt processing dominates local latency: always showing five sentences instead of those within 0.25
# answered one more question of 91 and took 1.2 s longer (median; docs/BENCHMARKS.md).
EVIDENCE_EXTRACTIVE = (3, 0.03)
EVIDENCE_FOR_MODEL = (5, 0.25)
HISTORY_TURNS = 6


@dataclass
class QA:
    settings: Settings
    embedder: Embedder
    retriever: Retriever
    prompts: Prompts
    _generators: dict[str, Generator] = field(default_factory=dict)
    _broken: dict[str, str] = field(default_factory=dict)  # mode → why it could not load
    # Two first requests at once must not both load a 1.1 GB model.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- public API ----------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence = (), mode: str | None = None, top_k: int | None = None) -> Answer:
        answer = None
        for item in self.ask_stream(question, history, mode, top_k):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def ask_stream(
        self, question: str, history: Sequence = (), mode: str | None = None, top_k: int | None = None
    ) -> Iterator[str | Answer]:
        """Yields text deltas as they are generated, then the verified Answer (whose text may differ:
        markers pointing nowhere are removed and, on fallback, the extractive text replaces it)."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        question = self._check(question)
        turns = _turns(history)
        k = top_k or self.settings.top_k
        if k < 1:
            raise QuestionError(f"top_k must be greater than 0, got {k}")
        generator, warnings = self._generator(mode or self.settings.mode)

        clock = time.perf_counter()
        standalone = generator.rewrite(question, turns[-HISTORY_TURNS:]) if turns else question
        timings["rewrite"] = _ms(clock)

        clock = time.perf_counter()
        query_vector = self.embedder.encode_query(standalone)
        hits = self.retriever.search(standalone, k, query_vector=query_vector)
        timings["retrieve"] = _ms(clock)

        clock = time.perf_counter()
        ranked = evidence_mod.candidates(standalone, query_vector, hits, self.retriever.store)
        ok = evidence_mod.answerable(standalone, ranked)
        ordered = evidence_mod.best_first(standalone, ranked)
        extractive = evidence_mod.select(ordered, *EVIDENCE_EXTRACTIVE)
        chosen = extractive if generator.mode == "extractive" else evidence_mod.select(ordered, *EVIDENCE_FOR_MODEL)
        timings["evidence"] = _ms(clock)

        base = Answer(
            question=question,
            answer="",
            answerable=False,
            mode=generator.mode,
            passages=tuple(hits),
            standalone_question=standalone if standalone != question else None,
            warnings=tuple(warnings),
        )
        if not ok or not chosen:
            yield self.prompts.abstain
            timings["total"] = _ms(started)
            yield replace(base, answer=self.prompts.abstain, timings_ms=timings)
            return

        clock = time.perf_counter()
        text, failure, held = "", None, True  # held: the text so far could still be NOT IN DOCUMENTS
        try:
            for delta in generator.answer(standalone, chosen):
                if not text:
                    timings["first_token"] = _ms(started)
                text += delta
                if held and not NOT_ANSWERED.startswith(text.strip().upper()):
                    held = False
                    delta = text  # release what was held back
                if not held:
                    yield delta
        except ModelError as e:
            failure = str(e)
            log.warning("%s; answering extractively", e)
        timings["generate"] = _ms(clock)

        if failure is None and NOT_ANSWERED in text.upper():
            # The reader sees the fixed message, never the model's code word.
            if held:
                yield self.prompts.abstain
            timings["total"] = _ms(started)
            yield replace(base, answer=self.prompts.abstain, timings_ms=timings)
            return
        if held and text:  # it began like the code word but was not: the reader gets it after all
            yield text
        # A generator that answers in the evidence's own words without markers gets them here, from the
        # sentence that supports the words; verify() then checks that sentence like any other citation.
        checked = verify(attribute(text, chosen), chosen) if failure is None else None
        if checked is None or checked.verified_sentences == 0:
            # Nothing the model wrote survived verification: give the evidence itself.
            reason = failure or f"the {generator.mode} answer could not be verified against the passages"
            checked = verify(compose_extractive(extractive), extractive)
            base = replace(base, mode="extractive", warnings=base.warnings + (reason + "; showing the passages' own words",))
            if text:
                yield "\n\n"
            yield checked.answer
        elif checked.answer.startswith(text.strip()) and len(checked.answer) > len(text.strip()):
            # The marker attribute() added: stream it too, so the streamed text reads as the final answer.
            yield checked.answer[len(text.strip()) :]
        timings["total"] = _ms(started)
        yield replace(
            base,
            answer=checked.answer,
            answerable=True,
            citations=checked.citations,
            unverified=checked.unverified,
            timings_ms=timings,
        )

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        return self.retriever.search(self._check(question), k or self.settings.top_k)

    def document(self, source: str) -> Document | None:
        return self.retriever.store.documents.get(source)

    def documents(self) -> list[Document]:
        """The indexed documents, sorted by name."""
        return sorted(self.retriever.store.documents.values(), key=lambda d: d.source)

    def reindex(self, progress: Progress | None = None) -> IndexReport:
        """Bring the index up to date with the documents folder and search the new one."""
        report = build_index(self.settings, self.embedder, progress=progress)
        if report.written:
            self.retriever = open_retriever(self.settings, self.embedder)
        return report

    def available_modes(self) -> list[str]:
        modes = ["extractive", "openai"]
        if local_available(self.settings):
            modes.insert(1, "local")
        return modes

    # --- internals -----------------------------------------------------------------------------

    def _check(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise QuestionError("the question is empty: type a question about the documents")
        if len(question) > self.settings.max_question_chars:
            raise QuestionTooLongError(
                f"the question is {len(question):,} characters long; the limit is "
                f"{self.settings.max_question_chars:,}: shorten it (or raise RAGCHAT_MAX_QUESTION_CHARS)"
            )
        return " ".join(question.split())

    def _generator(self, mode: str) -> tuple[Generator, list[str]]:
        if mode not in MODES:
            raise QuestionError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        if mode == "auto":
            mode = "local" if local_available(self.settings) else "extractive"
        with self._lock:
            if mode in self._generators:
                return self._generators[mode], []
            if mode in self._broken:
                return Extractive(), [self._broken[mode]]
            try:
                generator = make_generator(mode, self.settings, self.prompts)
            except ModelError as e:
                log.warning("%s; answering extractively", e)
                self._broken[mode] = f"{mode} mode is unavailable ({e}); answered extractively"
                return Extractive(), [self._broken[mode]]
            self._generators[mode] = generator
            return generator, []


def _turns(history: Sequence) -> list[Turn]:
    """Accept OpenAI-style messages ({"role", "content"}) or (role, content) pairs."""
    turns: list[Turn] = []
    for item in history or ():
        if isinstance(item, Mapping):
            role, content = item.get("role"), item.get("content")
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            role, content = item
        else:
            raise QuestionError("history must be a list of {\"role\": ..., \"content\": ...} messages")
        if role in ("user", "assistant") and isinstance(content, str):
            turns.append((role, content))
    return turns


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def load(settings: Settings | None = None, embedder: Embedder | None = None, build: bool = True) -> QA:
    """The QA service: settings from RAGCHAT_* (unless given), models loaded once, index built if missing."""
    settings = settings or Settings.from_env()
    embedder = embedder or load_embedder(settings.embedder, settings.torch_threads)
    prompts = Prompts.load(settings.prompts_dir)
    if build and not (settings.index_dir / "CURRENT").exists():
        log.warning("no index in %s/: building it from %s/", settings.index_dir, settings.seeds_dir)
        build_index(settings, embedder)
    return QA(settings, embedder, open_retriever(settings, embedder), prompts)
