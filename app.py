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
from ragchat.qa import QA, Delta, Event, Sources, Stage  # noqa: E402
from ragchat.schema import answer_json  # noqa: E402
from ragchat.settings import Settings  # noqa: E402
from ragchat.types import Answer  # noqa: E402

log = logging.getLogger("ragchat.app")

MODE_LABELS = {
    "auto": "Auto: the local model when installed, else extractive",
    "extractive": "Extractive: the passages' own sentences, instant",
    "local": "Local model (Qwen2.5 1.5B on this CPU; slow)",
    "openai": "OpenAI-compatible server (RAGCHAT_OPENAI_BASE_URL)",
}
UPLOAD_TYPES = [".txt", ".md", ".html", ".htm", ".pdf"]
MAX_KEPT_ANSWERS = 100  # per browser session, for references in older messages
MAX_KEPT_TURNS = 12  # per browser session: qa.py reads the last 6 turns of a conversation, never more
# Questions answered at once in the chat; more wait in Gradio's queue (their message says so after a moment).
ASK_CONCURRENCY = 4
QUEUE_SIZE = 16  # chat events waiting in Gradio's queue; more are told the queue is full instead of piling up
# Gradio's temporary copies of uploads (handled ones are deleted at once; these catch any a client never used):
# every 10 minutes, files older than an hour.
DELETE_CACHE = (600, 3600)
INTERNAL_ERROR = "internal error: the server log has the details"
UPLOAD_HINT = ("Files are saved into the documents folder under a safe name and indexed at once; they are "
               "searchable as soon as the progress bar finishes.")
PANEL_HEIGHT = "calc(100vh - 250px)"
QUESTION_PLACEHOLDER = "Ask a question about the documents, or a follow-up…"
BUSY_PLACEHOLDER = "Answering… press Stop to ask something else"
STOP_WAIT_S = 3.0  # Stop's reply waits this long at most for the answer's generator to end (it checks 4× a second)

def theme() -> gr.themes.Base:
    return gr.themes.Soft(
        primary_hue=gr.themes.colors.indigo,
        neutral_hue=gr.themes.colors.slate,
        # Fonts served by the app itself (no CDN). Gradio's IBMPlexSans-SemiBold.woff2 is a partial subset (most
        # glyphs fall back to a serif face), so only Regular and Bold are declared: weight 600 resolves to Bold.
        font=[gr.themes.LocalFont("IBM Plex Sans", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400,)), "ui-monospace", "monospace"],
    ).set(body_background_fill="#f6f7fb", block_radius="12px", button_large_radius="10px",
          # Soft's subdued text (slate-400) is 2.6:1 on white: below WCAG AA's 4.5 for text.
          body_text_color_subdued="*neutral_600", body_text_color_subdued_dark="*neutral_300")


