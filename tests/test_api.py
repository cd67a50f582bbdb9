"""HTTP API: routes in-process (FastAPI TestClient), then a live server driven by the official openai client and
httpx. Extractive mode throughout: real retrieval over the seed index, no LLM."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from ragchat.api import create_api  # noqa: E402

SHOIGU = "When did Shoigu visit North Korea?"
KEY = "test-key-123"


@pytest.fixture(scope="module")
def qa(seed_index, embedder):
    from app import ensure_no_proxy
    from ragchat.qa import load

    ensure_no_proxy()  # every client started here talks to 127.0.0.1, never through a proxy
    return load(seed_index.replace(mode="extractive"), embedder=embedder, build=False)


@pytest.fixture(scope="module")
def client(qa):
    return TestClient(create_api(qa, qa.settings))


@pytest.fixture(scope="module")
def seed_doc(qa):
    [doc] = qa.retriever.store.documents.values()
    return doc


def assert_error(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code"}
    assert "Traceback" not in error["message"]
    for word in words:
        assert word in error["message"]
    return error


# --- /api/ask -------------------------------------------------------------------------------------------


def test_ask_answers_with_citations_that_point_into_the_document(client, seed_doc):
    body = client.post("/api/ask", json={"question": SHOIGU}).json()
    assert "end of July" in body["answer"]
    assert body["answerable"] is True and body["mode"] == "extractive"
    assert body["citations"], body
    for c in body["citations"]:
        assert seed_doc.text[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['n']}]" in body["answer"]
    assert set(body) >= {"question", "passages", "unverified", "warnings", "timings_ms", "standalone_question"}


def test_ask_searches_only_the_documents_named(client, seed_doc, tmp_path):
    """"documents": [names] restricts retrieval (and so the citations) to those documents; an unknown name is
    the caller's error, 422, naming it."""
    body = client.post("/api/ask", json={"question": SHOIGU, "documents": [seed_doc.source]}).json()
    assert body["citations"] and {c["source"] for c in body["citations"]} == {seed_doc.source}
    assert {p["source"] for p in body["passages"]} == {seed_doc.source}
    assert_error(client.post("/api/ask", json={"question": SHOIGU, "documents": ["nope.txt"]}), 422, "nope.txt")
    chat = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": SHOIGU}],
                                                     "documents": ["nope.txt"]})
    assert_error(chat, 422, "nope.txt")


def test_search_only_in_some_documents_keeps_their_best_chunks(qa):
    """Restricted retrieval ranks every chunk, so a document whose chunks all fall below the usual candidate
    cut-off is still searched."""
    hits = qa.retriever.search(SHOIGU, 3)
    assert hits
    only = {hits[0].chunk.source}
    restricted = qa.retriever.search(SHOIGU, 3, sources=only)
    assert [h.chunk.id for h in restricted] == [h.chunk.id for h in hits if h.chunk.source in only][:3]
    assert qa.retriever.search(SHOIGU, 3, sources={"none.txt"}) == []


def test_ask_follows_up_using_history(client):
    history = [{"role": "user", "content": "Who greeted Shoigu at the airport in Pyongyang?"},
               {"role": "assistant", "content": "General Kang Sun-nam greeted Shoigu [1]."}]
    body = client.post("/api/ask", json={"question": "What is his position?", "history": history}).json()
    assert body["standalone_question"] and body["standalone_question"] != "What is his position?"


def test_ask_abstains_with_no_citations(client):
    body = client.post("/api/ask", json={"question": "What is the capital of France?"}).json()
    assert body["answerable"] is False
    assert body["citations"] == []


def test_ask_honours_top_k(client):
    body = client.post("/api/ask", json={"question": SHOIGU, "top_k": 2}).json()
    assert len(body["passages"]) == 2


@pytest.mark.parametrize(
    "payload, status, words",
    [
        ({"question": ""}, 422, ["empty"]),
        ({"question": "   \n "}, 422, ["empty"]),
        ({"question": "x" * 5000}, 413, ["5,000", "limit"]),
        ({}, 422, ["question"]),
        ({"question": 42}, 422, ["question"]),
        ({"question": SHOIGU, "top_k": 0}, 422, ["top_k"]),
        ({"question": SHOIGU, "top_k": 10_000}, 422, ["top_k"]),
        ({"question": SHOIGU, "mode": "telepathy"}, 422, ["telepathy"]),
        ({"question": SHOIGU, "history": "not a list"}, 422, ["history"]),
    ],
)
def test_bad_ask_requests_get_json_errors(client, payload, status, words):
    assert_error(client.post("/api/ask", json=payload), status, *words)


def test_malformed_json_is_422(client):
    response = client.post("/api/ask", content=b'{"question": "When', headers={"Content-Type": "application/json"})
    assert_error(response, 422, "JSON")


