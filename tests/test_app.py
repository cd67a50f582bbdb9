"""The browser chat's server side: Answer → HTML (ragchat/ui.py), uploads, the combined app (UI + API) and its
Gradio endpoint driven by gradio_client on a live server, and `python app.py` itself."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ragchat import ui
from ragchat.errors import DocumentError
from ragchat.types import Answer, Chunk, Citation, Document, Hit
from tests.app_process import app_process

ROOT = Path(__file__).resolve().parent.parent
SHOIGU = "When did Shoigu visit North Korea?"

# --- rendering (no models) -------------------------------------------------------------------------------

TEXT = 'Report <b>\n\nAt the end of July, Shoigu visited Pyongyang. Kim met him & his "team". Then $$x$$ happened.\n'
DOC = Document(source="dir/report.txt", text=TEXT, sha256="0" * 64)


def span(fragment: str) -> tuple[int, int]:
    start = TEXT.index(fragment)
    return start, start + len(fragment)


def citation(n: int, fragment: str, verified: bool = True) -> Citation:
    start, end = span(fragment)
    return Citation(n=n, chunk_id="c1", source=DOC.source, start=start, end=end, quote=fragment, score=0.9,
                    verified=verified)


CHUNK = Chunk(id="c1", source=DOC.source, start=0, end=len(TEXT), text=TEXT)
C1 = citation(1, "At the end of July, Shoigu visited Pyongyang.")
C2 = citation(2, 'Kim met him & his "team".', verified=False)
ANSWER = Answer(
    question="When <did> he visit?",
    answer='Shoigu visited at the end of July. [1] Kim met him & his "team" <script>x</script>. [2]',
    answerable=True,
    mode="extractive",
    citations=(C1, C2),
    passages=(Hit(chunk=CHUNK, score=0.9, rank=1),),
    unverified=('Kim met him & his "team" <script>x</script>.',),
    warnings=("local mode is unavailable; answered extractively",),
    timings_ms={"total": 42.0},
)


def test_answer_html_links_references_and_flags_unverified_sentences():
    rendered = ui.answer_html(ANSWER, "a7")
    assert '<a class="rc-ref" href="#cite-a7-1"' in rendered and ">[1]</a>" in rendered
    assert 'href="#cite-a7-2"' in rendered
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered  # answer text is escaped
    flagged = re.search(r'<span class="rc-unverified".*?unverified</span></span>', rendered).group(0)
    assert "Kim met him" in flagged and "#cite-a7-2" in flagged and "end of July" not in flagged
    assert "answered extractively" in rendered and "42 ms" in rendered
    assert "\n" not in rendered  # a blank line would end the chat's HTML block
    text = ui.html.unescape(re.sub(r"<[^>]+>", "", rendered.split('<div class="rc-note')[0]))
    assert text.replace("unverified", "") == ANSWER.answer  # every character of the answer, spaces included


def test_unverified_sentences_that_cannot_be_located_are_still_shown():
    odd = Answer(question="q", answer="One claim. [1]", answerable=True, mode="local", citations=(C1,),
                 unverified=("A sentence the renderer cannot find.",))
    rendered = ui.answer_html(odd, "a2")
    assert "rc-unverified" in rendered and "A sentence the renderer cannot find." in rendered


def test_abstention_is_badged_and_has_no_sources():
    abstained = Answer(question="Capital of France?", answer="The documents don't say.", answerable=False,
                       mode="extractive", passages=ANSWER.passages)
    rendered = ui.answer_html(abstained, "a1")
    assert "Not in the documents" in rendered and "rc-ref" not in rendered
    panel = ui.sources_html(abstained, "a1", lambda s: DOC)
    assert "No sources" in panel and "rc-card-" not in panel


def test_an_undecided_answer_lists_the_passages_it_could_not_choose_between():
    """Its message sends the reader to Sources, so Sources shows the passages found (and cites none)."""
    undecided = Answer(question="Which pier?", answer="The passages found do not settle this.", answerable=False,
                       mode="extractive", passages=ANSWER.passages, undecided=True)
    assert "Unclear which passage answers" in ui.answer_html(undecided, "a1")
    panel = ui.sources_html(undecided, "a1", lambda s: DOC)
    assert "No sources" not in panel and "Nothing cited" in panel and "rc-num" not in panel
    assert panel.count("rc-retrieved") == len(ANSWER.passages)


def test_sources_panel_shows_file_span_and_highlighted_quote():
    panel = ui.sources_html(ANSWER, "a7", lambda s: DOC, active=2)
    assert panel.count('id="rc-card-') == 2 and 'class="rc-card rc-active" id="rc-card-a7-2"' in panel
    assert "dir/report.txt" in panel and ui.span_label(C1.start, C1.end) in panel
    assert f'<mark class="rc-quote">{ui.esc(C1.quote)}</mark>' in panel
    assert "Report &lt;b&gt;" in panel  # the passage around the quote, escaped
    assert 'href="#doc-a7-1"' in panel and "not verified" in panel


def test_sources_panel_falls_back_to_the_document_around_a_quote():
    far = Answer(question="q", answer="x [1]", answerable=True, mode="extractive", citations=(C1,))
    panel = ui.sources_html(far, "a1", lambda s: DOC)
    assert f'<mark class="rc-quote">{ui.esc(C1.quote)}</mark>' in panel and "Kim met him" in panel


def test_document_view_marks_exact_spans_and_escapes_the_text():
    view = ui.document_html(DOC, ui.marks_in(ANSWER, DOC.source), active=2, aid="a7")
    active = re.search(r'<mark class="rc-hl rc-active"[^>]*>(.*?)</mark>', view).group(1)
    assert active == ui.esc(TEXT[C2.start : C2.end])
    assert view.count("<mark") == 2 and "Report &lt;b&gt;" in view and "<b>" not in view
    plain = re.sub(r"<[^>]+>", "", view.split('class="rc-doc-body">', 1)[1])
    assert ui.html.unescape(plain) == TEXT  # nothing added to or lost from the document


def test_document_view_renders_blocks_and_pages_and_keeps_exact_marks():
    from ragchat.types import Block

    text = "Title\n\nFirst para. Second sentence.\n\n- an item\n\ncode()\n"
    at = text.index
    doc = Document(source="d.pdf", text=text, sha256="0" * 64, pages=((1, 0), (2, at("- an"))),
                   blocks=(Block("heading", 0, 5, level=1), Block("paragraph", at("First"), at("\n\n- an")),
                           Block("item", at("- an"), at("- an") + 9), Block("code", at("code"), at("code") + 6)))
    quote = "Second sentence."
    view = ui.document_html(doc, [ui.Mark(1, at(quote), at(quote) + len(quote))], active=1, aid="a1")
    assert 'role="heading"' in view and 'class="rc-b rc-item"' in view and 'class="rc-b rc-code"' in view
    assert re.search(r'<mark class="rc-hl rc-active"[^>]*>(.*?)</mark>', view).group(1) == quote
    assert [int(n) for n in re.findall(r'data-page="(\d+)"', view)] == [1, 2]
    assert view.index('data-page="2"') < view.index("- an item") and view.index('data-page="2"') > view.index(quote)


def test_user_words_drop_setting_names_and_socket_errors():
    said = ui.user_words("the question is 2,001 characters long; the limit is 2,000: shorten it "
                         "(or raise RAGCHAT_MAX_QUESTION_CHARS)")
    assert said == "the question is 2,001 characters long; the limit is 2,000: shorten it"
    said = ui.user_words("cannot reach the OpenAI-compatible server at http://127.0.0.1:9/v1 (<urlopen error "
                         "[Errno 111] Connection refused>): start it or fix RAGCHAT_OPENAI_BASE_URL; showing the "
                         "passages' own words")
    assert said == ("cannot reach the OpenAI-compatible server at http://127.0.0.1:9/v1 (it did not respond); "
                    "showing the passages' own words")


def test_an_answer_kept_by_the_browser_comes_back_and_junk_does_not():
    kept = ui.answer_record(ANSWER)
    back = ui.answer_from_record(kept)
    assert back.citations == ANSWER.citations and back.answer == ANSWER.answer and back.unverified == ANSWER.unverified
    assert ui.answer_from_record({"question": 1}) is None and ui.answer_from_record("x") is None
    assert ui.answer_from_record({**kept, "citations": [["x"]]}) is None


def test_example_questions_come_from_section_headings():
    from ragchat.types import Block

    text = "Guide\nInstalling the server\nLeave a Reply\nBacking up data\n"
    at = text.index
    def heading(words: str, level: int = 2) -> Block:
        return Block("heading", at(words), at(words) + len(words), level=level)

    doc = Document(source="g.md", text=text, sha256="0" * 64, blocks=(
        heading("Guide", 1), heading("Installing the server"), heading("Leave a Reply"), heading("Backing up data")))
    assert ui.example_questions([doc]) == ["What do the documents say about “Installing the server”?",
                                           "What do the documents say about “Backing up data”?"]
    assert ui.example_questions([DOC]) == []


def test_overlapping_marks_keep_the_active_one():
    marks = [ui.Mark(1, 0, 20), ui.Mark(2, 10, 30)]
    view = ui.document_html(DOC, marks, active=2, aid="a1")
    assert view.count("<mark") == 1 and 'data-n="2"' in view


@pytest.mark.parametrize(
    "name, expected",
    [
        ("report.txt", "report.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\Q3 results (final).PDF", "Q3-results-final.pdf"),
        (".hidden.md", "hidden.md"),
        ("a/b/../..\u0000evil.html", "evil.html"),
        ("Отчёт 2024.txt", "Отчёт-2024.txt"),
        ("$(rm -rf ~).htm", "rm-rf.htm"),
        ("....txt", "document.txt"),
        ("gfdl-1.3.txt", "gfdl-1.3.txt"),  # dots inside a name are safe: kept
        ("a..b.md", "a.b.md"),
    ],
)
def test_safe_filename(name, expected):
    assert ui.safe_filename(name) == expected


@pytest.mark.parametrize("name", ["tool.exe", "notes", "archive.tar.gz", ""])
def test_safe_filename_refuses_unknown_types(name):
    with pytest.raises(DocumentError, match="supported"):
        ui.safe_filename(name)


def test_save_upload_never_overwrites_and_reuses_identical_files(tmp_path):
    seeds, up = tmp_path / "seeds", tmp_path / "upload"
    seeds.mkdir(), up.mkdir()
    (seeds / "notes.txt").write_text("original\n", encoding="utf-8")
    (up / "a").write_text("new text\n", encoding="utf-8")
    saved = ui.save_upload(up / "a", "../notes.txt", seeds)
    assert saved == ui.Saved("notes-2.txt", new=True, given="notes.txt")
    assert (seeds / "notes.txt").read_text(encoding="utf-8") == "original\n"
    assert ui.save_upload(up / "a", "notes.txt", seeds) == ui.Saved("notes-2.txt", new=False, given="notes.txt")
    (up / "bin").write_bytes(b"\x00\x01binary")
    with pytest.raises(DocumentError):
        ui.save_upload(up / "bin", "data.txt", seeds)
    assert sorted(p.name for p in seeds.iterdir()) == ["notes-2.txt", "notes.txt"]  # no temp files left


# --- with the real embedder and index --------------------------------------------------------------------


@pytest.fixture(scope="module")
def qa(seed_index, embedder):
    from ragchat.qa import load

    return load(seed_index.replace(mode="extractive"), embedder=embedder, build=False)


@pytest.fixture
def corpus_qa(tmp_path, seed_index, embedder, corpus):
    """A QA over a writable copy of the seeds (the seed index copied, so updates are incremental)."""
    from ragchat.qa import load

    shutil.copytree(seed_index.index_dir, tmp_path / "index")
    return load(seed_index.replace(seeds_dir=corpus, index_dir=tmp_path / "index", mode="extractive"),
                embedder=embedder, build=False)


def test_library_adds_an_upload_and_it_is_searchable_at_once(corpus_qa, tmp_path):
    upload = tmp_path / "upload.html"
    upload.write_text("<html><head><title>Zorblat</title><script>x()</script></head><body><p>The Zorblat festival "
                      "is held every April in the town of Quenby.</p><p>Tickets cost twelve crowns.</p></body></html>",
                      encoding="utf-8")
    seen = []
    added = ui.Library(corpus_qa).add([(upload, "../Zorblat Festival.html")], progress=lambda d, t: seen.append((d, t)))
    assert [s.source for s in added.saved] == ["Zorblat-Festival.html"] and not added.refused
    assert "searchable now" in added.message()
    assert seen and seen[-1][0] == seen[-1][1]
    assert (corpus_qa.settings.seeds_dir / "Zorblat-Festival.html").exists()
    answer = corpus_qa.ask("When is the Zorblat festival held?")
    assert answer.answerable and "April" in answer.answer
    assert answer.citations[0].source == "Zorblat-Festival.html"
    assert "Zorblat-Festival.html" in [d.source for d in ui.Library(corpus_qa).documents()]

    again = ui.Library(corpus_qa).add([(upload, "Zorblat Festival.html"), (upload, "x.exe")])
    assert [s.new for s in again.saved] == [False] and again.refused[0][0] == "x.exe"
    assert "Already in the library" in again.message() and "not a supported file type" in again.message()


@pytest.fixture(scope="module")
def app(qa):
    from app import create_app

    return create_app(qa, qa.settings)


def test_one_app_serves_the_ui_and_the_api(app):
    from fastapi.testclient import TestClient

    client = TestClient(app)
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    config = client.get("/config").json()
    named = [d.get("api_name") for d in config["dependencies"] if d.get("api_visibility", "public") == "public"]
    assert "ask" in named
    assert "end of July" in client.post("/api/ask", json={"question": SHOIGU}).json()["answer"]
    assert client.get("/healthz").json()["status"] == "ok"


def test_ui_auth_puts_the_ui_behind_a_login(qa):
    from fastapi.testclient import TestClient

    from app import create_app

    client = TestClient(create_app(qa, qa.settings.replace(ui_auth="reader:pa:ss")))
    assert client.get("/config").status_code == 401
    assert client.post("/login", data={"username": "reader", "password": "wrong"}).status_code >= 400
    assert client.post("/login", data={"username": "reader", "password": "pa:ss"}).status_code == 200
    assert client.get("/config").status_code == 200


def test_gradio_client_asks_through_the_named_endpoint(qa):
    from gradio_client import Client

    from app import BackgroundServer, create_app, ensure_no_proxy

    ensure_no_proxy()
    with BackgroundServer(create_app(qa, qa.settings)) as server:
        client = Client(server.url + "/", verbose=False, download_files=False)
        body = client.predict(SHOIGU, api_name="/ask")
        assert "end of July" in body["answer"] and body["citations"][0]["quote"] in body["answer"]
        body = client.predict("Who greeted Shoigu at the airport in Pyongyang?", [], "extractive", 2, api_name="/ask")
        assert "Kang Sun-nam" in body["answer"] and len(body["passages"]) == 2
        with pytest.raises(Exception, match="empty"):
            client.predict("  ", api_name="/ask")


# --- python app.py ---------------------------------------------------------------------------------------


def test_startup_builds_a_missing_index_then_picks_up_new_files(tmp_path, embedder, capsys):
    from app import load_service
    from ragchat import Settings

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_text("The Zorblat festival is held every April in Quenby.\n", encoding="utf-8")
    settings = Settings(seeds_dir=seeds, index_dir=tmp_path / "index", mode="extractive")
    assert load_service(settings, embedder).ask("When is the Zorblat festival?").citations[0].source == "a.txt"
    err = capsys.readouterr().err
    assert "building it" in err and "embedding 2/2 sentences" in err  # the sentence and its heading path

    (seeds / "b.md").write_text("Quenby has a harbour with forty boats.\n", encoding="utf-8")
    qa = load_service(settings, embedder)
    assert "1 added" in capsys.readouterr().err
    assert qa.ask("How many boats does the harbour of Quenby have?").citations[0].source == "b.md"


@pytest.mark.slow
def test_python_app_py_builds_a_missing_index_and_serves(tmp_path):
    """The README's run command, end to end: a fresh index folder is built (with progress) and served."""
    import httpx

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "note.md").write_text("# Note\n\nThe Zorblat festival is held every April in Quenby.\n", encoding="utf-8")
    with app_process(seeds, tmp_path / "index", tmp_path / "server.log") as app:
        with httpx.Client(base_url=app.url, timeout=10, trust_env=False) as http:
            body = http.post("/api/ask", json={"question": "When is the Zorblat festival?"}).json()
            assert "April" in body["answer"] and body["citations"][0]["source"] == "note.md"
            assert "text/html" in http.get("/").headers["content-type"]
    output = (tmp_path / "server.log").read_text()
    assert "building it" in output and "embedding" in output and "Traceback" not in output
    assert (tmp_path / "index" / "CURRENT").exists()


def test_an_upload_while_another_indexer_runs_is_reported_then_indexed(corpus_qa, tmp_path):
    from ragchat.store import write_lock

    upload = tmp_path / "later.txt"
    upload.write_text("The Quenby lantern walk takes place every November.\n", encoding="utf-8")
    with write_lock(corpus_qa.settings.index_dir):  # as a `ragchat index` in another process would hold it
        busy = ui.Library(corpus_qa).add([(upload, "later.txt")])
    assert "not searchable yet" in busy.message() and "searchable now" not in busy.message()
    again = ui.Library(corpus_qa).add([(upload, "later.txt")])
    assert "Already in the library" not in again.message() and "searchable now" in again.message()
    assert corpus_qa.document("later.txt") is not None
    assert corpus_qa.ask("When does the Quenby lantern walk take place?").citations[0].source == "later.txt"