CSS = """
.gradio-container { max-width: 1440px !important; margin: 0 auto !important; }
/* Colours come from the theme's variables, which have dark values too; the few of our own have a .dark twin.
   Every text colour here is ≥ 4.5:1 against its background in both (tests/test_browser.py measures it). */
:root, .dark { --rc-accent-text: #3730a3; --rc-accent-soft: #e0e7ff; --rc-accent-line: #c7d2fe;
  --rc-warn-text: #9a3412; --rc-warn-soft: #fff7ed; --rc-mark: #fef08a; --rc-mark-active: #fde047; }
.dark { --rc-accent-text: #c7d2fe; --rc-accent-soft: #312e81; --rc-accent-line: #4338ca;
  --rc-warn-text: #fed7aa; --rc-warn-soft: #431407; --rc-mark: #854d0e; --rc-mark-active: #a16207; }
#rc-header { padding: 6px 4px 0 4px; display: flex; align-items: flex-start; justify-content: space-between;
  gap: 12px; flex-wrap: wrap; }
#rc-header h1 { font-size: 1.45rem; font-weight: 700; margin: 0; letter-spacing: -0.01em; }
#rc-header h1 .rc-logo { color: var(--color-accent); }
#rc-header p { margin: 2px 0 0 0; color: var(--body-text-color-subdued); font-size: 0.93rem; }
.rc-theme { display: inline-flex; border: 1px solid var(--border-color-primary); border-radius: 8px; overflow: hidden; }
.rc-theme button { padding: 3px 10px; font-size: 0.8rem; color: var(--body-text-color); cursor: pointer;
  background: var(--block-background-fill) !important; border: 0 !important; border-radius: 0 !important;
  box-shadow: none !important; margin: 0 !important; }
.rc-theme button[aria-pressed="true"] { background: var(--rc-accent-soft) !important; color: var(--rc-accent-text);
  font-weight: 700; }
#rc-chat { border-radius: 12px; }
#rc-chat .message-wrap .message { font-size: 0.96rem; line-height: 1.6; }
#rc-chat .placeholder { text-align: center; padding: 0 48px; color: var(--body-text-color); }
#rc-chat .placeholder h3 { color: var(--body-text-color); margin-bottom: 4px; }
#rc-chat button.example { border: 1px solid var(--border-color-primary); border-radius: 10px; text-align: left;
  background: var(--background-fill-secondary); color: var(--body-text-color); transition: border-color .15s; }
#rc-chat button.example * { color: var(--body-text-color); }
#rc-chat button.example:hover { border-color: var(--color-accent); }
.rc-answer p { margin: 0 0 0.35em 0; }
.rc-answer .rc-muted, .rc-muted { color: var(--body-text-color-subdued); }
.rc-stage { color: var(--body-text-color-subdued); }
.rc-queued { visibility: hidden; animation: rc-show 0s linear 0.6s forwards; }  /* only when the wait is real */
@keyframes rc-show { to { visibility: visible; } }
a.rc-ref, span.rc-ref {
  display: inline-block; padding: 0 5px; margin: 0 1px; border-radius: 6px; font-size: 0.78em; font-weight: 600;
  line-height: 1.45; vertical-align: 0.12em; text-decoration: none !important; cursor: pointer; position: relative;
  color: var(--rc-accent-text) !important; background: var(--rc-accent-soft); border: 1px solid var(--rc-accent-line);
}
a.rc-ref:hover, a.rc-ref:focus-visible { filter: brightness(0.95); }
a:focus-visible, button:focus-visible { outline: 2px solid var(--color-accent); outline-offset: 2px; }
.rc-unverified { background: var(--rc-warn-soft); border-bottom: 2px dotted #f97316; padding: 1px 2px; border-radius: 3px; }
.rc-badge {
  display: inline-block; margin-left: 6px; padding: 0 7px; border-radius: 999px; font-size: 0.72em; font-weight: 600;
  line-height: 1.6; vertical-align: 0.1em; white-space: nowrap;
}
.rc-badge-warn { color: var(--rc-warn-text); background: var(--rc-warn-soft); border: 1px solid #fed7aa; }
.rc-badge-muted { color: var(--body-text-color); background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); margin: 0 0 6px 0; }
.rc-abstain p { color: var(--body-text-color-subdued); font-style: italic; }
.rc-note { margin-top: 6px; font-size: 0.82em; padding: 4px 8px; border-radius: 6px; }
.rc-note-warn { color: var(--rc-warn-text); background: var(--rc-warn-soft); }
.rc-meta { margin-top: 4px; font-size: 0.75em; color: var(--body-text-color-subdued); }
.rc-actions { margin-left: 10px; }
a.rc-act { margin-right: 8px; color: var(--rc-accent-text) !important; font-weight: 600; text-decoration: none !important; }
a.rc-act:hover { text-decoration: underline !important; }
.rc-error { color: #991b1b; background: #fef2f2; border: 1px solid #fecaca; padding: 6px 10px; border-radius: 8px; }
.rc-cursor { display: inline-block; width: 7px; height: 1em; margin-left: 2px; vertical-align: -0.15em;
  background: var(--color-accent); animation: rc-blink 1s steps(2) infinite; }
@keyframes rc-blink { 50% { opacity: 0; } }
#rc-under { align-items: center; gap: 8px; min-height: 0; margin: 4px 0 0 0; }
#rc-under > *, #rc-under .html-container, #rc-under .prose { padding: 0 !important; min-height: 0 !important; }
#rc-notice:not(:has(.rc-notice)), #rc-count:not(:has(.rc-count:not(:empty))) { display: none !important; }
#rc-notice { flex: 1 1 auto; }
.rc-notice { color: var(--rc-warn-text); background: var(--rc-warn-soft); padding: 4px 10px; border-radius: 8px;
  font-size: 0.86rem; }
#rc-count { flex: 0 0 auto !important; min-width: 0 !important; }
.rc-count { font-size: 0.78rem; color: var(--body-text-color-subdued); font-variant-numeric: tabular-nums; }
.rc-count.rc-over { color: var(--rc-warn-text); font-weight: 700; }

#rc-side .tab-container button { font-weight: 600; }
.rc-empty p { color: var(--body-text-color-subdued); font-size: 0.92rem; line-height: 1.6; margin: 12px 4px; }
.rc-sources-head { font-size: 0.8rem; color: var(--body-text-color-subdued); margin: 2px 2px 10px 2px; }
.rc-card { border: 1px solid var(--border-color-primary); border-radius: 10px; background: var(--block-background-fill);
  padding: 10px 12px; margin-bottom: 10px; transition: border-color .15s, box-shadow .15s; }
.rc-card.rc-active { border-color: #818cf8; box-shadow: 0 0 0 3px var(--rc-accent-soft); }
.rc-card.rc-retrieved { opacity: 0.85; }
.rc-card-head, .rc-doc-head { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
a.rc-num { display: inline-flex; align-items: center; justify-content: center; min-width: 22px; height: 22px;
  border-radius: 6px; background: #4f46e5; color: #fff !important; font-size: 0.78rem; font-weight: 700;
  text-decoration: none !important; }
.rc-file { font-weight: 600; font-size: 0.86rem; color: var(--body-text-color); overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; max-width: 60%; }
.rc-span { font-size: 0.78rem; color: var(--body-text-color-subdued); font-variant-numeric: tabular-nums; }
.rc-passage { margin-top: 8px; font-size: 0.86rem; line-height: 1.6; color: var(--body-text-color); white-space: pre-wrap; }
mark.rc-quote { background: var(--rc-mark); color: var(--body-text-color); padding: 1px 0; border-radius: 2px; }
.rc-card-foot { margin-top: 6px; text-align: right; }
a.rc-view { font-size: 0.8rem; font-weight: 600; color: var(--rc-accent-text) !important; text-decoration: none !important; }
a.rc-view:hover { text-decoration: underline !important; }
.rc-doc-head { background: var(--block-background-fill); padding: 8px 12px; border: 1px solid var(--border-color-primary);
  border-radius: 10px 10px 0 0; }
.rc-doc-head .rc-file { max-width: 75%; }
.rc-chips { margin-left: auto; display: flex; gap: 4px; }
a.rc-chip { font-size: 0.75rem; font-weight: 600; padding: 0 6px; border-radius: 6px; text-decoration: none !important;
  color: var(--rc-accent-text) !important; background: var(--rc-accent-soft); border: 1px solid var(--rc-accent-line); }
a.rc-chip.rc-active { background: #4f46e5; color: #fff !important; border-color: #4f46e5; }
.rc-doc-where { flex-basis: 100%; }
.rc-find { flex-basis: 100%; display: flex; gap: 6px; align-items: center; }
.rc-find input { flex: 1; padding: 3px 8px; border: 1px solid var(--border-color-primary); border-radius: 6px;
  background: var(--input-background-fill); color: var(--body-text-color); font-size: 0.85rem; }
.rc-find-count { font-size: 0.78rem; color: var(--body-text-color-subdued); min-width: 5em; }
.rc-doc-body { font-size: 0.9rem; line-height: 1.7; color: var(--body-text-color); background: var(--block-background-fill);
  border: 1px solid var(--border-color-primary); border-top: 0; border-radius: 0 0 10px 10px; padding: 12px 18px;
  max-height: calc(100vh - 370px); min-height: 300px; overflow-y: auto;
  font-family: ui-serif, Georgia, Cambria, "Times New Roman", serif; }
.rc-doc-body .rc-b { white-space: pre-wrap; margin: 0 0 0.7em 0; }
.rc-doc-body .rc-gap { white-space: pre-wrap; }
.rc-doc-body .rc-h { font-family: var(--font); font-weight: 700; margin: 1em 0 0.4em 0; }
.rc-doc-body .rc-h1 { font-size: 1.25em; } .rc-doc-body .rc-h2 { font-size: 1.1em; } .rc-doc-body .rc-h3 { font-size: 1em; }
.rc-doc-body .rc-item { margin: 0 0 0.3em 1.2em; display: list-item; list-style: disc; }
.rc-doc-body .rc-row, .rc-doc-body .rc-header { font-family: var(--font); font-size: 0.86em; margin: 0;
  padding: 2px 6px; border-bottom: 1px solid var(--border-color-primary); }
.rc-doc-body .rc-header { font-weight: 700; background: var(--background-fill-secondary); }
.rc-doc-body .rc-code { font-family: var(--font-mono); font-size: 0.84em; background: var(--background-fill-secondary);
  padding: 6px 10px; border-radius: 6px; overflow-x: auto; }
.rc-doc-body .rc-page { display: flex; align-items: center; gap: 8px; margin: 14px 0 8px 0; font-family: var(--font);
  font-size: 0.75rem; font-weight: 600; color: var(--body-text-color-subdued); }
.rc-doc-body .rc-page::before, .rc-doc-body .rc-page::after { content: ""; flex: 1; border-top: 1px dashed var(--border-color-primary); }
mark.rc-hl { background: var(--rc-mark); color: inherit; border-radius: 2px; padding: 1px 0; }
mark.rc-hl.rc-active { background: var(--rc-mark-active); box-shadow: 0 0 0 2px #facc15; color: var(--body-text-color); }
mark.rc-found { background: #a5f3fc; color: #0f172a; }
mark.rc-found.rc-current { background: #22d3ee; }
.rc-library ul { list-style: none; padding: 0; margin: 0; }
.rc-library li { display: flex; align-items: center; gap: 8px; padding: 7px 4px; border-bottom: 1px solid var(--border-color-primary); }
.rc-library li a.rc-open { font-weight: 600; font-size: 0.86rem; color: var(--body-text-color) !important;
  text-decoration: none !important; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; max-width: 60%; }
.rc-library li a.rc-open:hover { text-decoration: underline !important; }
.rc-library li .rc-span { margin-left: auto; }
.rc-library li button.rc-delete { font-size: 0.75rem; padding: 0 6px; border-radius: 6px; cursor: pointer;
  color: var(--rc-warn-text); background: transparent; border: 1px solid var(--border-color-primary); }
#rc-upload-status { font-size: 0.86rem; color: var(--body-text-color); min-height: 48px; }
#rc-upload-status p { margin: 4px 0; }
#rc-question { border: 1px solid var(--rc-accent-line); border-radius: 12px; }
#rc-question button.submit-button, #rc-question button[aria-label="Submit"] {
  background: var(--button-primary-background-fill); color: #fff; border-radius: 8px; padding: 0 14px;
  font-weight: 600; min-width: 64px; }
#rc-mode input { text-overflow: ellipsis; }
#rc-mode ul.options li { white-space: normal; }
footer { display: none !important; }
@media (max-width: 640px) { #rc-chat .placeholder { padding: 0 8px; } .rc-file { max-width: 100%; } }
"""

