"""`python app.py`: the browser chat and the HTTP API on one server (127.0.0.1:7860; RAGCHAT_HOST, RAGCHAT_PORT).

Gradio UI only: main() builds the QA service (and the index, on first run), create_app() puts the Gradio Blocks
beside the JSON/OpenAI routes of ragchat.api on one FastAPI app, and uvicorn serves it. The HTML an Answer
becomes is in ragchat/ui.py; here it is wired to components and events.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # read when gradio is imported
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from ragchat import ui  # noqa: E402
from ragchat.api import create_api  # noqa: E402
from ragchat.auth import check_exposure  # noqa: E402
from ragchat.budget import Lanes, allowed_modes, check_mode, check_top_k  # noqa: E402
from ragchat.errors import QuestionError, RagError  # noqa: E402
from ragchat.qa import QA  # noqa: E402
from ragchat.schema import answer_json  # noqa: E402
from ragchat.settings import Settings  # noqa: E402
from ragchat.types import Answer  # noqa: E402

log = logging.getLogger("ragchat.app")

EXAMPLES = (
    "When did Shoigu visit North Korea?",
    "Who greeted Shoigu at the airport in Pyongyang?",
    "When was the Korean War armistice signed?",
    "What did Shoigu hand to Kim Jong-un?",
)
MODE_LABELS = {
    "auto": "Auto: the local model when installed, else extractive",
    "extractive": "Extractive: the passages' own sentences, instant",
    "local": "Local model (Qwen2.5 1.5B on this CPU; slow)",
    "openai": "OpenAI-compatible server (RAGCHAT_OPENAI_BASE_URL)",
}
UPLOAD_TYPES = [".txt", ".md", ".html", ".htm", ".pdf"]
MAX_KEPT_ANSWERS = 100  # per browser session, for references in older messages
MAX_KEPT_TURNS = 12  # per browser session: qa.py reads the last 6 turns of a conversation, never more
QUEUE_SIZE = 16  # chat events waiting in Gradio's queue; more are told the queue is full instead of piling up
# Gradio's temporary copies of uploads (handled ones are deleted at once; these catch any a client never used):
# every 10 minutes, files older than an hour.
DELETE_CACHE = (600, 3600)
INTERNAL_ERROR = "internal error: the server log has the details"
UPLOAD_HINT = ("Files are saved into the documents folder under a safe name and indexed at once; they are "
               "searchable as soon as the progress bar finishes.")
PANEL_HEIGHT = "calc(100vh - 250px)"

def theme() -> gr.themes.Base:
    return gr.themes.Soft(
        primary_hue=gr.themes.colors.indigo,
        neutral_hue=gr.themes.colors.slate,
        # Fonts served by the app itself (no CDN). Gradio's IBMPlexSans-SemiBold.woff2 is a partial subset (most
        # glyphs fall back to a serif face), so only Regular and Bold are declared: weight 600 resolves to Bold.
        font=[gr.themes.LocalFont("IBM Plex Sans", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400,)), "ui-monospace", "monospace"],
    ).set(body_background_fill="#f6f7fb", block_radius="12px", button_large_radius="10px")


CSS = """
.gradio-container { max-width: 1440px !important; margin: 0 auto !important; }
#rc-header { padding: 6px 4px 0 4px; }
#rc-header h1 { font-size: 1.45rem; font-weight: 700; margin: 0; letter-spacing: -0.01em; }
#rc-header h1 .rc-logo { color: var(--color-accent); }
#rc-header p { margin: 2px 0 0 0; color: var(--body-text-color-subdued); font-size: 0.93rem; }
#rc-chat { border-radius: 12px; }
#rc-chat .message-wrap .message { font-size: 0.96rem; line-height: 1.6; }
#rc-chat .placeholder { text-align: center; padding: 0 48px; color: var(--body-text-color-subdued); }
#rc-chat .placeholder h3 { color: var(--body-text-color); margin-bottom: 4px; }
#rc-chat button.example { border: 1px solid #e2e8f0; border-radius: 10px; background: #f8fafc; text-align: left;
  transition: border-color .15s, background .15s; }
