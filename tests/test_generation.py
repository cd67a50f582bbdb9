import os
import subprocess
import sys
from pathlib import Path

import pytest

from ragchat import Chunk, Evidence, ModelError, Settings
from ragchat.generation import (
    Declined,
    Draft,
    Extractive,
    drafts,
    SHORT_ANSWER,
    OpenAIGenerator,
    json_string_field,
    make_generator,
    rewrite_by_rule,
)
from ragchat.prompts import Prompts
from ragchat.qa import load

from .conftest import ROOT

CHUNK = Chunk(id="c", source="doc.txt", start=0, end=120, text="x")
EVIDENCE = [
    Evidence(1, CHUNK, "doc.txt", 0, 100,
             "At the end of July, a Russian military delegation led by General Sergei Shoigu visited North Korea.", 0.8),
]




def test_rule_rewrite_adds_names_from_the_last_question():
    history = [("user", "What did General Sergei Shoigu give Kim?"), ("assistant", "A letter [1].")]
    assert rewrite_by_rule("When did he arrive?", history) == "When did he arrive (General Sergei Shoigu, Kim)?"
    assert rewrite_by_rule("Who is Kang Sun-nam?", history) == "Who is Kang Sun-nam?"  # already standalone
    assert rewrite_by_rule("And then?", []) == "And then?"


def test_extractive_generator_quotes_its_evidence():
    (draft,) = list(Extractive().answer("When?", EVIDENCE))
    assert draft == Draft(EVIDENCE[0].text + " [1]")


def test_a_declining_model_ends_with_declined():
    events = list(drafts(iter(["NOT IN", " DOCUMENTS"])))
    assert events == [Draft("NOT IN"), Draft(" DOCUMENTS"), Declined()]


def test_a_json_string_field_streams_as_it_arrives():
    pieces = ['{"ans', 'wer": "late', ' 2011 \\', '"quoted\\" \\u00e9', 't\\u00e9', '"}']
    out = list(json_string_field(iter(pieces), "answer"))
    assert "".join(out) == 'late 2011 "quoted" été'
    assert out[0] == "late"  # the first words are out before the object is complete
    assert list(json_string_field(iter(['{"other": 1}']), "answer")) == []


def test_prompts_are_files():
    prompts = Prompts.load()
    assert "{evidence}" in prompts.answer_user and "{question}" in prompts.answer_user
    assert "{history}" in prompts.condense
    assert prompts.abstain.startswith("The documents don't say")


def test_unknown_mode_is_a_config_error():
    from ragchat import ConfigError

    with pytest.raises(ConfigError, match="unknown answer mode"):
        make_generator("gpt", Settings(), Prompts.load())


@pytest.fixture(scope="module")
def llama_server(smollm2):
    """A real llama.cpp server (xllamacpp) with the tiny bundled SmolLM2, on a free loopback port."""
    model = smollm2
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "llama_server.py"), str(model)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("LISTENING "), line
        yield line.split()[1]
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_openai_generator_streams_from_a_real_server(llama_server):
    settings = Settings(openai_base_url=f"{llama_server}/v1", openai_model="smollm2", max_answer_tokens=24)
    generator = OpenAIGenerator(Prompts.load(), settings)
    pieces = [e.text for e in generator.answer("When did Shoigu visit North Korea?", EVIDENCE) if isinstance(e, Draft)]
    assert len(pieces) > 1 and "".join(pieces).strip()


def test_openai_mode_answers_are_verified_or_fall_back(llama_server, seed_index, embedder):
    qa = load(seed_index.replace(mode="openai", openai_base_url=f"{llama_server}/v1", openai_model="smollm2",
                                 max_answer_tokens=40), embedder)
    answer = qa.ask("When did Shoigu visit North Korea?")
    assert answer.answerable
    # SmolLM2-135M rarely cites correctly: whatever survives is verified, or the extractive answer is given.
    assert answer.mode in ("openai", "extractive")
    for c in answer.citations:
        assert qa.document(c.source).text[c.start : c.end] == c.quote
    if answer.mode == "openai":
        assert any(c.verified for c in answer.citations)
    else:
        assert any("could not be checked" in w for w in answer.warnings)