# Clicks on references: a capture-phase listener on the page turns an <a href="#cite-a1-2"> (in a chat message)
# or <a href="#doc-a1-2"> (in the sources panel) into a click event of the sources component, with its data.
# Installed once; the latest `trigger` is kept on window in case Gradio mounts the component again.
REFERENCE_JS = """
window.__rcTrigger = trigger;
if (!window.__rcRefs) {
  window.__rcRefs = true;
  document.addEventListener('click', (ev) => {
    const a = ev.target && ev.target.closest ?
      ev.target.closest('a[href^="#cite-"], a[href^="#doc-"], a[href^="#copy-"], a[href^="#again-"]') : null;
    if (!a) return;
    const m = (a.getAttribute('href') || '').match(/^#(cite|doc|copy|again)-([A-Za-z0-9]+)-(\\d+)$/);
    if (!m) return;
    ev.preventDefault();
    ev.stopPropagation();
    if (m[1] === 'copy') {  // the answer as text, its [n] markers included
      const answer = a.closest('.rc-answer');
      const text = answer ? [...answer.querySelectorAll(':scope > p, .rc-abstain p')].map((p) => p.innerText).join('\\n') : '';
      const done = () => { a.textContent = 'Copied'; setTimeout(() => { a.textContent = 'Copy'; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done);
      else {
        const area = document.createElement('textarea');
        area.value = text; document.body.appendChild(area); area.select();
        document.execCommand('copy'); area.remove(); done();
      }
      return;
    }
    if (m[1] === 'again') {  // the same question as a new turn, through the box like any other
      const box = document.querySelector('#rc-question textarea');
      if (!box || box.disabled) return;
      box.value = a.getAttribute('title') || '';
      box.dispatchEvent(new Event('input', {bubbles: true}));
      const send = document.querySelector('#rc-question button.submit-button, #rc-question button[aria-label="Submit"]');
      setTimeout(() => send && send.click(), 50);
      return;
    }
    window.__rcTrigger('click', {kind: m[1], aid: m[2], n: parseInt(m[3], 10)});
  }, true);
}
"""