def test_a_failing_generator_degrades_to_the_extractive_answer(qa):
    # An OpenAI-compatible server that is not there: the answer still comes, extractively, with a warning.
    from ragchat.qa import QA

    broken = QA(qa.settings.replace(openai_base_url="http://127.0.0.1:9/v1", openai_timeout=2.0,
                                    modes="extractive,openai"), qa.embedder, qa.retriever, qa.prompts)
    client = TestClient(create_api(broken, broken.settings))
    response = client.post("/api/ask", json={"question": SHOIGU, "mode": "openai"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "extractive" and "end of July" in body["answer"]
    assert body["warnings"]


def test_an_unexpected_error_is_a_500_without_a_traceback(qa):
    class Exploding:
        settings = qa.settings
        retriever = qa.retriever

        def available_modes(self):
            return ["extractive"]

        def ask(self, *args, **kwargs):
            raise RuntimeError("secret internals at /srv/x.py line 3")

    client = TestClient(create_api(Exploding(), qa.settings), raise_server_exceptions=False)
    error = assert_error(client.post("/api/ask", json={"question": SHOIGU}), 500)
    assert "secret" not in error["message"]


# --- /api/search and /api/documents ---------------------------------------------------------------------


def test_search_returns_hits_with_exact_text(client, seed_doc):
    body = client.post("/api/search", json={"question": "Who greeted Shoigu?", "top_k": 3}).json()
    assert len(body["hits"]) == 3
    for hit in body["hits"]:
        assert seed_doc.text[hit["start"] : hit["end"]] == hit["text"]
    assert len(client.post("/api/search", json={"question": "Shoigu", "k": 2}).json()["hits"]) == 2
    assert_error(client.post("/api/search", json={"question": ""}), 422)


def test_documents_are_listed_and_readable(client, seed_doc):
    listed = client.get("/api/documents").json()["documents"]
    assert [d["source"] for d in listed] == [seed_doc.source]
    body = client.get(f"/api/documents/{seed_doc.source}").json()
    assert body["text"] == seed_doc.text and body["source"] == seed_doc.source


@pytest.fixture(scope="module")
def corpus_qa(tmp_path_factory, seed_index, embedder):
    """A QA over a writable copy of the seeds whose index is a copy of the seed index."""
    from ragchat.qa import load
    from tests.conftest import SEED_FILE

    root = tmp_path_factory.mktemp("api-corpus")
    (root / "seeds").mkdir()
    shutil.copy(SEED_FILE, root / "seeds" / SEED_FILE.name)
    shutil.copytree(seed_index.index_dir, root / "index")
    return load(seed_index.replace(seeds_dir=root / "seeds", index_dir=root / "index", mode="extractive"),
                embedder=embedder, build=False)


@pytest.mark.parametrize(
    "name",
    [
        "unindexed.txt",  # in seeds/ but not indexed
        "../outside.txt",
        "..%2Foutside.txt",
        "%2e%2e/%2e%2e/etc/passwd",
        "/etc/passwd",
        "seeds/north-korea-russia-staunch-ally.txt",
        "NORTH-KOREA-RUSSIA-STAUNCH-ALLY.TXT",
    ],
)
def test_documents_serve_only_indexed_names(corpus_qa, name):
    seeds = corpus_qa.settings.seeds_dir
    (seeds / "unindexed.txt").write_text("not indexed yet\n", encoding="utf-8")
    (seeds.parent / "outside.txt").write_text("outside the documents folder\n", encoding="utf-8")
    response = TestClient(create_api(corpus_qa, corpus_qa.settings)).get(f"/api/documents/{name}")
    assert response.status_code == 404, response.text
    assert "outside the documents" not in response.text and "root:" not in response.text


# --- /v1 (OpenAI-compatible) ----------------------------------------------------------------------------


def test_models_are_listed_and_unknown_ones_are_404(client, qa):
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert ids[0] == "ragchat" and "ragchat-extractive" in ids
    assert ids == ["ragchat", "ragchat-extractive"]  # the server's mode plus extractive: RAGCHAT_MODES widens it
    assert client.get("/v1/models/ragchat-extractive").json()["id"] == "ragchat-extractive"
    assert_error(client.get("/v1/models/gpt-4o"), 404, "gpt-4o")
    response = client.post("/v1/chat/completions",
                           json={"model": "gpt-4o", "messages": [{"role": "user", "content": SHOIGU}]})
    assert assert_error(response, 404, "gpt-4o")["code"] == "model_not_found"


def test_chat_completion_carries_the_cited_answer_and_citations(client, seed_doc):
    body = client.post("/v1/chat/completions", json={
        "model": "ragchat-extractive",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": SHOIGU}],
        "temperature": 0.2,
    }).json()
    assert body["object"] == "chat.completion" and body["model"] == "ragchat-extractive"
    content = body["choices"][0]["message"]["content"]
    assert "end of July" in content and "[1]" in content
    [c] = [c for c in body["citations"] if c["n"] == 1]
    assert seed_doc.text[c["start"] : c["end"]] == c["quote"]
    assert body["ragchat"]["answerable"] is True


def test_chat_completion_uses_earlier_messages_as_history(client):
    body = client.post("/v1/chat/completions", json={"model": "ragchat", "messages": [
        {"role": "user", "content": "Who greeted Shoigu at the airport in Pyongyang?"},
        {"role": "assistant", "content": "General Kang Sun-nam [1]."},
        {"role": "user", "content": [{"type": "text", "text": "What is his position?"}]},
    ]}).json()
    assert body["ragchat"]["standalone_question"]


def sse_events(text: str) -> list:
    events = [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def test_chat_completion_streams_deltas_then_citations(client):
    with client.stream("POST", "/v1/chat/completions", json={
        "model": "ragchat-extractive", "stream": True, "messages": [{"role": "user", "content": SHOIGU}],
    }) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.read().decode())
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    final = events[-1]
    assert final["choices"][0]["finish_reason"] == "stop"
    assert "end of July" in content and content == final["ragchat"]["answer"]
    assert final["citations"] and all("citations" not in e for e in events[:-1])


@pytest.mark.parametrize("stream", [False, True])
def test_bad_chat_requests_are_errors_before_any_stream(client, stream):
    empty = {"model": "ragchat", "stream": stream, "messages": [{"role": "user", "content": " "}]}
    assert_error(client.post("/v1/chat/completions", json=empty), 422, "empty")
    long = {"model": "ragchat", "stream": stream, "messages": [{"role": "user", "content": "y" * 3000}]}
    assert_error(client.post("/v1/chat/completions", json=long), 413)
    no_user = {"model": "ragchat", "stream": stream, "messages": [{"role": "system", "content": "hi"}]}
    assert_error(client.post("/v1/chat/completions", json=no_user), 422, "user")
    assert_error(client.post("/v1/chat/completions", json={"model": "ragchat"}), 422, "messages")


# --- API key ---------------------------------------------------------------------------------------------


def test_api_key_guards_api_and_v1_but_not_healthz(qa):
    client = TestClient(create_api(qa, qa.settings.replace(api_key=KEY)))
    ask = {"question": SHOIGU}
    for response in (
        client.post("/api/ask", json=ask),
        client.post("/api/ask", json=ask, headers={"Authorization": "Bearer wrong"}),
        client.post("/api/ask", json=ask, headers={"Authorization": KEY}),
        client.get("/v1/models"),
        client.get("/api/documents"),
        client.post("/api/ask", content=b"{not json", headers={"Content-Type": "application/json"}),
    ):
        error = assert_error(response, 401, "API key")
        assert error["type"] == "authentication_error"
        assert response.headers["www-authenticate"] == "Bearer"
    auth = {"Authorization": f"Bearer {KEY}"}
    assert client.post("/api/ask", json=ask, headers=auth).status_code == 200
    assert client.get("/v1/models", headers=auth).status_code == 200
    assert client.get("/healthz").json()["status"] == "ok"
    # The same QA served without a key is open: the key is per app, not global.
    assert TestClient(create_api(qa, qa.settings)).get("/v1/models").status_code == 200


# --- a live server and real clients ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(qa):
    """The whole app (API + UI) on a free 127.0.0.1 port, with an API key."""
    from app import BackgroundServer, create_app, ensure_no_proxy

    ensure_no_proxy()
    with BackgroundServer(create_app(qa, qa.settings.replace(api_key=KEY))) as server:
        yield server


def test_openai_client_plain_and_streaming(live, seed_doc):
    import openai

    client = openai.OpenAI(base_url=f"{live.url}/v1", api_key=KEY, max_retries=0, timeout=30)
    assert "ragchat-extractive" in [m.id for m in client.models.list()]

    reply = client.chat.completions.create(model="ragchat-extractive", messages=[{"role": "user", "content": SHOIGU}])
    assert "end of July" in reply.choices[0].message.content
    citations = reply.model_extra["citations"]
    assert citations and seed_doc.text[citations[0]["start"] : citations[0]["end"]] == citations[0]["quote"]

    chunks = list(client.chat.completions.create(
        model="ragchat-extractive", messages=[{"role": "user", "content": SHOIGU}], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reply.choices[0].message.content
    assert chunks[-1].model_extra["citations"] == citations

    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": SHOIGU}])
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{live.url}/v1", api_key="wrong", max_retries=0).models.list()


def test_httpx_against_the_live_server(live, seed_doc):
    import httpx

    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=live.url, timeout=30, trust_env=False) as http:
        assert http.get("/healthz").json()["documents"] == 1
        assert http.post("/api/ask", json={"question": SHOIGU}).status_code == 401
        body = http.post("/api/ask", json={"question": SHOIGU}, headers=auth).json()
        assert "end of July" in body["answer"]
        assert http.get(f"/api/documents/{seed_doc.source}", headers=auth).json()["text"] == seed_doc.text
        assert http.get("/api/documents/..%2F..%2Fpyproject.toml", headers=auth).status_code == 404
        malformed = http.post("/api/ask", content=b"[", headers={**auth, "Content-Type": "application/json"})
        assert malformed.status_code == 422
        lines = []
        with http.stream("POST", "/v1/chat/completions", headers=auth, json={
            "model": "ragchat", "stream": True, "messages": [{"role": "user", "content": SHOIGU}],
        }) as response:
            lines = [line for line in response.iter_lines() if line]
        assert lines[-1] == "data: [DONE]"
        assert json.loads(lines[-2][len("data: "):])["citations"]
