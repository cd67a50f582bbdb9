"""The chat in a real browser: Playwright driving Debian's Chromium against a live server.

Asks the example question, sees the answer stream in and cite its source, clicks the reference and sees the span
highlighted in the document; follows up; abstains; uploads a document and asks about it. Saves a screenshot to
bench/out/screenshot.png, or to SCREENSHOT (`SCREENSHOT=docs/screenshot.png make test` refreshes
the README's picture). Needs /usr/bin/chromium (CI: apt-get install -y chromium); `playwright install` is not used.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
# Not docs/ by default: every run's picture differs (timings), and a test run should not dirty the tree.
SCREENSHOT = ROOT / os.environ.get("SCREENSHOT", "bench/out/screenshot.png")
SHOIGU = "When did Shoigu visit North Korea?"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)"
)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


@pytest.fixture(scope="module")
def qa(tmp_path_factory, seed_index, embedder):
    """Extractive answers, streamed word by word (as a generator would), over a writable copy of the seeds."""
    from ragchat.qa import QA, Delta, Stage, load
    from tests.conftest import SEED_FILE

    class Streaming(QA):
        """`pause`: seconds spent "reading" (as a model would), for Stop and the queue; `closed` counts answer
        paths that were closed, finished or not."""

        pause = 0.0
        closed = 0

        def events(self, *args, **kwargs):
            try:
                for event in super().events(*args, **kwargs):
                    if isinstance(event, Delta):
                        for word in event.text.split(" "):
                            time.sleep(0.03)
                            yield Delta(word + " ")
                        continue
                    yield event
                    if isinstance(event, Stage) and event.name == "reading":
                        time.sleep(self.pause)
            finally:
                type(self).closed += 1

    root = tmp_path_factory.mktemp("browser")
    (root / "seeds").mkdir()
    shutil.copy(SEED_FILE, root / "seeds" / SEED_FILE.name)
    shutil.copytree(seed_index.index_dir, root / "index")
    settings = seed_index.replace(seeds_dir=root / "seeds", index_dir=root / "index", mode="extractive",
                                  modes="extractive,openai",  # the settings test picks openai in the chat
                                  openai_base_url="http://127.0.0.1:9/v1", openai_timeout=2.0)  # nothing listens there
    base = load(settings, embedder=embedder, build=False)
    return Streaming(base.settings, base.embedder, base.retriever, base.prompts)


@pytest.fixture(scope="module")
def server(qa):
    from app import BackgroundServer, create_app, ensure_no_proxy

    ensure_no_proxy()
    with BackgroundServer(create_app(qa, qa.settings)) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    expect(page.locator("#rc-question textarea")).to_be_visible()
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def slow(qa):
    """Answers that spend a while "reading", long enough to see the stage, press Stop or queue behind."""
    def set_pause(seconds: float):
        qa.pause = seconds
        return qa
    yield set_pause
    qa.pause = 0.0


def ask(page, question: str):
    """Type a question, press Enter; returns the locator of the new answer once it is final."""
    before = page.locator("#rc-chat .rc-meta").count()
    page.locator("#rc-question textarea").fill(question)
    page.locator("#rc-question textarea").press("Enter")
    expect(page.locator("#rc-chat .rc-meta")).to_have_count(before + 1)
    return page.locator("#rc-chat .rc-answer").last


def test_ask_click_reference_and_see_the_span_in_its_document(page, qa, slow):
    expected = qa.ask(SHOIGU).citations[0]
    slow(1.0)
    page.locator("#rc-question textarea").fill(SHOIGU)
    page.locator("#rc-question textarea").press("Enter")
    # The answer path's stages show while it works, and the passages found before any answer text.
    expect(page.locator("#rc-chat .rc-stage")).to_contain_text("Reading")
    expect(page.locator("#rc-sources .rc-retrieved").first).to_be_visible()
    slow(0.0)
    # The answer streams in before it is final (then its references become links).
    expect(page.locator("#rc-chat .rc-streaming").filter(has_text="end of")).to_be_visible()
    expect(page.locator("#rc-chat .rc-meta")).to_have_count(1)
    answer = page.locator("#rc-chat .rc-answer").first  # stays the first answer after the follow-up
    expect(answer).to_contain_text("end of July")
    reference = answer.locator("a.rc-ref").first
    expect(reference).to_have_text("[1]")

    # The sources panel: file name, span, the passage with the supporting quote highlighted.
    card = page.locator("#rc-sources .rc-card").first
    expect(card.locator(".rc-file")).to_have_text(expected.source)
    expect(card.locator(".rc-span")).to_contain_text(f"{expected.start:,}–{expected.end:,}")
    expect(card.locator("mark.rc-quote")).to_have_text(expected.quote)

    # "View in document" opens the whole document with the cited span highlighted and scrolled into view.
    card.locator("a.rc-view").click()
    mark = page.locator("#rc-document mark.rc-active")
    expect(mark).to_have_text(expected.quote)
    expect(mark).to_be_in_viewport()
    expect(page.locator("#rc-document .rc-doc-head .rc-file")).to_have_text(expected.source)
    assert len(page.locator("#rc-document .rc-doc-body").inner_text()) > 10 * len(expected.quote)  # all of it

    # A follow-up uses the conversation; its sources replace the first answer's.
    ask(page, "Who greeted him at the airport?")
    expect(page.locator("#rc-chat .rc-answer").last).to_contain_text("Kang Sun-nam")
    expect(page.locator("#rc-sources mark.rc-quote").first).to_contain_text("Kang Sun-nam")
    page.locator("#rc-chat .rc-answer").last.locator("a.rc-ref").first.click()
    expect(page.locator("#rc-document mark.rc-active")).to_contain_text("Kang Sun-nam")
    expect(page.locator("#rc-document mark.rc-active")).to_be_in_viewport()

    # Clicking the first answer's reference brings back its span (and its sources, with that card selected).
    reference.click()
    expect(mark).to_have_text(expected.quote)
    expect(mark).to_be_in_viewport()
    time.sleep(0.3)  # let the scroll settle for the picture
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    page.get_by_role("tab", name="Sources").click()
    expect(page.locator("#rc-sources .rc-card.rc-active mark.rc-quote")).to_have_text(expected.quote)


def test_an_abstention_is_shown_as_such_with_no_sources(page):
    ask(page, "What is the capital of France?")
    answer = page.locator("#rc-chat .rc-answer").last
    expect(answer.locator(".rc-abstain")).to_contain_text("Not in the documents")
    expect(answer.locator("a.rc-ref")).to_have_count(0)
    expect(page.locator("#rc-sources")).to_contain_text("No sources")
    expect(page.locator("#rc-sources .rc-card")).to_have_count(0)

    # Clearing the chat starts a new conversation: examples back, sources panel empty.
    page.locator('#rc-chat button[aria-label="Clear"]').click()
    expect(page.locator("#rc-chat .rc-answer")).to_have_count(0)
    expect(page.locator("#rc-chat")).to_contain_text("1 document loaded: north-korea-russia-staunch-ally.txt")
    expect(page.locator("#rc-chat button.example").first).to_contain_text("Festive celebration of Victory Day")
    expect(page.locator("#rc-sources")).to_contain_text("Ask a question")


def test_answer_settings_reach_the_service(page):
    """Mode "openai" with no server there: the answer still comes (extractive) and says why."""
    from app import MODE_LABELS

    page.get_by_text("Answer settings").click()
    page.locator("#rc-mode input").click()
    page.get_by_role("option", name=MODE_LABELS["openai"]).click()
    answer = ask(page, SHOIGU)
    expect(answer).to_contain_text("end of July")
    expect(answer.locator(".rc-note-warn")).to_contain_text("127.0.0.1:9")
    expect(answer.locator(".rc-meta")).to_contain_text("extractive")


def test_upload_a_document_then_ask_about_it(page, tmp_path):
    upload = tmp_path / "Zorblat festival.md"
    upload.write_text("# The Zorblat festival\n\nThe Zorblat festival is held every April in the town of Quenby.\n",
                      encoding="utf-8")
    page.get_by_role("tab", name="Library").click()
    page.locator("#rc-upload input[type=file]").set_input_files(str(upload))
    expect(page.locator("#rc-upload-status")).to_contain_text("searchable now", timeout=60_000)
    expect(page.locator("#rc-tab-library")).to_contain_text("Zorblat-festival.md")

    answer = ask(page, "When is the Zorblat festival held?")
    expect(answer).to_contain_text("April")
    expect(answer.locator("a.rc-ref").first).to_have_attribute("title", re.compile(r"^Zorblat-festival\.md, chars "))


def test_sign_in_then_ask(browser, qa):
    """With RAGCHAT_UI_AUTH the chat page sends the browser to the login page, and back to a working chat."""
    from app import BackgroundServer, create_app

    with BackgroundServer(create_app(qa, qa.settings.replace(ui_auth="reader:pa:ss"))) as server:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/")
        expect(page).to_have_url(re.compile(r"/login\?next=/$"))
        page.locator("#u").fill("reader")
        page.locator("#p").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Wrong user name or password")).to_be_visible()
        page.locator("#u").fill("reader")
        page.locator("#p").fill("pa:ss")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#rc-question textarea")).to_be_visible()
        expect(ask(page, SHOIGU)).to_contain_text("end of July")
        context.close()
        assert not errors, errors