# The theme switch: light, dark or the system's, remembered in this browser. Gradio reads ?__theme= once and puts
# the "dark" class on <body>; the switch sets the same class, so every theme variable follows.
THEME_JS = """
const media = window.matchMedia('(prefers-color-scheme: dark)');
const chosen = () => {
  try { const c = localStorage.getItem('rc-theme'); if (c) return c; } catch (e) {}
  return new URL(location.href).searchParams.get('__theme') || 'system';
};
const apply = (choice) => {
  const dark = choice === 'dark' || (choice === 'system' && media.matches);
  document.body.classList.toggle('dark', dark);
  element.querySelectorAll('button[data-theme]').forEach(
    (b) => b.setAttribute('aria-pressed', String(b.dataset.theme === choice)));
};
apply(chosen());
media.addEventListener('change', () => apply(chosen()));
element.addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-theme]');
  if (!b) return;
  try { localStorage.setItem('rc-theme', b.dataset.theme); } catch (e) {}
  apply(b.dataset.theme);
});
"""

# The question's length against the server's limit, counted as Python counts it (code points), while typing.
# Polled too: Gradio sets the box's value (clearing it after a question) without an input event.
COUNT_JS = """
const out = element.querySelector('.rc-count');
const limit = parseInt(out.dataset.limit, 10);
const update = () => {
  const box = document.querySelector('#rc-question textarea');
  const n = box ? [...box.value.trim()].length : 0;
  out.textContent = n ? `${n.toLocaleString('en')} / ${limit.toLocaleString('en')} characters` +
    (n > limit ? ': too long' : '') : '';
  out.classList.toggle('rc-over', n > limit);
};
document.addEventListener('input', (ev) => { if (ev.target.closest && ev.target.closest('#rc-question')) update(); });
setInterval(update, 500);
"""

