"""Orchestration only: question (+ history) → Answer.

rewrite follow-up → retrieve → gather evidence (abstain?) → generate → verify in code → stream.
Readers only ever see verified text: drafts are checked before anything of them is shown.
Every stage lives in its own module; this one decides the order and what happens when a stage fails.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
import typing
from typing import Collection, Iterator, Mapping, Sequence

from . import evidence as evidence_mod
from .citations import (Verified, attribute, compose_extractive, join_parts, markers, source_of, verify,
                        without_markers)
from .embedding import Embedder, load_embedder
from .errors import ModelError, QuestionError, QuestionTooLongError, RagError
from .generation import (Declined, Draft, Extractive, Generator, GeneratorEvent, Turn, local_available,
                         make_generator)
from .indexing import IndexReport, Progress, build_index
from .prompts import Prompts
from .retrieval import Retriever, open_retriever
from .settings import MODES, Settings
from .store import index_exists
from .types import Answer, Document, Evidence, Hit

log = logging.getLogger(__name__)

HISTORY_TURNS = 6


@dataclass(frozen=True)
class Stage:
    """What the answer path is doing now, for a reader waiting on it."""

    name: str  # "rewriting", "searching", "reading", "writing", "checking"
    message: str


@dataclass(frozen=True)
class Sources:
    """The passages retrieved, sent before any answer text."""

    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Delta:
    """Answer text a reader may see: only ever verified text, or the fixed abstain message."""

    text: str


Event = Stage | Sources | Delta | Answer


@dataclass(frozen=True)
class Generated:
    """What the generator produced, before any check."""

    text: str
    declined: bool
    failure: str | None  # why the generator failed, when it did


# How often a running generation reports its progress. Each report is also where a reader who stops listening
# (Stop in the chat, a closed connection) closes the answer path, and closing it stops the model: so this is
# also the longest a cancelled generation runs on.
PROGRESS_EVERY_S = 0.25


def generate(events: Iterator[GeneratorEvent]) -> "typing.Generator[Stage, None, Generated]":
    """Run a generator's answer to the end. Its drafts are collected, not shown: verification comes first.
    Yields a "writing" stage with the draft's length now and then; returns what was generated."""
    text, declined = "", False
    reported = time.perf_counter()
    try:
        for event in events:
            if isinstance(event, Draft):
                text += event.text
            elif isinstance(event, Declined):
                declined = True
            if time.perf_counter() - reported >= PROGRESS_EVERY_S:
                words = len(text.split())
                yield Stage("writing", f"Writing the answer: {words} word{'s' if words != 1 else ''} so far")
                reported = time.perf_counter()
    except ModelError as e:
        log.warning("%s; answering extractively", e)
        return Generated(text, False, str(e))
    return Generated(text, declined, None)


@dataclass(frozen=True)
class _Part:
    """What one question, or one part of a question, came to."""

    question: str
    checked: Verified | None  # None: the documents do not answer it
    warnings: tuple[str, ...] = ()  # set when the generator's answer was replaced by the passages' words
    undecided: bool = False  # not answered because the rules could not tell which of several passages answers