#rc-chat button.example:hover { border-color: #a5b4fc; background: #eef2ff; }
.rc-answer p { margin: 0 0 0.35em 0; }
.rc-answer .rc-muted, .rc-muted { color: var(--body-text-color-subdued); }
a.rc-ref, span.rc-ref {
  display: inline-block; padding: 0 5px; margin: 0 1px; border-radius: 6px; font-size: 0.78em; font-weight: 600;
  line-height: 1.45; vertical-align: 0.12em; text-decoration: none !important; cursor: pointer;
  color: #3730a3 !important; background: #e0e7ff; border: 1px solid #c7d2fe;
}
a.rc-ref:hover { background: #c7d2fe; }
.rc-unverified { background: #fff7ed; border-bottom: 2px dotted #f97316; padding: 1px 2px; border-radius: 3px; }
.rc-badge {
  display: inline-block; margin-left: 6px; padding: 0 7px; border-radius: 999px; font-size: 0.72em; font-weight: 600;
  line-height: 1.6; vertical-align: 0.1em; white-space: nowrap;
}
.rc-badge-warn { color: #9a3412; background: #ffedd5; border: 1px solid #fed7aa; }
.rc-badge-muted { color: #334155; background: #e2e8f0; border: 1px solid #cbd5e1; margin: 0 0 6px 0; }
.rc-abstain p { color: #475569; font-style: italic; }
.rc-note { margin-top: 6px; font-size: 0.82em; padding: 4px 8px; border-radius: 6px; }
.rc-note-warn { color: #9a3412; background: #fff7ed; }
.rc-meta { margin-top: 4px; font-size: 0.75em; color: var(--body-text-color-subdued); }
.rc-error { color: #991b1b; background: #fef2f2; border: 1px solid #fecaca; padding: 6px 10px; border-radius: 8px; }
.rc-cursor { display: inline-block; width: 7px; height: 1em; margin-left: 2px; vertical-align: -0.15em;
  background: var(--color-accent); animation: rc-blink 1s steps(2) infinite; }
@keyframes rc-blink { 50% { opacity: 0; } }

#rc-side .tab-container button { font-weight: 600; }
.rc-empty p { color: var(--body-text-color-subdued); font-size: 0.92rem; line-height: 1.6; margin: 12px 4px; }
.rc-sources-head { font-size: 0.8rem; color: var(--body-text-color-subdued); margin: 2px 2px 10px 2px; }
.rc-card { border: 1px solid #e2e8f0; border-radius: 10px; background: #fff; padding: 10px 12px; margin-bottom: 10px;
  box-shadow: 0 1px 2px rgba(15, 23, 42, 0.04); transition: border-color .15s, box-shadow .15s; }
.rc-card.rc-active { border-color: #818cf8; box-shadow: 0 0 0 3px #e0e7ff; }
.rc-card-head, .rc-doc-head { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
a.rc-num { display: inline-flex; align-items: center; justify-content: center; min-width: 22px; height: 22px;
  border-radius: 6px; background: #4f46e5; color: #fff !important; font-size: 0.78rem; font-weight: 700;
  text-decoration: none !important; }
.rc-file { font-weight: 600; font-size: 0.86rem; color: #0f172a; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; max-width: 60%; }
.rc-span { font-size: 0.78rem; color: #64748b; font-variant-numeric: tabular-nums; }
.rc-passage { margin-top: 8px; font-size: 0.86rem; line-height: 1.6; color: #475569; white-space: pre-wrap; }
mark.rc-quote { background: #fef08a; color: #0f172a; padding: 1px 0; border-radius: 2px; }
.rc-card-foot { margin-top: 6px; text-align: right; }
a.rc-view { font-size: 0.8rem; font-weight: 600; color: #4f46e5 !important; text-decoration: none !important; }
a.rc-view:hover { text-decoration: underline !important; }
.rc-doc-head { background: #fff; padding: 8px 12px; border: 1px solid #e2e8f0; border-radius: 10px 10px 0 0; }
.rc-doc-head .rc-file { max-width: 75%; }
.rc-chips { margin-left: auto; display: flex; gap: 4px; }
a.rc-chip { font-size: 0.75rem; font-weight: 600; padding: 0 6px; border-radius: 6px; text-decoration: none !important;
  color: #3730a3 !important; background: #eef2ff; border: 1px solid #c7d2fe; }
a.rc-chip.rc-active { background: #4f46e5; color: #fff !important; border-color: #4f46e5; }
.rc-doc-where { flex-basis: 100%; }
.rc-doc-body { white-space: pre-wrap; font-size: 0.9rem; line-height: 1.7; color: #334155; background: #fff;
  border: 1px solid #e2e8f0; border-top: 0; border-radius: 0 0 10px 10px; padding: 12px 18px;
  max-height: calc(100vh - 300px); min-height: 300px; overflow-y: auto;
  font-family: ui-serif, Georgia, Cambria, "Times New Roman", serif; }
mark.rc-hl { background: #fef9c3; color: inherit; border-radius: 2px; padding: 1px 0; }
mark.rc-hl.rc-active { background: #fde047; box-shadow: 0 0 0 2px #facc15; color: #0f172a; }
.rc-library ul { list-style: none; padding: 0; margin: 0; }
.rc-library li { display: flex; justify-content: space-between; gap: 8px; padding: 7px 4px;
  border-bottom: 1px solid #eef2f7; }
.rc-library li .rc-file { max-width: 70%; }
#rc-upload-status { font-size: 0.86rem; color: var(--body-text-color-subdued); min-height: 48px; }
#rc-upload-status p { margin: 4px 0; }
#rc-question { border: 1px solid #c7d2fe; border-radius: 12px; box-shadow: 0 1px 3px rgba(15, 23, 42, .06); }
#rc-question button.submit-button, #rc-question button[aria-label="Submit"] {
  background: var(--button-primary-background-fill); color: #fff; border-radius: 8px; padding: 0 14px;
  font-weight: 600; min-width: 64px; }
footer { display: none !important; }
"""

# Clicks on references: a capture-phase listener on the page turns an <a href="#cite-a1-2"> (in a chat message)
# or <a href="#doc-a1-2"> (in the sources panel) into a click event of the sources component, with its data.
# Installed once; the latest `trigger` is kept on window in case Gradio mounts the component again.
REFERENCE_JS = """
window.__rcTrigger = trigger;
if (!window.__rcRefs) {
  window.__rcRefs = true;
  document.addEventListener('click', (ev) => {
    const a = ev.target && ev.target.closest ? ev.target.closest('a[href^="#cite-"], a[href^="#doc-"]') : null;
    if (!a) return;
    const m = (a.getAttribute('href') || '').match(/^#(cite|doc)-([A-Za-z0-9]+)-(\\d+)$/);
    if (!m) return;
    ev.preventDefault();
    ev.stopPropagation();
    window.__rcTrigger('click', {kind: m[1], aid: m[2], n: parseInt(m[3], 10)});
  }, true);
}
"""

# After the document view re-renders, bring the active span into view (retrying while its tab is being shown).
SCROLL_JS = """
const reveal = () => {
  let tries = 0;
  const tick = () => {
    const mark = element.querySelector('mark.rc-active');
    if (!mark) return;
    if (mark.offsetParent === null && ++tries < 40) { setTimeout(tick, 50); return; }
    mark.scrollIntoView({block: 'center', inline: 'nearest'});
  };
  tick();
};
watch('value', reveal);
reveal();
"""


def new_session() -> dict:
    return {"answers": {}, "turns": [], "messages": [], "next": 1}


def _integer(value: object) -> object:
    """The slider sends 5.0; anything that is not a whole number is left for check_top_k to refuse."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def build_ui(qa: QA, settings: Settings, lanes: Lanes | None = None) -> gr.Blocks:
    """The chat. `lanes` are the API's (create_app passes them), so local generations are counted once across both."""
    library = ui.Library(qa)
    lanes = lanes or Lanes(settings)
    available = qa.available_modes()
    allowed = allowed_modes(settings, available)
    modes = ["auto", *allowed] if "auto" == settings.mode else allowed
    default_mode = settings.mode if settings.mode in modes else modes[0]

    def answers(question: str, history: list, mode: str | None, top_k: object) -> Iterator[str | Answer]:
        """qa.ask_stream within the server's budgets: an allowed mode, a capped top_k, a place in its lane.
        Gradio's inputs are whatever a client sends to the queue, not what the widgets allow."""
        resolved = check_mode(mode or None, settings, available)
        k = check_top_k(_integer(top_k), settings)
        lane = lanes.for_mode(resolved)
        if lane is None:
            yield from qa.ask_stream(question, history, mode=mode or None, top_k=k)
            return
        with lane.enter():
            yield from qa.ask_stream(question, history, mode=mode or None, top_k=k)

    def respond(question: str, session: dict, mode: str, top_k: float) -> Iterator[tuple]:
        question = (question or "").strip() if isinstance(question, str) else ""
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        messages = session["messages"] + [{"role": "user", "content": question}]
        shown = messages + [{"role": "assistant", "content": ui.pending_html()}]
        yield shown, "", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        text, answer = "", None
        try:
            for item in answers(question, session["turns"], mode, top_k):
                if isinstance(item, Answer):
                    answer = item
                elif item:
                    text += item
                    yield messages + [{"role": "assistant", "content": ui.streaming_html(text)}], *([gr.skip()] * 5)
        except Exception as e:  # a RagError's message is for the user; anything else is logged, not shown
            if not isinstance(e, RagError):
                log.exception("answering %r failed", question)
            message = str(e) if isinstance(e, RagError) else INTERNAL_ERROR
            session["messages"] = _bounded(messages + [{"role": "assistant", "content": ui.error_html(message)}],
                                          settings.max_session_messages)
            yield session["messages"], gr.skip(), session, gr.skip(), gr.skip(), gr.skip()
            return
        assert answer is not None
        aid = f"a{session['next']}"
        session["next"] += 1
        session["answers"][aid] = answer
        for old in list(session["answers"])[:-MAX_KEPT_ANSWERS]:
            del session["answers"][old]
        session["turns"] = (session["turns"] + [{"role": "user", "content": question},
                                                {"role": "assistant", "content": answer.answer}])[-MAX_KEPT_TURNS:]
        session["messages"] = _bounded(messages + [{"role": "assistant", "content": ui.answer_html(answer, aid)}],
                                      settings.max_session_messages)
        yield (session["messages"], gr.skip(), session, ui.sources_html(answer, aid, qa.document),
               ui.document_placeholder(), gr.Tabs(selected="sources"))

    def show_reference(session: dict, evt: gr.EventData):
        data = getattr(evt, "_data", None) or {}
        aid, n = str(data.get("aid", "")), data.get("n")
        answer: Answer | None = session["answers"].get(aid)
        citation = next((c for c in answer.citations if c.n == n), None) if answer else None
        if citation is None:
            return gr.skip(), gr.skip(), gr.skip()
        doc = qa.document(citation.source)
        if doc is None:  # removed from the index since the answer was given
            view = f'<div class="rc-doc rc-empty"><p>{ui.esc(citation.source)} is no longer indexed.</p></div>'
        else:
            # Only spans whose text is still there: the file may have been re-indexed since the answer.
            marks = [m for m in ui.marks_in(answer, citation.source)
                     if doc.text[m.start : m.end] == next(c.quote for c in answer.citations if c.n == m.n)]
            view = ui.document_html(doc, marks, active=n, aid=aid)
            if not any(m.n == n for m in marks):
                view = ('<div class="rc-note rc-note-warn">This document has changed since the answer was given: '
                        "the cited passage is no longer at the same place.</div>" + view)
        return ui.sources_html(answer, aid, qa.document, active=n), view, gr.Tabs(selected="document")

    def open_document(source: str | None):
        doc = qa.document(source) if source else None
        if doc is None:
            return gr.skip(), gr.skip()
        return ui.document_html(doc), gr.Tabs(selected="document")

    def add_files(paths: list[str] | None, progress=gr.Progress()):
        if not paths:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        files = [Path(p) for p in paths if isinstance(p, str) and p]
        try:
            if len(files) > settings.max_upload_files:
                message = (f"Not added: {len(files)} files at once; the limit is {settings.max_upload_files}. "
                           "Upload them in smaller batches (RAGCHAT_MAX_UPLOAD_FILES on the server sets the limit).")
            else:
                progress(0, desc="Reading files")

                def on_progress(done: int, total: int) -> None:
                    progress((done, total), desc="Embedding new passages", unit="sentences")

                # Regular files only: a path in an event's payload is the client's to choose, not necessarily
                # one of Gradio's upload copies (Gradio checks that too; this keeps folders out of the loader).
                named = [(f, f.name) for f in files if f.is_file()]
                odd = len(files) - len(named)
                added = library.add(named, progress=on_progress)
                message = added.message()
                if odd:
                    message += f"\n\nNot added: {odd} upload(s) that are not files. Upload each document as a file."
        except RagError as e:
            message = f"Could not index the upload: {e}"
        except Exception:
            log.exception("adding uploaded files failed")
            message = f"Could not index the upload: {INTERNAL_ERROR}"
        finally:
            _delete_uploads(files)
        docs = library.documents()
        choices = [d.source for d in docs]
        return message, ui.library_html(docs), gr.Dropdown(choices=choices), None

    def pick_example(evt: gr.SelectData) -> str:
        return evt.value["text"] if isinstance(evt.value, dict) else str(evt.value)

    def clear():
        return [], new_session(), ui.sources_placeholder(), ui.document_placeholder(), gr.Tabs(selected="sources")

    def api_ask(question: str, history: list | None = None, mode: str | None = None, top_k: int | None = None) -> dict:
        """Answer a question from the documents; returns the Answer JSON (the same as POST /api/ask)."""
        try:
            if not isinstance(question, str) or not (history is None or isinstance(history, list)):
                raise QuestionError("question must be text and history a list of {role, content} messages")
            answer = None
            for item in answers(question, history or [], mode or None, top_k or None):
                if isinstance(item, Answer):
                    answer = item
            return answer_json(answer)
        except RagError as e:
            raise gr.Error(str(e)) from None
        except Exception:  # show_error is off, but say something a caller can act on
            log.exception("the /ask endpoint failed")
            raise gr.Error(INTERNAL_ERROR) from None

    docs = library.documents()
    with gr.Blocks(title="ragchat: cited answers from your documents", analytics_enabled=False,
                   delete_cache=DELETE_CACHE) as blocks:
        session = gr.State(new_session())  # copied for every browser session
        gr.HTML(
            '<div id="rc-header"><h1><span class="rc-logo">◆</span> ragchat</h1>'
            "<p>Answers from the documents in your library, every claim cited to the exact passage. "
            "Runs offline.</p></div>",
            js_on_load=None,
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=11, min_width=420):
                chatbot = gr.Chatbot(
                    elem_id="rc-chat",
                    show_label=False,
                    height="calc(100vh - 290px)",
                    min_height=420,
                    latex_delimiters=[],
                    feedback_options=None,
                    buttons=[],  # a copy button would copy the message's HTML
                    placeholder="### Ask about your documents\nEvery answer cites its sources. Click a reference "
                    "to read the passage in its document.",
                    examples=[{"text": q} for q in EXAMPLES],
                    autoscroll=True,
                )
                question = gr.Textbox(
                    elem_id="rc-question",
                    show_label=False,
                    placeholder="Ask a question about the documents, or a follow-up…",
                    lines=1,
                    max_lines=6,
                    autofocus=True,
                    container=False,
                    submit_btn="Ask",
                )
                with gr.Accordion("Answer settings", open=False):
                    with gr.Row():
                        mode = gr.Dropdown(
                            choices=[(MODE_LABELS.get(m, m), m) for m in modes],
                            value=default_mode,
                            label="Answer mode",
                            scale=3,
                            elem_id="rc-mode",
                        )
                        top_k = gr.Slider(1, min(20, settings.max_top_k), value=min(settings.top_k, settings.max_top_k),
                                          step=1, label="Passages (top-k)",
                                          scale=2, elem_id="rc-top-k")
            with gr.Column(scale=9, min_width=380, elem_id="rc-side"):
                with gr.Tabs(selected="sources", elem_id="rc-tabs") as tabs:
                    with gr.Tab("Sources", id="sources", elem_id="rc-tab-sources"):
                        sources = gr.HTML(ui.sources_placeholder(), elem_id="rc-sources", max_height=PANEL_HEIGHT,
                                          js_on_load=REFERENCE_JS)
                    with gr.Tab("Document", id="document", elem_id="rc-tab-document"):
                        document = gr.HTML(ui.document_placeholder(), elem_id="rc-document", js_on_load=SCROLL_JS)
                    with gr.Tab("Library", id="library", elem_id="rc-tab-library"):
                        upload = gr.File(
                            label="Add documents (txt, md, html, pdf)",
                            file_count="multiple",
                            file_types=UPLOAD_TYPES,
                            type="filepath",
                            height=180,
                            elem_id="rc-upload",
                        )
                        status = gr.Markdown(UPLOAD_HINT, elem_id="rc-upload-status")
                        doc_picker = gr.Dropdown(
                            choices=[d.source for d in docs], value=None, label="Read a document",
                            elem_id="rc-doc-picker",
                        )
                        shelf = gr.HTML(ui.library_html(docs), js_on_load=None)

        outputs = [chatbot, question, session, sources, document, tabs]
        ask_inputs = [question, session, mode, top_k]
        private = {"api_visibility": "private"}
        question.submit(respond, ask_inputs, outputs, concurrency_limit=4, concurrency_id="ask", **private)
        chatbot.example_select(pick_example, None, question, queue=False, **private).then(
            respond, ask_inputs, outputs, concurrency_id="ask", **private)
        chatbot.clear(clear, None, [chatbot, session, sources, document, tabs], queue=False, **private)
        sources.click(show_reference, [session], [sources, document, tabs], queue=False, **private)
        doc_picker.input(open_document, [doc_picker], [document, tabs], queue=False, **private)
        upload.upload(add_files, [upload], [status, shelf, doc_picker, upload], concurrency_limit=1,
                      concurrency_id="index", show_progress_on=[upload], **private)
        gr.api(api_ask, api_name="ask", concurrency_limit=4, concurrency_id="ask")
    blocks.queue(default_concurrency_limit=4, max_size=QUEUE_SIZE)
    return blocks


def _bounded(messages: list[dict], limit: int) -> list[dict]:
    return messages[-limit:]


def _delete_uploads(files: list[Path]) -> None:
    """Gradio's temporary copies of handled uploads and their per-upload folders: the documents folder has its
    own copy now, and a client must not fill the disk through the upload route. Only inside Gradio's upload
    folder: a path in an event's payload is the client's to choose."""
    from gradio.utils import get_upload_folder

    root = Path(get_upload_folder()).resolve()
    for f in files:
        try:
            path = f.resolve()
            if root not in path.parents:
                continue
            if path.is_file():
                path.unlink()
            if path.parent != root:
                path.parent.rmdir()  # fails, harmlessly, while another file is in it
        except OSError:
            pass


def create_app(qa: QA, settings: Settings) -> FastAPI:
    """One FastAPI app: the JSON/OpenAI routes (ragchat.api) and the Gradio UI mounted at /, behind one set of
    credentials (ragchat.auth, installed by create_api) and one set of model lanes (ragchat.budget)."""
    lanes = Lanes(settings)
    app = create_api(qa, settings, lanes)
    return gr.mount_gradio_app(
        app,
        build_ui(qa, settings, lanes),
        path="/",
        auth=None,  # the login is ragchat.auth's, in front of every route (Gradio's covered only Gradio's)
        theme=theme(),
        css=CSS,
        max_file_size=settings.max_upload_bytes,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        footer_links=[],
        show_error=False,  # internal exception text stays in the log; gr.Error messages are still shown
    )


class BackgroundServer:
    """Serve an app with uvicorn in a daemon thread on a socket bound here (port 0: a free one); for tests,
    benchmarks and notebooks. `with BackgroundServer(app) as server: httpx.get(server.url + "/healthz")`."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        import socket

        import uvicorn

        self.socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> "BackgroundServer":
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.socket.close()

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def ensure_no_proxy() -> None:
    """With HTTP(S)_PROXY set, local clients (ours, gradio's own checks) must not send 127.0.0.1 to the proxy."""
    if not any(os.environ.get(v) for v in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")):
        return
    for var in ("NO_PROXY", "no_proxy"):
        present = [h.strip() for h in os.environ.get(var, "").split(",") if h.strip()]
        missing = [h for h in ("127.0.0.1", "localhost") if h not in present]
        if missing:
            os.environ[var] = ",".join(present + missing)


def _console_progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    print(f"\r  embedding {done}/{total} sentences [{'#' * filled}{'.' * (width - filled)}]", end="",
          file=sys.stderr, flush=True)
    if done >= total:
        print(file=sys.stderr)


def load_service(settings: Settings, embedder=None) -> QA:
    """The QA service. The index is built first when index/ has none (progress on the console), else brought up
    to date with seeds/ (incremental: files added or changed while the server was down are embedded)."""
    from ragchat import IndexBusyError, build_index, load_embedder
    from ragchat.qa import load

    started = time.perf_counter()
    if embedder is None:
        print(f"ragchat: loading the embedder ({settings.embedder})…", file=sys.stderr, flush=True)
        embedder = load_embedder(settings.embedder, settings.torch_threads)
    if not (settings.index_dir / "CURRENT").exists():
        print(f"ragchat: no index in {settings.index_dir}/: building it from {settings.seeds_dir}/ (first run)",
              file=sys.stderr, flush=True)
        print(f"ragchat: {build_index(settings, embedder, progress=_console_progress).summary()}", file=sys.stderr)
    else:
        try:
            report = build_index(settings, embedder, progress=_console_progress)
            if report.written:
                print(f"ragchat: {settings.seeds_dir}/ changed: {report.summary()}", file=sys.stderr)
        except IndexBusyError as e:
            log.warning("%s; serving the index as it is", e)
    qa = load(settings, embedder=embedder, build=False)
    print(f"ragchat: documents and models loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr,
          flush=True)
    return qa


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="address to listen on (default: RAGCHAT_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: RAGCHAT_PORT or 7860)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    ensure_no_proxy()
    try:
        settings = Settings.from_env(host=args.host, port=args.port)
        check_exposure(settings)  # before minutes of loading, not after
        qa = load_service(settings)
        app = create_app(qa, settings)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    import uvicorn

    host = settings.host
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{settings.port}"
    print(f"ragchat: chat on {base}/  ·  API {base}/api/ask and {base}/v1/chat/completions "
          f"(schema: {base}/api/openapi.json)", file=sys.stderr, flush=True)
    if not (settings.api_key or settings.ui_auth) and settings.allow_open:
        log.warning("listening on %s with no credential (RAGCHAT_ALLOW_OPEN=1): anyone who can reach it can read "
                    "every document and add files", host)
    uvicorn.run(app, host=host, port=settings.port, log_level="warning", timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