# The library list: a name opens its document; "Delete" asks first, then the server removes the file.
LIBRARY_JS = """
element.addEventListener('click', (ev) => {
  const a = ev.target.closest ? ev.target.closest('[data-open], [data-delete]') : null;
  if (!a) return;
  ev.preventDefault();
  if (a.hasAttribute('data-delete')) {
    const name = a.getAttribute('data-delete');
    if (!confirm(`Delete ${name}? The file is removed from the documents folder and from the index.`)) return;
    trigger('click', {action: 'delete', source: name});
  } else {
    trigger('click', {action: 'open', source: a.getAttribute('data-open')});
  }
});
"""

# After the document view re-renders, bring the active span into view (retrying while its tab is being shown).
# And the find box above the text: every match marked (case-insensitive), Enter for the next one. Only text nodes
# are wrapped, so the cited spans' own <mark>s stay as they are.
SCROLL_JS = """
const unfind = (body) => body.querySelectorAll('mark.rc-found').forEach((m) => {
  m.replaceWith(document.createTextNode(m.textContent));
});
const find = (input) => {
  const body = element.querySelector('.rc-doc-body');
  const count = element.querySelector('.rc-find-count');
  if (!body) return;
  unfind(body);
  body.normalize();
  const q = input.value.trim().toLowerCase();
  if (!q) { if (count) count.textContent = ''; return; }
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  let found = 0;
  for (const node of nodes) {
    let text = node.nodeValue, lower = text.toLowerCase(), at = lower.indexOf(q), rest = node;
    while (at >= 0 && found < 1000) {
      const hit = rest.splitText(at);
      rest = hit.splitText(q.length);
      const mark = document.createElement('mark');
      mark.className = 'rc-found';
      hit.replaceWith(mark);
      mark.appendChild(hit);
      found += 1;
      lower = rest.nodeValue.toLowerCase();
      at = lower.indexOf(q);
    }
  }
  element.__rcFound = -1;
  if (count) count.textContent = found ? `${found} found` : 'not found';
};
const next = () => {
  const marks = [...element.querySelectorAll('mark.rc-found')];
  if (!marks.length) return;
  marks.forEach((m) => m.classList.remove('rc-current'));
  element.__rcFound = ((element.__rcFound ?? -1) + 1) % marks.length;
  const m = marks[element.__rcFound];
  m.classList.add('rc-current');
  m.scrollIntoView({block: 'center'});
};
element.addEventListener('input', (ev) => { if (ev.target.matches('.rc-find input')) find(ev.target); });
element.addEventListener('keydown', (ev) => {
  if (ev.target.matches('.rc-find input') && ev.key === 'Enter') { ev.preventDefault(); next(); }
});
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
    # busy: a question was accepted and not yet answered; writing: respond's generator is running; stop: Stop was
    # pressed and respond must end at its next event.
    return {"answers": {}, "turns": [], "messages": [], "next": 1, "busy": False, "writing": False, "stop": False}


def _integer(value: object) -> object:
    """The slider sends 5.0; anything that is not a whole number is left for check_top_k to refuse."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def build_ui(qa: QA, settings: Settings, lanes: Lanes | None = None, ask_concurrency: int = ASK_CONCURRENCY) -> gr.Blocks:
    """The chat. `lanes` are the API's (create_app passes them), so local generations are counted once across both.
    `ask_concurrency`: questions answered at once; more wait in Gradio's queue, and their message says so."""
    library = ui.Library(qa)
    lanes = lanes or Lanes(settings)
    available = qa.available_modes()
    allowed = allowed_modes(settings, available)
    modes = ["auto", *allowed] if "auto" == settings.mode else allowed
    default_mode = settings.mode if settings.mode in modes else modes[0]
    limit = settings.max_question_chars

    def answers(question: str, history: list, mode: str | None, top_k: object,
                only: list[str] | None = None) -> Iterator[Event]:
        """qa.events within the server's budgets: an allowed mode, a capped top_k, a place in its lane.
        Gradio's inputs are whatever a client sends to the queue, not what the widgets allow."""
        resolved = check_mode(mode or None, settings, available)
        k = check_top_k(_integer(top_k), settings)
        lane = lanes.for_mode(resolved)
        if lane is None:
            yield from qa.events(question, history, mode=mode or None, top_k=k, sources=only or None)
            return
        with lane.enter():  # left when the chat stops reading (Stop closes this generator), not only at the end
            yield from qa.events(question, history, mode=mode or None, top_k=k, sources=only or None)

    def idle_box():
        return gr.Textbox(interactive=True, placeholder=QUESTION_PLACEHOLDER)

    def accept(question: str, session: dict):
        """Runs at once, outside the queue: show the question and a waiting message, or say why it was not sent.
        The answer itself is `respond`'s, which may wait in the queue behind other people's questions."""
        question = (question or "").strip() if isinstance(question, str) else ""
        # `pending` is always set: respond answers whatever it holds, and an old question must not come back.
        def refuse(why: str):
            return gr.skip(), gr.skip(), "", gr.skip(), gr.skip(), gr.skip(), ui.notice_html(why) if why else ""

        if not question:
            return refuse("")
        if session.get("busy"):
            return refuse("Still answering your previous question: wait for it, "
                          "or press Stop to ask this one instead.")
        if len(question) > limit:  # the text stays in the box, to be shortened
            return refuse(
                f"Your question is {len(question):,} characters long; questions can be at most {limit:,}. "
                "Shorten it and ask again.")
        session["busy"] = True
        shown = session["messages"] + [{"role": "user", "content": question},
                                       {"role": "assistant", "content": ui.queued_html()}]
        return (shown, gr.Textbox(value="", interactive=False, placeholder=BUSY_PLACEHOLDER), question, session,
                ui.sources_waiting(question), gr.Button(visible=True), "")

    def respond(question: str, session: dict, mode: str, top_k: float, only: list[str] | None) -> Iterator[tuple]:
        """question → stage messages, the retrieved passages, then the verified answer (qa.events)."""
        outputs = 7  # chatbot, question box, session, sources, document, tabs, stop button, browser copy
        if not question:
            yield tuple([gr.skip()] * (outputs + 1))
            return
        messages = session["messages"] + [{"role": "user", "content": question}]
        text, answer = "", None
        # A document deleted since it was picked is dropped from the filter rather than failing the question.
        only = [s for s in only or [] if isinstance(s, str) and qa.document(s) is not None] if only else None
        events = answers(question, session["turns"], mode, top_k, only)
        session["writing"], session["stop"] = True, False
        try:
            for event in events:
                if session["stop"]:  # Stop was pressed: nothing more from this answer may reach the page
                    return
                if isinstance(event, Stage):
                    bubble = ui.stage_html(event.message)
                elif isinstance(event, Sources):
                    yield (gr.skip(), gr.skip(), gr.skip(), ui.retrieved_html(question, event.hits), gr.skip(),
                           gr.Tabs(selected="sources"), gr.skip(), gr.skip())
                    continue
                elif isinstance(event, Delta):
                    text += event.text
                    bubble = ui.streaming_html(text)
                elif isinstance(event, Answer):
                    answer = event
                    continue
                else:
                    continue
                yield messages + [{"role": "assistant", "content": bubble}], *([gr.skip()] * outputs)
        except Exception as e:  # a RagError's message is for the user; anything else is logged, not shown
            if not isinstance(e, RagError):
                log.exception("answering %r failed", question)
            message = ui.user_words(str(e)) if isinstance(e, RagError) else INTERNAL_ERROR
            session["messages"] = _bounded(messages + [{"role": "assistant", "content": ui.error_html(message)}],
                                          settings.max_session_messages)
            session["busy"] = False
            yield (session["messages"], idle_box(), session, ui.sources_placeholder(), gr.skip(), gr.skip(),
                   gr.Button(visible=False), remember(session))
            return
        finally:
            events.close()  # a cancelled answer (Stop) frees its lane and stops the generator here
            session["writing"] = False
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
        session["busy"] = False
        yield (session["messages"], idle_box(), session, ui.sources_html(answer, aid, qa.document),
               gr.skip(), gr.Tabs(selected="sources"), gr.Button(visible=False), remember(session))

    def stopped(question: str, session: dict):
        """Stop: the running answer is cancelled (Gradio's `cancels`), the box is free again.

        Gradio's cancel and this function's reply travel separately, so a bubble respond yielded just before could
        land after this one and leave a half-written answer on the page. respond therefore also ends by itself at
        its next event once `stop` is set, and this waits for it to have ended before replying."""
        session["stop"] = True
        deadline = time.monotonic() + STOP_WAIT_S
        while session.get("writing") and time.monotonic() < deadline:
            time.sleep(0.02)
        session["stop"] = False
        if question:
            session["messages"] = _bounded(session["messages"] + [
                {"role": "user", "content": question},
                {"role": "assistant", "content": ui.stopped_html()}], settings.max_session_messages)
        session["busy"] = False
        return (session["messages"], idle_box(), session, ui.sources_placeholder(), gr.Button(visible=False),
                remember(session))

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
        doc = qa.document(source) if isinstance(source, str) and source else None
        if doc is None:
            return gr.skip(), gr.skip()
        return ui.document_html(doc), gr.Tabs(selected="document")

    def library_action(evt: gr.EventData):
        """A click in the library list: open a document, or delete one (the browser asked for confirmation)."""
        data = getattr(evt, "_data", None) or {}
        source = data.get("source")
        if not isinstance(source, str):
            return [gr.skip()] * 6
        if data.get("action") != "delete":
            return [*open_document(source), gr.skip(), gr.skip(), gr.skip(), gr.skip()]
        try:
            message = library.delete(source)
        except RagError as e:
            message = f"Could not delete `{source}`: {ui.user_words(str(e))}"
        except Exception:
            log.exception("deleting %r failed", source)
            message = f"Could not delete `{source}`: {INTERNAL_ERROR}"
        return (ui.document_placeholder(), gr.skip(), message, *shelf_and_picker())

    def shelf_and_picker():
        docs = library.documents()
        names = [d.source for d in docs]
        return ui.library_html(docs), gr.Dropdown(choices=names, value=None), gr.Dropdown(choices=names)

    def remember(session: dict) -> dict:
        """The conversation as this browser keeps it (gr.BrowserState), so a reload does not lose it."""
        return {"messages": session["messages"], "turns": session["turns"], "next": session["next"],
                "answers": {aid: ui.answer_record(a) for aid, a in session["answers"].items()}}

    def restore(saved: object) -> dict:
        """A session from what the browser kept; anything malformed is dropped (the browser's copy is the
        client's to change, like any input)."""
        session = new_session()
        if not isinstance(saved, dict):
            return session
        roles = ("user", "assistant")
        messages = saved.get("messages")
        if isinstance(messages, list) and all(isinstance(m, dict) and m.get("role") in roles
                                              and isinstance(m.get("content"), str) for m in messages):
            session["messages"] = [{"role": m["role"], "content": m["content"]} for m in messages][
                -settings.max_session_messages:]
        turns = saved.get("turns")
        if isinstance(turns, list) and all(isinstance(t, dict) and t.get("role") in roles
                                           and isinstance(t.get("content"), str) for t in turns):
            session["turns"] = [{"role": t["role"], "content": t["content"]} for t in turns][-MAX_KEPT_TURNS:]
        answers = saved.get("answers")
        if isinstance(answers, dict):
            for aid, record in list(answers.items())[-MAX_KEPT_ANSWERS:]:
                answer = ui.answer_from_record(record)
                if answer is not None and isinstance(aid, str):
                    session["answers"][aid] = answer
        if isinstance(saved.get("next"), int) and saved["next"] > 0:
            session["next"] = saved["next"]
        return session

    def on_load(saved: object):
        """Built per page load, so a reload or a new tab shows what is indexed now, uploads included; and the
        conversation this browser kept."""
        docs = library.documents()
        session = restore(saved)
        chat = gr.Chatbot(value=session["messages"], placeholder=ui.welcome_markdown(docs),
                          examples=[{"text": q} for q in ui.example_questions(docs)] or None)
        return (*shelf_and_picker(), chat, session)

    def upload_started(paths: list[str] | None):
        n = len(paths or [])
        return f"Reading {n} file{'s' if n != 1 else ''}…" if n else gr.skip()

    def add_files(paths: list[str] | None, progress=gr.Progress()):
        if not paths:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        files = [Path(p) for p in paths if isinstance(p, str) and p]
        try:
            if len(files) > settings.max_upload_files:
                message = (f"Not added: {len(files)} files at once; at most {settings.max_upload_files} can be "
                           "added together. Upload them in smaller batches.")
            else:
                progress(0, desc="Reading files")

                def on_progress(done: int, total: int) -> None:
                    progress((done, total), desc="Reading the new passages", unit="sentences")

                # Regular files only: a path in an event's payload is the client's to choose, not necessarily
                # one of Gradio's upload copies (Gradio checks that too; this keeps folders out of the loader).
                named = [(f, f.name) for f in files if f.is_file()]
                odd = len(files) - len(named)
                def on_reading(i: int, n: int, name: str) -> None:
                    progress((i, n), desc=f"Reading {name}", unit="files")

                added = library.add(named, progress=on_progress, reading=on_reading)
                message = added.message()
                if odd:
                    message += f"\n\nNot added: {odd} upload(s) that are not files. Upload each document as a file."
        except RagError as e:
            message = f"Could not index the upload: {ui.user_words(str(e))}"
        except Exception:
            log.exception("adding uploaded files failed")
            message = f"Could not index the upload: {INTERNAL_ERROR}"
        finally:
            _delete_uploads(files)
        return message, *shelf_and_picker(), None

    def pick_example(evt: gr.SelectData) -> str:
        return evt.value["text"] if isinstance(evt.value, dict) else str(evt.value)

    def clear(session: dict):
        fresh = new_session()
        fresh["busy"] = session.get("busy", False) if isinstance(session, dict) else False
        return ([], fresh, ui.sources_placeholder(), ui.document_placeholder(), gr.Tabs(selected="sources"),
                remember(fresh))

    def api_ask(question: str, history: list | None = None, mode: str | None = None, top_k: int | None = None) -> dict:
        """Answer a question from the documents; returns the Answer JSON (the same as POST /api/ask).
        (No document filter here: Gradio requires every parameter, and existing clients send four. POST /api/ask
        takes "documents".)"""
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

    start_docs = library.documents()
    with gr.Blocks(title="ragchat: cited answers from your documents", analytics_enabled=False,
                   delete_cache=DELETE_CACHE) as blocks:
        session = gr.State(new_session())  # copied for every browser session
        pending = gr.State("")  # the question accepted and waiting for its answer
        # The conversation kept in this browser's localStorage (encrypted by Gradio with a per-server secret:
        # a restarted server starts with an empty chat).
        saved = gr.BrowserState(None, storage_key="ragchat-conversation")
        gr.HTML(
            '<div id="rc-header"><div><h1><span class="rc-logo">◆</span> ragchat</h1>'
            "<p>Answers from the documents in your library, every claim cited to the exact passage. "
            f"Runs offline.</p></div>{ui.theme_switch_html()}</div>",
            elem_id="rc-theme", js_on_load=THEME_JS,
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=11, min_width=320):
                chatbot = gr.Chatbot(
                    elem_id="rc-chat",
                    show_label=False,
                    height="calc(100vh - 290px)",
                    min_height=420,
                    latex_delimiters=[],
                    feedback_options=None,
                    buttons=[],  # a copy button would copy the message's HTML
                    placeholder=ui.welcome_markdown(start_docs),  # the first paint; on_load refreshes it
                    autoscroll=True,
                )
                question = gr.Textbox(
                    elem_id="rc-question",
                    show_label=False,
                    placeholder=QUESTION_PLACEHOLDER,
                    lines=1,
                    max_lines=6,
                    autofocus=True,
                    container=False,
                    submit_btn="Ask",
                )
                with gr.Row(elem_id="rc-under"):
                    notice = gr.HTML("", elem_id="rc-notice", min_height=0)
                    gr.HTML(ui.counter_html(limit), elem_id="rc-count", js_on_load=COUNT_JS, min_height=0)
                    stop = gr.Button("■ Stop", visible=False, elem_id="rc-stop", variant="stop", size="sm",
                                     scale=0, min_width=90)
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
                    only = gr.Dropdown(choices=[], value=[], multiselect=True, label="Search only in…",
                                       info="Empty: every document in the library", elem_id="rc-only")
            with gr.Column(scale=9, min_width=320, elem_id="rc-side"):
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
                        doc_picker = gr.Dropdown(choices=[], value=None, label="Read a document",
                                                 elem_id="rc-doc-picker")
                        shelf = gr.HTML(ui.library_html(start_docs), elem_id="rc-shelf", js_on_load=LIBRARY_JS)

        private = {"api_visibility": "private"}
        accepted = [chatbot, question, pending, session, sources, stop, notice]
        answered = [chatbot, question, session, sources, document, tabs, stop, saved]
        # respond runs after every accept, also a refused one (with nothing to answer), so its trigger must never be
        # dropped: with Gradio's default ("once") a question sent while the refused one's empty respond was still in
        # flight was accepted, then never answered, and the box stayed disabled. The session's busy flag is what
        # keeps one answer at a time.
        asking = question.submit(accept, [question, session], accepted, queue=False, **private).then(
            respond, [pending, session, mode, top_k, only], answered, concurrency_limit=ask_concurrency,
            concurrency_id="ask", show_progress="hidden", trigger_mode="multiple", **private)
        from_example = chatbot.example_select(pick_example, None, question, queue=False, **private).then(
            accept, [question, session], accepted, queue=False, **private).then(
            respond, [pending, session, mode, top_k, only], answered, concurrency_id="ask", show_progress="hidden",
            trigger_mode="multiple", **private)
        stop.click(stopped, [pending, session], [chatbot, question, session, sources, stop, saved], queue=False,
                   cancels=[asking, from_example], **private)
        chatbot.clear(clear, [session], [chatbot, session, sources, document, tabs, saved], queue=False, **private)
        sources.click(show_reference, [session], [sources, document, tabs], queue=False, **private)
        doc_picker.input(open_document, [doc_picker], [document, tabs], queue=False, **private)
        shelf.click(library_action, None, [document, tabs, status, shelf, doc_picker, only], concurrency_limit=1,
                    concurrency_id="index", **private)
        upload.upload(upload_started, [upload], [status], queue=False, **private).then(
            add_files, [upload], [status, shelf, doc_picker, only, upload], concurrency_limit=1,
            concurrency_id="index", show_progress_on=[upload], **private)
        blocks.load(on_load, [saved], [shelf, doc_picker, only, chatbot, session], queue=False, **private)
        gr.api(api_ask, api_name="ask", concurrency_limit=ask_concurrency, concurrency_id="ask")
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


def create_app(qa: QA, settings: Settings, ask_concurrency: int = ASK_CONCURRENCY) -> FastAPI:
    """One FastAPI app: the JSON/OpenAI routes (ragchat.api) and the Gradio UI mounted at /, behind one set of
    credentials (ragchat.auth, installed by create_api) and one set of model lanes (ragchat.budget)."""
    lanes = Lanes(settings)
    app = create_api(qa, settings, lanes)
    return gr.mount_gradio_app(
        app,
        build_ui(qa, settings, lanes, ask_concurrency),
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