def test_local_generator_streams_a_short_answer_in_process(smollm2):
    """The in-process runtime with the tiny model: grammar-constrained JSON, streamed, decoded (the 1.5B model's
    quality is checked by the slow test and `ragchat eval --mode local`)."""
    model = smollm2
    settings = Settings(llm_path=model, max_answer_tokens=40, llm_context=1024)
    generator = make_generator("local", settings, Prompts.load())
    text = "".join(e.text for e in generator.answer("When did Shoigu visit North Korea?", EVIDENCE)
                   if isinstance(e, Draft))
    assert text.strip() and "{" not in text and '"answer"' not in text
    assert generator.last_timings.get("predicted_n", 0) > 0
    raw = "".join(generator._chat([{"role": "user", "content": "Say hi."}], 24, SHORT_ANSWER))
    assert raw.startswith('{"answer": "')  # compact: no whitespace tokens spent before the answer


def test_a_question_is_answered_alike_whatever_was_asked_before(smollm2):
    """Each slot is cut back to its system prompt before a new prompt, so a prompt is computed from the same
    point after any other: the same tokens processed, the same answer (a state restored from llama.cpp's
    host-memory cache once changed greedy answers; docs/BENCHMARKS.md, "The same question, the same answer")."""
    settings = Settings(llm_path=smollm2, max_answer_tokens=24, llm_context=1024)
    generator = make_generator("local", settings, Prompts.load())

    def ask(question, evidence):
        text = "".join(e.text for e in generator.answer(question, evidence) if isinstance(e, Draft))
        return text, generator.last_timings.get("prompt_n")

    first = ask("When did Shoigu visit North Korea?", EVIDENCE)
    assert ask("When did Shoigu visit North Korea?", EVIDENCE) == first  # asked again at once
    ask("When did Shoigu visit North Korea for the first time?", EVIDENCE)  # shares all but the question's end
    generator.confirms("Who greeted him?", "Kang", "Kang greeted him.")
    assert ask("When did Shoigu visit North Korea?", EVIDENCE) == first
    assert first[1] > 20  # everything after the system prompt was processed, not a cached prompt's last token


def test_the_copy_form_lets_an_answer_start_at_any_word_and_stop_before_punctuation():
    from ragchat.generation import copy_form

    form = copy_form(['At the end of July, "Shoigu" visited.', "使用 Linux，很好"])
    assert form.opening == '{"answer":'  # ends where a token ends: the model writes ' "' and what follows
    assert form.grammar.startswith(r'root ::= "{\"answer\":" (" \"" (u0-0 | ')  # whole, for a runtime given no opening
    rules = dict(line.split(" ::= ", 1) for line in form.rest.splitlines())
    assert rules["u0-4"] == '"July" ("," (" " u0-5)?)?'  # "July" may end the answer, or go on past its comma
    assert rules["u0-5"] == r'"\\\"Shoigu" ("\\\"" (" " u0-6)?)?'  # a quote, escaped for JSON and then for GBNF
    assert rules["u1-0"] == '"使" (u1-1)?' and rules["u1-1"] == '"用" (" " u1-2)?'  # CJK: each character a piece
    root = rules["root"]
    starts = root[root.index("(") + 1 : root.rindex(")")].split(" | ")
    assert {"u0-0", "u0-2", "u0-5", "u0-5w"} <= set(starts)  # at any piece, or at the word after its quote mark
    assert rules["u0-5w"] == r'"Shoigu" ("\\\"" (" " u0-6)?)?'
    assert '"NOT IN DOCUMENTS"' in starts


def test_a_real_runtime_answers_only_in_words_it_was_given(smollm2):
    """Held to copying, even a model that knows nothing of the passages writes none of its own words:
    every answer is a run of one evidence unit's words, or NOT IN DOCUMENTS."""
    generator = make_generator("local", Settings(llm_path=smollm2, max_answer_tokens=40, llm_context=1024),
                               Prompts.load())
    for question in ("When did Shoigu visit North Korea?", "What is the capital of France?", "Who won in 2014?"):
        text = "".join(e.text for e in generator.copy_answer(question, EVIDENCE, EVIDENCE) if isinstance(e, Draft))
        assert text.strip()
        assert text == "NOT IN DOCUMENTS" or text in EVIDENCE[0].readable(), text


def test_a_second_reading_replies_in_its_form_with_a_real_runtime(smollm2):
    """The tiny model cannot judge, but its reply through the grammar must be read as a yes or a no."""
    import re

    from ragchat.generation import CONFIRM

    generator = make_generator("local", Settings(llm_path=smollm2, llm_context=1024), Prompts.load())
    raw = "".join(generator._chat([{"role": "user", "content": "Is it raining?"}], 12, CONFIRM))
    assert re.fullmatch(r'\{"supported": "(yes|no)"\}', raw)
    # The opening was written for the model, not generated token by token: the quote, "yes" or "no", its closing.
    assert generator.last_timings["predicted_n"] <= 4
    assert generator.confirms("When?", "end of July", EVIDENCE[0].text) in (True, False)