# What _part yields while it works (stages, sources), and returns when done.
PartSteps = typing.Generator["Event", None, _Part]


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
    _reload: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- public API ----------------------------------------------------------------------------

    def use(self, mode: str, generator: Generator) -> None:
        """Answer `mode` with this generator (a remote model, or a fake in tests) instead of the built-in one."""
        with self._lock:
            self._generators[mode] = generator
            self._broken.pop(mode, None)

    def generator(self, mode: str) -> Generator:
        """The generator answering `mode` (loaded on first use); the extractive one if it cannot load."""
        return self._generator(mode)[0]

    def ask(self, question: str, history: Sequence = (), mode: str | None = None, top_k: int | None = None,
            sources: Collection[str] | None = None) -> Answer:
        answer = None
        for event in self.events(question, history, mode, top_k, sources):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def ask_stream(
        self, question: str, history: Sequence = (), mode: str | None = None, top_k: int | None = None,
        sources: Collection[str] | None = None,
    ) -> Iterator[str | Answer]:
        """Yields answer text as readers may see it (verified), then the Answer."""
        for event in self.events(question, history, mode, top_k, sources):
            if isinstance(event, Delta):
                yield event.text
            elif isinstance(event, Answer):
                yield event

    def events(
        self, question: str, history: Sequence = (), mode: str | None = None, top_k: int | None = None,
        sources: Collection[str] | None = None,
    ) -> Iterator[Event]:
        """The answer path as it happens: stages, the sources, then verified text and the Answer.
        `sources`: search only these documents (names as in `documents()`); None or empty: all of them.

        rewrite follow-up → retrieve → gather evidence (abstain?) → generate → verify → fall back."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        question = self._check(question)
        turns = _turns(history)
        k = top_k or self.settings.top_k
        if k < 1:
            raise QuestionError(f"top_k must be greater than 0, got {k}")
        only = self._check_sources(sources)
        generator, warnings = self._generator(mode or self.settings.mode)

        clock = time.perf_counter()
        standalone = question
        if turns:
            yield Stage("rewriting", "Reading the conversation")
            standalone = generator.rewrite(question, turns[-HISTORY_TURNS:])
        timings["rewrite"] = _ms(clock)

        store = self.current().store
        base = Answer(
            question=question,
            answer="",
            answerable=False,
            mode=generator.mode,
            standalone_question=standalone if standalone != question else None,
            warnings=tuple(warnings),
        )
        # "What is X, and when did Y?" is two questions: each gets its own passages, evidence and check,
        # and is answered or said to be not in the documents on its own.
        parts = store.language.question_parts(standalone)
        results: list[_Part] = []
        hits: list[Hit] = []
        for part in parts:
            result = yield from self._part(part, standalone, generator, k, timings, hits, only)
            results.append(result)
        base = replace(base, passages=tuple(hits))
        answered = [r for r in results if r.checked is not None]
        if not answered:
            yield from self._abstain(base, timings, started, undecided=all(r.undecided for r in results))
            return
        if len(results) == 1:
            checked = results[0].checked
        else:
            checked = join_parts([(r.question, r.checked) for r in results], self.prompts.abstain_part)
        fell_back = [w for r in answered for w in r.warnings]
        if fell_back and len(fell_back) == len(answered):
            base = replace(base, mode="extractive")
        base = replace(base, warnings=base.warnings + tuple(dict.fromkeys(fell_back)))
        yield Delta(checked.answer)
        timings["total"] = _ms(started)
        yield replace(
            base,
            answer=checked.answer,
            answerable=True,
            citations=checked.citations,
            unverified=checked.unverified,
            timings_ms=timings,
        )

    def _part(
        self, question: str, whole: str, generator: Generator, k: int, timings: dict[str, float], hits: list[Hit],
        only: frozenset[str] | None = None,
    ) -> "PartSteps":
        """One question (or one part of a question): retrieve, gather, generate, verify, fall back.
        Yields stages and the sources; returns what was found (checked None: not in the documents)."""
        yield Stage("searching", "Searching the documents")
        clock = time.perf_counter()
        query_vector = self.embedder.encode_query(question)
        found = self.retriever.search(question, k, query_vector=query_vector, sources=only)
        if whole != question:  # a part may lean on the rest ("…, and when was it added?")
            found += [h for h in self.retriever.search(whole, k, sources=only) if all(h.chunk.id != f.chunk.id for f in found)]
        timings["retrieve"] = timings.get("retrieve", 0.0) + _ms(clock)
        hits.extend(h for h in found if all(h.chunk.id != o.chunk.id for o in hits))
        yield Sources(tuple(hits))

        clock = time.perf_counter()
        store = self.retriever.store
        # Cosines of an embedder that cannot read the library's language say nothing: words decide there.
        reads = self.embedder.reads(store.language.code)
        gathered = evidence_mod.gather(question, query_vector if reads else None, found, store)
        chosen = gathered.select(generator.budget.units, generator.budget.margin)
        timings["evidence"] = timings.get("evidence", 0.0) + _ms(clock)
        # The code's rules screen first, for every generator: measured on the dev suite, the bundled 1.5B model
        # seldom declines by itself (it answered 12 of 35 unanswerable questions), while the rules let through
        # all but 1 of 118 questions it answered right (docs/BENCHMARKS.md, "Local mode: rules screen first").
        # A generator that reads (`judges`) may still decline what the rules let through.
        if not gathered.answerable or not chosen:
            return _Part(question, None)
        if not generator.judges and gathered.lead < generator.budget.lead:
            return _Part(question, None, undecided=True)  # two units answer about as well: which one is right?
        language = store.language
        decided = gathered.lead >= Extractive.budget.lead  # the rules alone can tell which unit answers
        # What the rules would quote (the best unit, and any scoring almost as well).
        fallback = gathered.select(Extractive.budget.units, Extractive.budget.margin)
        if generator.copies and language.asks_whether(question):
            # "Is there a security advantage in …?" is answered by the sentence that settles it ("There is no
            # inherent security advantage in …"), not by a few words of it. Asked to copy words, the bundled
            # model wrote "Yes", which checks nothing, or declined: 3 of 24 answerable whether-questions of a probe
            # set right. So the rules pick the unit, as in extractive mode, and the model reads it once: 19 of 24
            # (docs/BENCHMARKS.md, "Whether-questions").
            if not decided:
                return _Part(question, None, undecided=True)
            yield Stage("reading", f"Reading {len(fallback)} passage{'s' if len(fallback) != 1 else ''}")
            checked = verify(compose_extractive(fallback), fallback, language)
            confirmed = yield from self._second_reading(question, checked, fallback, generator, timings)
            return _Part(question, checked if confirmed else None)

        yield Stage("reading", f"Reading {len(chosen)} passage{'s' if len(chosen) != 1 else ''}")
        clock = time.perf_counter()
        generated = yield from generate(generator.answer(question, chosen))
        timings["generate"] = timings.get("generate", 0.0) + _ms(clock)
        if generated.declined:
            return _Part(question, None)

        yield Stage("checking", "Checking the answer against the passages")
        # A generator that answers in the evidence's own words without markers gets them here, from the
        # unit that supports the words; verify() then checks that unit like any other citation.
        checked = verify(attribute(generated.text, chosen, language), chosen, language) \
            if generated.failure is None else None
        if checked is not None and not checked.verified_sentences and generator.copies \
                and not markers(generated.text) and decided:
            # Its own words did not check out ("July 2014" from "At the end of July" and a year elsewhere): asked
            # once more, held to words copied from the units the rules would quote, the model says which of their
            # words answer, or declines. Not from any unit it read: answering "Yes" or "No" fails the check too,
            # and then it copied a name from another passage. Not when the rules cannot tell either: the model's
            # slip and the rules' tie both say "unsure" (docs/BENCHMARKS.md, "Copied answers").
            yield Stage("writing", "Answering again in the passages' own words")
            clock = time.perf_counter()
            again = yield from generate(generator.copy_answer(question, chosen, fallback))
            timings["generate"] += _ms(clock)
            if again.declined:
                return _Part(question, None)
            yield Stage("checking", "Checking the answer against the passages")
            if again.failure is None:
                checked = verify(attribute(again.text, fallback, language), fallback, language)
        if checked is not None and checked.verified_sentences:
            # Verification finds the answer's facts in the passage; whether the passage gives them as the answer
            # to *this* question is a reading: "Who is the Russian ambassador?" → "General Sergei Shoigu" checks
            # out, the name is there. Asked once more, question, answer and passage side by side, the bundled
            # model turned down 6 of 8 such answers on the dev suite and 3 of 117 right ones
            # (docs/BENCHMARKS.md, "A second reading").
            confirmed = yield from self._second_reading(question, checked, chosen, generator, timings)
            return _Part(question, checked if confirmed else None)
        picked = [chosen[n - 1] for n in dict.fromkeys(markers(generated.text)) if 1 <= n <= len(chosen)]
        if picked:
            # The model's words did not check out, but it did say which units answer: quote those.
            fallback = [replace(e, n=i) for i, e in enumerate(picked, start=1)]
            return _Part(question, verify(compose_extractive(fallback), fallback, language))
        source = source_of(generated.text, chosen, question, language) if generated.failure is None else None
        if source is not None:
            # Nor did it cite, but its words are one unit's, with a name or number of the question's put in
            # ("A friendly Pyongyang plays …" from "a friendly regime … plays …"): that unit is where it read its
            # answer. Quoted, and read once more against the question like any answer, since nothing in the
            # model's own words checked out (docs/BENCHMARKS.md, "Words of one unit, and "When …," clauses").
            unit = [replace(source, n=1)]
            checked = verify(compose_extractive(unit), unit, language)
            confirmed = yield from self._second_reading(question, checked, unit, generator, timings)
            return _Part(question, checked if confirmed else None)
        # Nothing the model wrote survived verification: give the evidence itself, if the rules can tell which.
        # (Measured against declining instead, on the dev suite: this quoted the right unit for 4 answerable
        # questions and a wrong one for 2 unanswerable ones; BENCHMARKS.md, "Local mode: rules screen first".)
        if not decided:
            return _Part(question, None, undecided=True)
        reason = generated.failure or f"the {generator.mode} answer could not be checked against the passages"
        return _Part(question, verify(compose_extractive(fallback), fallback, language),
                     (f"{reason}; showing the passages' own words",))

    def _second_reading(self, question: str, checked: Verified, units: Sequence[Evidence], generator: Generator,
                        timings: dict[str, float]) -> typing.Generator[Event, None, bool]:
        """Whether the passage an answer cites states it, as the answer to this question, read by the generator."""
        if not generator.judges:  # a generator that cannot read has nothing to add (its confirms says yes)
            return True
        # Citations are made from these units: the passage is theirs as the model read them.
        by_span = {(e.source, e.start, e.end): e for e in units}
        by_span.update({(e.source, e.header_start, e.header_start + len(e.header_quote)): e
                        for e in units if e.header_quote})  # a citation of the unit's header (citations._citation)
        passage = " ".join(by_span[(c.source, c.start, c.end)].readable() for c in checked.citations)
        yield Stage("checking", "Reading the answer against its passage once more")
        clock = time.perf_counter()
        try:
            # The answer as the reader will see it: the model's words in their clause (citations.in_clause).
            # Judged on its words alone instead, dev: 3 fewer right answers, 1 more unanswerable declined.
            confirmed = generator.confirms(question, without_markers(checked.answer), passage)
        except ModelError as e:  # the facts did verify: a failed second reading takes nothing away
            log.warning("%s; the answer was not read a second time", e)
            confirmed = True
        timings["confirm"] = timings.get("confirm", 0.0) + _ms(clock)
        return confirmed

    def _abstain(self, base: Answer, timings: dict[str, float], started: float, undecided: bool = False
                 ) -> Iterator[Event]:
        message = self.prompts.undecided if undecided else self.prompts.abstain
        yield Delta(message)
        timings["total"] = _ms(started)
        yield replace(base, answer=message, undecided=undecided, timings_ms=timings)

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        return self.current().search(self._check(question), k or self.settings.top_k)

    def document(self, source: str) -> Document | None:
        return self.current().store.documents.get(source)

    def documents(self) -> list[Document]:
        """The indexed documents, sorted by name."""
        return sorted(self.current().store.documents.values(), key=lambda d: d.source)

    def current(self) -> Retriever:
        """The retriever over the index that is current now. Another process (`ragchat index`, a second
        server) may have switched CURRENT to a newer generation: then it is loaded, once; if it cannot be
        read, the one loaded before keeps serving. Costs one read of a small file (FAISS) or one small
        request (Milvus: the alias and the manifest row)."""
        name = self.retriever.store.latest_generation()
        if name is None:
            return self.retriever
        if name != self.retriever.store.generation:
            with self._reload:
                if name != self.retriever.store.generation:
                    try:
                        self.retriever = open_retriever(self.settings, self.embedder)
                    except RagError as e:
                        log.warning("the index changed on disk but cannot be loaded (%s); serving the previous one", e)
        return self.retriever

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

    def _check_sources(self, sources: Collection[str] | None) -> frozenset[str] | None:
        if not sources:
            return None
        if isinstance(sources, str) or not all(isinstance(s, str) for s in sources):
            raise QuestionError("documents must be a list of document names")
        unknown = sorted(set(sources) - set(self.retriever.store.documents))
        if unknown:
            raise QuestionError(f"not in the library: {', '.join(unknown[:5])}; see the list of documents")
        return frozenset(sources)

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


def load(
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    build: bool = True,
    generators: Mapping[str, Generator] | None = None,
) -> QA:
    """The QA service: settings from RAGCHAT_* (unless given), models loaded once, index built if missing;
    `generators` answer the given modes instead of the built-in ones."""
    settings = settings or Settings.from_env()
    embedder = embedder or load_embedder(settings.embedder, settings.torch_threads)
    prompts = Prompts.load(settings.prompts_dir)
    if build and not index_exists(settings):
        log.warning("no index in %s/: building it from %s/", settings.index_dir, settings.seeds_dir)
        build_index(settings, embedder)
    qa = QA(settings, embedder, open_retriever(settings, embedder), prompts)
    for mode, generator in (generators or {}).items():
        qa.use(mode, generator)
    return qa