def test_a_second_reading_out_of_form_takes_nothing_away():
    """A server that ignores the JSON form (OpenAI-compatible ones get no grammar) is read for its verdict; a
    reply with none in it leaves the verified answer standing."""
    from ragchat.generation import ChatGenerator

    class Replying(ChatGenerator):
        def __init__(self, reply):
            super().__init__(Prompts.load(), 12)
            self.reply = reply

        def _chat(self, messages, max_tokens, form=None):
            assert "Answer: end of July" in messages[-1]["content"]
            yield self.reply

    assert not Replying('Sure: {"supported": "no"}').confirms("When?", "end of July", EVIDENCE[0].text)
    assert Replying('{"supported": "YES"}').confirms("When?", "end of July", EVIDENCE[0].text)
    assert Replying("I cannot tell.").confirms("When?", "end of July", EVIDENCE[0].text)


def test_openai_server_errors_name_the_setting(llama_server):
    settings = Settings(openai_base_url=f"{llama_server}/nope", max_answer_tokens=8)
    with pytest.raises(ModelError, match="RAGCHAT_OPENAI"):
        list(OpenAIGenerator(Prompts.load(), settings).answer("q", EVIDENCE))


@pytest.mark.slow
def test_local_model_answers_with_verified_citations(seed_index, embedder):
    from ragchat.generation import local_available

    settings = seed_index.replace(mode="local")
    if not local_available(settings):
        pytest.skip("the bundled local model is installed by `make run`")
    qa = load(settings, embedder)
    for question in ("When did Shoigu visit North Korea?", "Who greeted Shoigu at the airport?",
                     "What did Shoigu hand to Kim?"):
        answer = qa.ask(question)
        assert answer.answerable
        assert answer.citations and all(c.verified for c in answer.citations), answer
        for c in answer.citations:
            assert qa.document(c.source).text[c.start : c.end] == c.quote
    # Asked whether, the model reads the sentence that settles it; asked for words, it had written "Yes".
    settled = qa.ask("Was Shoigu's visit the first by a Russian defence minister since 1991?")
    assert settled.answerable and settled.answer.startswith("Shoigu’s visit was the first visit"), settled
    assert not qa.ask("Did Kim Jong-un attend Putin's presidential inauguration?").citations


@pytest.mark.slow
def test_the_local_model_turns_down_a_checkable_answer_to_another_question(seed_index, embedder):
    """"Who is the Russian ambassador?": the model answered with the name of the passage's general, and the name
    is in the passage, so verification passed. The second reading turns it down; a right answer stays."""
    from ragchat.generation import local_available

    settings = seed_index.replace(mode="local")
    if not local_available(settings):
        pytest.skip("the bundled local model is installed by `make run`")
    generator = load(settings, embedder).generator("local")
    passage = ("At the end of July, a Russian military delegation led by the Minister of Defense of the Russian "
               "Federation, General Sergei Shoigu, visited the Democratic People’s Republic of Korea.")
    assert not generator.confirms("Who is the Russian ambassador to North Korea?", "General Sergei Shoigu", passage)
    assert generator.confirms("Who led the Russian military delegation?", "General Sergei Shoigu", passage)


@pytest.mark.slow
def test_closing_a_local_generation_stops_the_model_at_its_next_token(smollm2):
    """Stop in the chat, or a client that hangs up, closes the answer path: the runtime must stop generating
    then, not finish a long answer nobody reads. Measured against the same generation run to the end."""
    import time

    generator = make_generator("local", Settings(llm_path=smollm2, llm_threads=1, llm_context=1024), Prompts.load())
    story = [{"role": "user", "content": "Write a very long story about a lighthouse keeper and his cat."}]
    start = time.perf_counter()
    whole = list(generator._chat(story, 300))
    full = time.perf_counter() - start
    assert len(whole) > 100  # long enough to stop in the middle
    pieces = generator._chat(story, 300)
    for _ in range(5):
        next(pieces)
    start = time.perf_counter()
    pieces.close()
    assert generator._lock.acquire(timeout=full)  # the runtime is free for the next question
    freed = time.perf_counter() - start
    generator._lock.release()
    print(f"a whole generation {full:.2f} s; freed {freed:.3f} s after the reader closed it")
    assert freed < full / 5
