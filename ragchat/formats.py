"""File formats → the text a reader sees and its structure (Blocks). No files, no chunks, no models.

Every format yields (text, blocks, title): `text` is what the document viewer shows and what every offset
points into, and each Block is a span of it (a heading, paragraph, list item, table row or code block).
Text outside every block is layout (a PDF's table of contents, the line breaks between HTML blocks) and is
never cited.

- HTML keeps the page's main content: `<main>`/`role="main"` when the page marks it, and never the site's
  chrome (navigation, menus, tables of contents, previous/next links, headers and footers), recognised by
  element, ARIA role, class/id names, link density and links to the next, previous or parent page. Tables
  become one line per row, cells joined by " | ", each row knowing its header row; in a definition list
  (`<dl>`: options, arguments, glossaries) each term heads the blocks of its definition the same way.
- Markdown keeps the file's own characters; blocks come from markdown-it's block map.
- Plain text: paragraphs at blank lines; short unpunctuated lines, numbered section lines and underlined
  lines are headings, the opening lines the title; bullet lines are items.
- PDF: each page's extracted text; lines grouped into paragraphs, headings, items, rows and code by their fonts
  where the document sets headings and code apart, else by their shape. Running headers and footers and page
  numbers (lines in the page's margins, found by position, or repeated at the top or bottom of most pages) are
  left out of the text, so a paragraph the page break cut reads on as one; a table's rows are lines that end
  no sentence with a gap between their columns.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .sentences import sentence_spans
from .types import Block, markup_free

Parsed = tuple[str, tuple[Block, ...], str]


class _Builder:
    """Appends blocks to a text, recording each one's exact span."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.blocks: list[Block] = []

    def add(self, kind: str, text: str, level: int = 0, header: str = "", tight: bool = False) -> None:
        if not text or text.isspace():
            return
        if self.length:
            sep = "\n" if tight and self.blocks and self.blocks[-1].kind == kind else "\n\n"
            self.parts.append(sep)
            self.length += len(sep)
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        self.blocks.append(Block(kind, start, self.length, level, header))

    def text(self) -> str:
        return "".join(self.parts)


def _norm(text: str) -> str:
    return " ".join(text.split())


def with_title(text: str, blocks: tuple[Block, ...], title: str) -> Parsed:
    """Put the title on top as a heading when the content has no heading of its own."""
    if not title or any(b.kind == "heading" for b in blocks):
        return text, blocks, title
    shift = len(title) + 2
    moved = tuple(Block(b.kind, b.start + shift, b.end + shift, b.level, b.header) for b in blocks)
    return f"{title}\n\n{text}", (Block("heading", 0, len(title), 1),) + moved, title


# --- HTML ------------------------------------------------------------------------------------------

_DROP_TAGS = {
    "script", "style", "noscript", "template", "svg", "head", "nav", "aside", "form", "button", "iframe",
    "object", "embed", "canvas", "select", "input", "textarea", "map", "dialog",
}
_CHROME_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "toolbar",
                 "dialog", "alert"}
# Tokens of class and id names (split at - _ and spaces) that generated sites use for chrome.
_CHROME_NAMES = {
    "nav", "navbar", "navigation", "navheader", "navfooter", "menu", "sphinxsidebar", "sidenav",
    "breadcrumb", "breadcrumbs", "footer", "toc", "pager", "pagination", "related", "relbar", "skip", "skiplink",
    "cookie", "cookies", "banner", "share", "social", "searchbox", "headerlink", "prev", "next", "topbar",
    "masthead", "copyright", "edit", "feedback", "announcement", "sourcelink", "docnav", "previous", "navlinks",
    "sitenav", "subnav", "crumbs", "backtotop", "permalink", "anchorlink", "editsection",
    "titlearea",  # Doxygen's masthead: the project's name, brief and version atop every page
}
# Never the page's text, however long: the line numbers of a code listing (Doxygen's "lineno" before each line,
# Pygments' "linenos" column), which would read into each line's code ("1/* Copyright"); Doxygen's tooltips
# ("ttc"), hidden until a name in a listing is hovered, each a copy of documentation the page or another gives.
_NOT_TEXT = {"lineno", "linenos", "linenodiv", "ttc"}
# HTML's link types for moving between the pages of a document (next, previous, up to the parent, contents).
_PAGE_LINKS = {"next", "prev", "previous", "up", "contents", "toc", "index", "start", "first", "last", "home"}
# What a permalink shows beside a heading or definition (makeinfo's "copiable-anchor", Sphinx's headerlink).
_PERMALINK_MARKS = {"¶", "§", "#", "🔗", "⚓"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_LISTS = {"ul", "ol", "menu", "dl"}
_BLOCKS = {
    "p", "div", "section", "article", "main", "header", "footer", "blockquote", "figure", "figcaption", "dd", "dt",
    "address", "details", "summary", "caption", "center", "fieldset", "body", "html", "hr", "legend",
}
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_NAME_SPLIT = re.compile(r"[-_\s]+")


def html(markup: str) -> Parsed:
    import lxml.html
    from lxml.etree import ParserError

    markup = _XML_DECLARATION.sub("", markup, count=1)
    try:
        root = lxml.html.document_fromstring(markup)
    except (ParserError, ValueError):
        return "", (), ""
    title = ""
    for node in root.iter("title"):
        title = _norm(node.text_content())
        break
    body = root.find("body")
    if body is None:
        body = root
    for br in body.iter("br"):  # a line break parts words in a cell or heading too ("Mon–Fri<br>9–17")
        br.tail = " " + (br.tail or "")
    content = _main_content(body)
    _drop_chrome(content)
    walker = _HtmlWalker()
    walker.walk(content)
    walker.flush()
    return with_title(walker.out.text(), tuple(walker.out.blocks), title)


def _tag(el) -> str | None:
    return el.tag.lower() if isinstance(el.tag, str) else None


def _main_content(body):
    """The element the page marks as its main content, if it holds real text; else the body."""
    marked = [el for el in body.iter() if _tag(el) == "main" or (el.get("role") or "").lower() == "main"]
    if not marked:
        articles = [el for el in body.iter() if _tag(el) == "article"]
        marked = articles if len(articles) == 1 else []
    best = max(marked, key=lambda el: len(_norm(el.text_content())), default=None)
    return best if best is not None and len(_norm(best.text_content())) >= 200 else body


def _link_density(el) -> tuple[float, int, int]:
    text = len(_norm(el.text_content()))
    links = [a for a in el.iter("a")]
    linked = sum(len(_norm(a.text_content())) for a in links)
    return (linked / text if text else 0.0), len(links), text


def _has_heading(el) -> bool:
    return any(_tag(d) in ("h1", "h2", "h3") for d in el.iter())


def _is_chrome(el) -> bool:
    tag = _tag(el)
    if tag is None or tag in ("html", "body", "main"):
        return False
    if tag in _DROP_TAGS:
        return True
    if (el.get("role") or "").lower() in _CHROME_ROLES or el.get("hidden") is not None:
        return True
    if (el.get("aria-hidden") or "").lower() == "true":
        return True
    if re.search(r"display\s*:\s*none", el.get("style") or ""):
        return True
    if tag == "a" and (el.get("href") or "").startswith("#") and _norm(el.text_content()) in _PERMALINK_MARKS:
        return True
    names = {t for t in _NAME_SPLIT.split(f"{el.get('class') or ''} {el.get('id') or ''}".lower()) if t}
    if names & _NOT_TEXT:
        return True
    density, links, size = _link_density(el) if tag not in ("a", "span", "code") else (0.0, 0, 0)
    if "sidebar" in names and not _has_heading(el):
        # Site themes name their menus "sidebar", DocBook its TIP and NOTE boxes: only a linky one is chrome.
        return density >= 0.3
    if names & _CHROME_NAMES and not _has_heading(el):
        # A wrapper named like chrome can hold the whole page ("wy-nav-content"); chrome itself is short
        # or mostly links.
        return density >= 0.3 or size < 400
    if tag in ("header", "footer") and not _has_heading(el) and (density >= 0.3 or size < 400):
        return True
    if size < 400 and density >= 0.3 and not _has_heading(el) and _links_between_pages(el):
        # "Next: Closure Example, Previous: Multiple ABIs, Up: Using libffi [Index]" (makeinfo's <div class="header">)
        return True
    # A list or box that is mostly links (a menu, a table of contents, "see also" bars).
    return tag in ("ul", "ol", "div", "table", "section", "p", "dl", "td") and links >= 3 and density > 0.7 \
        and not _has_heading(el)


def _links_between_pages(el) -> bool:
    return any(set((a.get("rel") or "").lower().split()) & _PAGE_LINKS for a in el.iter("a"))


def _drop_chrome(root) -> None:
    doomed = []
    stack = list(root)
    while stack:
        el = stack.pop()
        if _is_chrome(el):
            doomed.append(el)
        else:
            stack.extend(el)
    for el in doomed:
        el.drop_tree()  # keeps the tail text, which belongs to the parent


_BR = "\x00"  # a <br> in the walker's buffer; no text character of a page is NUL
_BREAKS = re.compile(f"(?:{_BR}\\s*){{2,}}")


class _HtmlWalker:
    def __init__(self) -> None:
        self.out = _Builder()
        self.buffer: list[str] = []
        self.kinds = ["paragraph"]
        # The term of each definition being walked, innermost last: "--leak-check=<no|summary|yes|full>" heads
        # "When enabled, search for memory leaks…", which never names the option it describes.
        self.terms: list[str] = []
        self.term = ""  # the term(s) just read, waiting for their definition

    @property
    def header(self) -> str:
        """The term of the innermost definition being walked, which heads its blocks ("" outside definitions)."""
        return self.terms[-1] if self.terms else ""

    def flush(self) -> None:
        raw = "".join(self.buffer)
        self.buffer = []
        kind = self.kinds[-1]
        # Two line breaks in a row end a paragraph on a page written without <p> ("…voting rights.<br><br>We meet…").
        for part in _BREAKS.split(raw):
            self.out.add(kind, _norm(part.replace(_BR, " ")), header=self.header, tight=kind == "item")

    def walk(self, el) -> None:
        tag = _tag(el)
        if tag is None:  # a comment or processing instruction: only its tail is text
            self.buffer.append(el.tail or "")
            return
        if tag in _HEADINGS:
            self.flush()
            self.out.add("heading", _norm(el.text_content()), level=int(tag[1]))
        elif tag == "pre":
            self.flush()
            self.out.add("code", el.text_content().strip("\n").rstrip(), header=self.header)
        elif tag == "dt":
            self.flush()
            term = _norm(el.text_content())
            # A term stays a paragraph of its own: an option's term may be the only place that gives its default
            # ("--smc-check=<none|stack|all|all-non-file> [default: all-non-file]").
            self.out.add("paragraph", term)
            self.term = f"{self.term}, {term}" if self.term and term else self.term or term
        elif tag == "dd":
            self.flush()
            self.terms.append(self.term)
            self.term = ""
            self.children(el)
            self.flush()
            self.terms.pop()
        elif tag == "table":
            self.flush()
            self.table(el)
        elif tag == "li":
            self.flush()
            self.kinds.append("item")
            self.children(el)
            self.flush()
            self.kinds.pop()
        elif tag in _LISTS or tag in _BLOCKS or tag in ("tr", "td", "th"):
            self.flush()
            if tag == "dl":
                self.term = ""
            self.children(el)
            self.flush()
        elif tag == "br":
            self.buffer.append(_BR)
        else:
            self.children(el)
        if el.tail and el.getparent() is not None:
            self.buffer.append(el.tail)

    def children(self, el) -> None:
        self.buffer.append(el.text or "")
        for child in el:
            self.walk(child)

    def table(self, el) -> None:
        rows = [tr for tr in el.iter("tr") if next(tr.iterancestors("table"), None) is el]
        cells = [[c for c in tr if _tag(c) in ("td", "th")] for tr in rows]
        nested = any(inner is not el for inner in el.iter("table"))
        narrow = max((len(r) for r in cells), default=0) < 2
        # A data cell holds a value or a phrase; a paragraph of several sentences is prose set in a table for its
        # layout (DocBook's notes and warnings: an icon cell, a title cell, then the note's paragraph).
        holds_prose = any(_tag(d) in ("p", "div", "ul", "ol", "pre", "h1", "h2", "h3")
                          and (len(text := _norm(d.text_content())) > 200 or len(sentence_spans(text)) > 1)
                          for d in el.iter())
        if nested or narrow or holds_prose:  # a table used for page layout: its cells are ordinary content
            self.children(el)
            self.flush()
            return
        header = ""
        caption = el.find("caption")
        if caption is not None:
            self.out.add("paragraph", _norm(caption.text_content()))
        for tr, row in zip(rows, cells):
            texts = [_norm(c.text_content()) for c in row]
            if not any(texts):
                continue
            line = " | ".join(texts)
            in_head = _tag(tr.getparent()) == "thead"
            if not header and (in_head or all(_tag(c) == "th" for c in row)):
                header = line
                self.out.add("header", line)
            else:
                self.out.add("row", line, header=header, tight=True)


# --- Markdown --------------------------------------------------------------------------------------

_BULLET = re.compile(r"[ \t]*(?:[-*+•]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?")


# Front matter of static-site generators and note apps (Jekyll, Hugo, Obsidian …): YAML between "---" lines, or
# TOML between "+++" lines, opening the file. It is metadata: its title names the document and none of it is
# indexed ("title: …" over "---" would otherwise read as a heading). Some "key: value" line tells it from a
# page that opens with a thematic break.
_FRONT_MATTER = re.compile(r"\A\ufeff?(---|\+\+\+)[ \t]*\r?\n(.*?\n)?(?:\1|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_FRONT_FIELD = re.compile(r"^[A-Za-z_][\w-]*[ \t]*[:=]", re.M)
_FRONT_TITLE = re.compile(r"^title[ \t]*[:=][ \t]*(.+?)[ \t\r]*$", re.M | re.I)


def _front_matter(text: str) -> tuple[int, str]:
    """Where the front matter ends (0: none) and the title it gives ("" if none)."""
    m = _FRONT_MATTER.match(text)
    if not m or not _FRONT_FIELD.search(m.group(2) or ""):
        return 0, ""
    title = _FRONT_TITLE.search(m.group(2))
    value = title.group(1).strip().strip("\"'").strip() if title else ""
    return m.end(), value if not value.startswith(("[", "{", "|", ">")) else ""


def markdown(text: str) -> Parsed:
    from markdown_it import MarkdownIt

    front, title = _front_matter(text)
    parsed = _blank(text, [(0, front)] if front else [])
    tokens = MarkdownIt("commonmark").enable("table").parse(parsed)
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def span(first: int, last: int) -> tuple[int, int] | None:
        a, b = starts[min(first, len(starts) - 1)], starts[min(last, len(starts) - 1)]
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        return (a, b) if b > a else None

    blocks: list[Block] = []
    depth_items = 0
    header = ""
    in_head = False
    for i, tok in enumerate(tokens):
        if tok.type == "list_item_open":
            depth_items += 1
        elif tok.type == "list_item_close":
            depth_items -= 1
        elif tok.type == "thead_open":
            in_head = True
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "table_open":
            header = ""
        if not tok.map or tok.nesting < 0:
            continue
        first, last = tok.map
        if tok.type == "heading_open":
            s = span(first, last)
            if s:
                a, b = s
                line = text[a:b]
                stripped = line.lstrip("#").strip()
                if stripped.endswith("#"):
                    stripped = stripped.rstrip("#").rstrip()
                if "\n" in line:  # setext: the underline is not part of it
                    b = a + len(line.split("\n")[0].rstrip())
                    stripped = text[a:b]
                a = text.find(stripped, a, b + 1) if stripped else a
                blocks.append(Block("heading", a, a + len(stripped), level=int(tok.tag[1])))
                if not title:
                    title = stripped
        elif tok.type == "paragraph_open":
            s = span(first, last)
            if s:
                a, b = s
                kind = "paragraph"
                if depth_items:
                    kind = "item"
                    marker = _BULLET.match(text, a, b)
                    if marker:
                        a = marker.end()
                if blocks and blocks[-1].end > a:  # tight list items share lines with their parent's map
                    continue
                blocks.append(Block(kind, a, b))
        elif tok.type in ("fence", "code_block"):
            s = span(first + 1, last - 1) if tok.type == "fence" else span(first, last)
            if s:
                blocks.append(Block("code", *s))
        elif tok.type == "html_block":
            s = span(first, last)
            if s:
                blocks.extend(_html_in_markdown(text, *s))
        elif tok.type == "tr_open":
            s = span(first, last)
            if s:
                cells = []
                j = i + 1
                while j < len(tokens) and tokens[j].type != "tr_close":
                    if tokens[j].type == "inline":
                        cells.append(tokens[j].content.strip())
                    j += 1
                line = " | ".join(cells)
                if in_head:
                    header = line
                    blocks.append(Block("header", *s))
                else:
                    blocks.append(Block("row", *s, header=header))
    blocks = [b for b in blocks if text[b.start : b.end].strip()]
    return text, tuple(_ordered(blocks)), title


_HTML_ROW = re.compile(r"<tr\b[^>]*>(.*?)</tr\s*>", re.IGNORECASE | re.DOTALL)
_HTML_CELL = re.compile(r"<t([hd])\b[^>]*>(.*?)</t[hd]\s*>", re.IGNORECASE | re.DOTALL)


def _html_in_markdown(text: str, start: int, end: int) -> list[Block]:
    """Raw HTML inside Markdown (API references write their tables so, READMEs their notes): each table row a
    row under its header, like a Markdown table's; other HTML with words in it one paragraph; a comment or an
    image nothing. Spans stay in the Markdown source, tags included; `markup_free` gives their words."""
    rows = list(_HTML_ROW.finditer(text, start, end))
    if not rows:
        return [Block("paragraph", start, end)] if markup_free(text[start:end]) else []
    out: list[Block] = []
    header = ""
    for row in rows:
        cells = _HTML_CELL.findall(row.group(1))
        words = " | ".join(markup_free(c) for _, c in cells)
        if cells and all(kind.lower() == "h" for kind, _ in cells):
            header = words
            out.append(Block("header", row.start(), row.end()))
        elif words.strip(" |"):
            out.append(Block("row", row.start(), row.end(), header=header))
    return out


def _ordered(blocks: Iterable[Block]) -> list[Block]:
    """Sorted, without overlaps (a block inside an earlier one is dropped)."""
    out: list[Block] = []
    for b in sorted(blocks, key=lambda b: (b.start, -b.end)):
        if out and b.start < out[-1].end:
            continue
        out.append(b)
    return out


# --- Plain text ------------------------------------------------------------------------------------

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")
_ENDS_SENTENCE = re.compile(r"[.!?;:。！？]$")
# "… should query for it. 7", "(… prefers ee'-en.)": a sentence, then its footnote's mark or a closing bracket
# or quote (not "Port: 22", not "Version 3.0")
_ENDS_NOTED_SENTENCE = re.compile(r"[.!?;:。！？]$|[.!?](?:[ \t]+\d{1,2}|[\"'”’)\]]+)$")
# A table-of-contents or index line: dot leaders, then a page number ("5.13 Where is VoIP software? . . . . 20").
# Such lines are navigation, like a web page's menu: kept in the text the viewer shows, never indexed.
_LEADERS = re.compile(r"(?:\.[ \t]?){4,}[ \t]*(?:\d+|[ivxlcdm]+)$", re.IGNORECASE)
_PAGE_REFERENCE = re.compile(r"\S[ \t]+(?:\d{1,4}|[ivxlcdm]{1,6})$", re.IGNORECASE)
_NUMBERED = re.compile(r"(?:[A-Z]|\d{1,3})(?:\.\d{1,3})*\.?[ \t]+\S")  # "3.2.3 I'm using Knoppix", "A.1 Notes"
_NOT_HEADING_END = re.compile(r"[.!;:,。！；：，…]$")  # "12.1 What other documentation exists?" is a heading
_SET_APART_END = re.compile(r"[:;,：；，]$")  # a line set apart that ends so leads into what follows
_TERMINAL = re.compile(r"[.!?;:,。！？；：，…\"”’)\]]$")


# A section number at the head of a heading: "3.17.1. Purpose", "A.2 Notes", "Chapter 4 Packaging", and the
# word alone on its line ("CHAPTER" over "ONE").
_SECTION_NUMBER = re.compile(r"(?:chapter|appendix|part|section)(?:[ \t]+(?:\d{1,3}|[IVXLC]{1,6}|[A-Z])\.?(?:[ \t]+\S|$)|$)"
                             r"|(\d{1,3}(?:\.\d{1,3})*|[A-Z](?:\.\d{1,3})+)\.?[ \t]+\S", re.IGNORECASE)


def numbered_levels(blocks: Iterable[Block], text: str) -> list[Block]:
    """Headings of text that has no markup for levels (PDF, plain text) all come out at one level, so each one
    replaced the last in the heading path ("FHS › 3.17.1. Purpose" lost "3.17. /srv"). A section number says
    its depth: "3." is a level below the title, "3.17." below that. A heading without one sits under the
    deepest numbered heading above it ("Rationale" inside "3.18.1. Purpose")."""
    out: list[Block] = []
    deepest = 0  # the level of the last numbered heading; 0 before any
    for b in blocks:
        if b.kind != "heading" or b.level == 1:
            out.append(b)
            continue
        line_end = text.find("\n", b.start, b.end)  # a chapter's heading goes on to its title below
        number = _SECTION_NUMBER.match(text, b.start, b.end if line_end < 0 else line_end)
        if number:
            deepest = 2 + (number.group(1) or "").count(".")
            level = deepest
        else:
            level = deepest + 1 if deepest else b.level
        out.append(Block(b.kind, b.start, b.end, level, b.header))
    return out


def _looks_like_heading(line: str) -> bool:
    words = line.split()
    return 0 < len(words) <= 12 and not _TERMINAL.search(line) and not _BULLET.match(line) \
        and (line[0].isupper() or line[0].isdigit() or not line[0].isascii())


def plain(source: str) -> Parsed:
    text = _blank(source, _page_furniture(source))
    blocks: list[Block] = []
    start = 0
    bounds = [(m.start(), m.end()) for m in _PARAGRAPH_BREAK.finditer(text)] + [(len(text), len(text))]
    for stop, next_start in bounds:
        blocks.extend(_plain_paragraph(text, start, stop, first=not blocks))
        start = next_start
    blocks = _numbered_headings(blocks, text)
    title = next((_norm(text[b.start : b.end]) for b in blocks if b.kind == "heading" and b.level == 1), "")
    if not title and blocks and blocks[0].kind == "paragraph":
        # Opening lines that are a title name the document, but stay a paragraph: "Version 2, June 1991" is
        # an answer to cite, and a heading never is.
        opening = [text[a:b] for a, b in _lines(text, blocks[0].start, blocks[0].end)]
        title = _norm(text[blocks[0].start : blocks[0].end]) if _title_lines(opening) else ""
    return source, tuple(numbered_levels(blocks, text)), title


def _page_furniture(text: str) -> list[tuple[int, int]]:
    """Running headers and footers of text laid out in pages, as pdftotext and RFCs write it (a form feed ends
    each page): the lines repeated_lines finds on a PDF's pages, found the same way. Layout: never indexed."""
    starts = [0] + [m.end() for m in re.finditer("\f", text)]
    ends = [s - 1 for s in starts[1:]] + [len(text)]
    repeated = repeated_lines([text[a:b] for a, b in zip(starts, ends)])
    if not repeated:
        return []
    return [(a, b) for a, b in _lines(text, 0, len(text)) if line_key(text[a:b]) in repeated]


def _blank(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The text with the spans' characters made spaces, line breaks kept: offsets and line numbers stay those of
    the text the viewer shows."""
    if not spans:
        return text
    chars = list(text)
    for a, b in spans:
        chars[a:b] = re.sub(r"[^\r\n]", " ", text[a:b])
    return "".join(chars)


def _title_lines(lines: list[str]) -> bool:
    """A document's opening lines that are its title: a few short lines, none ending a sentence, like a
    licence's "GNU GENERAL PUBLIC LICENSE / Version 3, 29 June 2007" centred over the text."""
    return len(lines) <= 3 and all(len(line.split()) <= 12 and not _ENDS_SENTENCE.search(line) and
                                   not _BULLET.match(line) and not _LEADERS.search(line) for line in lines) \
        and (lines[0][0].isupper() or lines[0][0].isdigit() or not lines[0][0].isascii())


def _numbered_title(line: str) -> bool:
    """"6. Conveying Non-Source Forms.": a section number and a few capitalised words, one sentence at most."""
    number = _SECTION_NUMBER.match(line)
    if not number or not number.group(1):
        return False
    rest = line[number.end() - 1 :]
    return len(rest.split()) <= 10 and (rest[0].isupper() or not rest[0].isascii()) \
        and not re.search(r"[.!?;:。！？]\s", rest) and not _NOT_HEADING_END.search(rest.rstrip("."))


def _numbered_headings(blocks: list[Block], text: str) -> list[Block]:
    """A numbered line standing alone between blank lines is a section heading ("  0. Definitions." over its
    paragraphs), even with a full stop; a run of them with nothing between is a list spaced out, and stays
    items. A numbered paragraph may also open with its section's title run into its text ("2. Grant of Copyright
    License. Subject to …"): the title is that section's heading, or every section after the first one set on a
    line of its own would stand under that one ("1. Definitions." heading the whole of a licence)."""
    # Where each block's line starts, its list marker included ("0." is cut from an item's span).
    starts = [_lines(text, text.rfind("\n", 0, b.start) + 1, b.end)[0][0] for b in blocks]
    single = [b.kind in ("item", "paragraph") and "\n" not in text[b.start : b.end]
              and _numbered_title(text[start : b.end]) for b, start in zip(blocks, starts)]
    out = []
    for i, b in enumerate(blocks):
        alone = single[i] and not (i > 0 and single[i - 1]) and not (i + 1 < len(blocks) and single[i + 1])
        if alone:
            out.append(Block("heading", starts[i], b.end, 2))
            continue
        opens = not single[i] and _after_blank_line(text, starts[i])
        title_end = _run_in_title(text, starts[i], b) if opens else None
        if title_end is None:
            out.append(b)
            continue
        body = title_end + len(text[title_end : b.end]) - len(text[title_end : b.end].lstrip())
        out += [Block("heading", starts[i], title_end, 2), Block("paragraph", body, b.end)]
    return out


_TITLE_STOP = re.compile(r"\.(?=\s)")


def _after_blank_line(text: str, start: int) -> bool:
    """Whether the line at `start` opens a paragraph: a list's items that follow one another line by line are
    steps, not sections."""
    end = text.rfind("\n", 0, start)  # where the line above ends
    return end < 0 or not text[text.rfind("\n", 0, end) + 1 : end].strip()


def _run_in_title(text: str, start: int, block: Block) -> int | None:
    """Where the title run into a numbered paragraph's first line ends, at its full stop ("2. Waiver." of "2.
    Waiver. To the greatest extent …"), or None. A title is capitalised as one ("Grant of Patent License"), so a first
    sentence that is short ("1. Install it. Then …") is not taken for it."""
    if block.kind not in ("item", "paragraph"):
        return None
    line_end = text.find("\n", start, block.end)
    line_end = block.end if line_end < 0 else line_end
    number = _SECTION_NUMBER.match(text, start, line_end)
    if not number or not number.group(1):
        return None
    stop = _TITLE_STOP.search(text, number.end() - 1, line_end)
    if stop is None or not text[stop.end() : block.end].strip():
        return None
    words = text[number.end() - 1 : stop.start()].split()
    lower = any(w[0].isalpha() and not w[0].isupper() for w in words if len(w) > 3)
    if not 0 < len(words) <= 6 or "." in words[-1] or lower:  # "10. U.S. law …" is no title
        return None
    return stop.end()


def _lines(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    out = []
    at = start
    for line in text[start:stop].split("\n"):
        a, b = at, at + len(line)
        at = b + 1
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


_UNDERLINE = re.compile(r"(?:=+|-+)$")


def _capitals(line: str) -> bool:
    """A line in capitals, words alone ("NO WARRANTY"; not "COPYRIGHT (C) 2006-2007 …", whose numbers are data
    to cite)."""
    return sum(c.isalpha() for c in line) >= 3 and line == line.upper() and line != line.lower() \
        and not any(c.isdigit() for c in line)


def _plain_paragraph(text: str, start: int, stop: int, first: bool) -> list[Block]:
    lines = _lines(text, start, stop)
    if not lines:
        return []
    if len(lines) == 1 and _looks_like_heading(text[lines[0][0] : lines[0][1]]):
        return [Block("heading", *lines[0], level=1 if first else 2)]
    if 1 < len(lines) <= 3 and all(_capitals(text[a:b]) for a, b in lines) \
            and not _ENDS_SENTENCE.search(text, *lines[-1]):
        # A heading set in capitals over two lines ("GNU GENERAL PUBLIC LICENSE" over "TERMS AND CONDITIONS FOR
        # COPYING, …"): one line of it alone would be taken for a heading.
        return [Block("heading", lines[0][0], lines[-1][1], level=1 if first else 2)]
    if len(lines) == 2 and lines[1][1] - lines[1][0] >= 3 and _UNDERLINE.match(text, *lines[1]):
        # A line underlined with === or --- is a heading (the underline is layout); === a title.
        level = 1 if first and text[lines[1][0]] == "=" else 2
        return [Block("heading", *lines[0], level=level)]
    contents = [bool(_LEADERS.search(text, a, b)) for a, b in lines]
    if not any(_BULLET.match(text, a, b) for a, b in lines) and not any(contents):
        return [Block("paragraph", lines[0][0], lines[-1][1])]
    out: list[Block] = []
    current: list[int] | None = None
    kind = "paragraph"
    for (a, b), leaders in zip(lines, contents):
        if leaders:
            if current is not None:
                out.append(Block(kind, current[0], current[1]))
                current = None
            out.append(Block("contents", a, b))
            continue
        marker = _BULLET.match(text, a, b)
        if marker or current is None:
            if current is not None:
                out.append(Block(kind, current[0], current[1]))
            kind = "item" if marker else "paragraph"
            current = [marker.end() if marker else a, b]
        else:
            current[1] = b  # a continuation line of the item
    if current is not None:
        out.append(Block(kind, current[0], current[1]))
    return out


# --- PDF -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LineStyle:
    """How a PDF line is set: its font size, and whether all of it is bold, or all of it monospaced."""

    size: float
    bold: bool = False
    mono: bool = False
    caps: bool = False  # small capitals (LaTeX's \textsc: CMCSC10), which journals set section titles in
    # A gap wider than words are set apart (a table's columns): where the line is, not how, so styles that
    # differ only in it are alike.
    gapped: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Typography:
    """What a document's fonts say, when they say anything. A heading is set apart from the body (larger or
    bold); code is set in a monospaced font the body is not in. Where they do, the fonts decide, not the
    line's looks: by looks alone, a short line of a listing ("4 CARD32 0", "BEGIN") was a heading and a
    chapter's "1. Introduction" a list item."""

    body: float  # the size most of the text is set in
    code: bool  # monospaced lines are code: the body is not monospaced
    bold: bool = True  # bold lines are set apart: the body is not bold (PDFium reports some fonts' body text bold)
    caps: bool = True  # lines in small capitals are set apart: the body is not in them

    @classmethod
    def of(cls, pages: Sequence[tuple[str, Sequence[LineStyle | None]]]) -> Typography | None:
        """From each page's text and its lines' styles; None when the fonts set no heading apart (one size and
        weight throughout, a title page alone set large, or no font information), so lines are read by their
        shape alone."""
        weight: Counter[float] = Counter()
        mono = bold = caps = chars = 0
        styled: list[tuple[int, LineStyle]] = []
        for page, (text, styles) in enumerate(pages):
            for line, style in zip(text.split("\n"), styles):
                n = len(line.strip())
                if style is None or not n:
                    continue
                styled.append((page, style))
                weight[style.size] += n
                mono += n if style.mono else 0
                bold += n if style.bold else 0
                caps += n if style.caps else 0
                chars += n
        if not chars:
            return None
        typography = cls(body=weight.most_common(1)[0][0], code=mono * 2 < chars, bold=bold * 2 < chars,
                         caps=caps * 2 < chars)
        apart = [page for page, style in styled if typography.set_apart(style)]
        inside = [page for page in apart if page > 0]  # a cover's title, subtitle and author say nothing of headings
        return typography if len(inside) >= 2 or (len(pages) == 1 and len(apart) >= 3) else None

    def set_apart(self, style: LineStyle | None) -> bool:
        """Set the way headings are: larger than the body, or bold, or in small capitals, and not code."""
        return style is not None and not self.is_code(style) and (
            (self.bold and style.bold) or (self.caps and style.caps) or self.larger(style))

    def larger(self, style: LineStyle | None) -> bool:
        return style is not None and style.size >= self.body * 1.15

    def wraps(self, width: int, style: LineStyle, typical: int) -> bool:
        """Whether a line of `width` characters in `style` is not short beside the page's `typical` line, so
        that a heading may go on to the next line ("6.6.3.1. Type" over a term in the same bold does not). A
        larger font fills the line with fewer characters."""
        return width * style.size >= 0.6 * typical * self.body

    def is_code(self, style: LineStyle | None) -> bool:
        return self.code and style is not None and style.mono


_SAME_ROW = 2.0  # points: lines whose baselines differ by less stand in one row (a header's left and right parts)


def margin_lines(baselines: Sequence[Sequence[float | None]], styles: Sequence[Sequence[LineStyle | None]] = (),
                 typography: Typography | None = None, texts: Sequence[str] = ()) -> list[set[int]]:
    """Per page, the lines (indices into text.split("\n")) set in the page's top or bottom margin: running
    headers and footers and page numbers, found by where they stand, whatever their words. A section's own
    running header ("CHAPTER 3. CHOOSING A DEBIAN… 3.1. WHICH DEBIAN DISTRIBUTION…") stands on a few pages
    only and holds no page number, so repeated_lines cannot know it.

    A page's top (bottom) row is in the margin when three or more pages have a top (bottom) row at that height,
    nearly all of them set off from the row below (above) by more than one and a half times the document's line
    pitch, no other text on any page stands beyond it, and it is not set larger than the body (a slide's
    title). A page whose text starts at the top of the text block has no such gap, so a document without
    running headers loses nothing. Given the pages' `texts`, a line set as headings are (bold, small capitals)
    that holds words is not in the margin either: pages that each open with their heading look alike by
    position. A bold running header is left to repeated_lines."""
    rows: list[list[float]] = []  # each page's distinct baselines, highest first
    steps: list[float] = []
    for page in baselines:
        ys: list[float] = []
        for y in sorted((y for y in page if y is not None), reverse=True):
            if not ys or ys[-1] - y > _SAME_ROW:
                ys.append(y)
        rows.append(ys)
        steps += [a - b for a, b in zip(ys, ys[1:])]
    out: list[set[int]] = [set() for _ in baselines]
    if not steps:
        return out
    pitch = sorted(steps)[len(steps) // 2]
    for sign in (1, -1):  # the top edge (baselines count up from the page's foot), then the bottom edge
        # Each row as a height measured inwards from this edge, so "beyond a row" is "lower" for both edges.
        inward = [[-sign * y for y in ys] for ys in rows]
        heights = sorted(h for hs in inward for h in hs)
        edges = sorted((hs[0] if sign == 1 else hs[-1], abs(hs[0] - hs[1]) if sign == 1 else abs(hs[-1] - hs[-2]), p)
                       for p, hs in enumerate(inward) if len(hs) >= 2)
        i = 0
        while i < len(edges):  # edge rows at one height (within _SAME_ROW of the previous) form a slot
            j = i + 1
            while j < len(edges) and edges[j][0] - edges[j - 1][0] <= _SAME_ROW:
                j += 1
            slot, i = edges[i:j], j
            set_off = [p for _, gap, p in slot if gap > 1.5 * pitch]
            if len(slot) < 3 or len(set_off) < 0.8 * len(slot):
                continue
            deepest = max(h for h, _, _ in slot) + _SAME_ROW
            held = sum(sum(h < deepest for h in inward[p]) for _, _, p in slot)
            if bisect_right(heights, deepest - 1e-9) - held > max(1, len(rows) // 20):
                continue  # other text stands as far out: this is the edge of the text block, not a margin
            for p in set_off:
                edge = -sign * next(h for h, _, q in slot if q == p)
                lines = {k for k, y in enumerate(baselines[p]) if y is not None and abs(y - edge) <= _SAME_ROW}
                page_styles = styles[p] if p < len(styles) else ()
                if typography is not None and any(k < len(page_styles) and typography.larger(page_styles[k])
                                                  for k in lines):
                    continue
                if typography is not None and p < len(texts):
                    page_rows = texts[p].split("\n")
                    lines = {k for k in lines if not (
                        k < len(page_styles) and typography.set_apart(page_styles[k])
                        and not _PAGE_NUMBER.fullmatch(page_rows[k].strip() if k < len(page_rows) else ""))}
                out[p] |= lines
    return out


def pdf_page_blocks(text: str, offset: int, repeated: set[str], styles: Sequence[LineStyle | None] = (),
                    typography: Typography | None = None, margins: set[int] | frozenset[int] = frozenset()
                    ) -> list[Block]:
    """Blocks of one page's extracted text (which starts at `offset` in the document). `styles` holds each line's
    style (text.split("\n")), read with the document's `typography` when it has one; `margins` the lines
    margin_lines found in the page's margins."""
    lines = _lines(text, 0, len(text))
    widths = sorted(b - a for a, b in lines)
    typical = widths[int(len(widths) * 0.75)] if widths else 0
    full = widths[int(len(widths) * 0.9)] if widths else 0  # a prose line's width (a page may be mostly table)
    blocks: list[Block] = []
    current: list[int] | None = None
    kind = "paragraph"
    # On a contents page (a third of its lines with dot leaders), entries set without leaders ("2 Getting and
    # installing Debian 5", chapters in bold) are contents too: any line that ends in a page number, and the
    # first line of a numbered entry that wraps onto the next.
    leaders = [bool(_LEADERS.search(text, a, b)) for a, b in lines]
    contents_page = sum(leaders) >= 3 and sum(leaders) * 3 >= len(lines)

    def rows_of(inner: list[tuple[int, int]]) -> bool:
        """Lines that end no sentence are a table's rows when half of them or more have a gap between columns (a
        cell wrapped onto a second line has none), or when they do not read as prose wrapped at a width (an
        abstract set narrower than the page does)."""
        gapped = sum(bool(style_at.get(x) and style_at[x].gapped) for x, _ in inner)
        return gapped * 2 >= len(inner) or not _wrapped(text, inner)

    def close() -> None:
        nonlocal current
        if current is None:
            return
        a, b = current
        inner = _lines(text, a, b)
        current = None
        if kind != "paragraph":
            blocks.append(Block(kind, offset + a, offset + b))
            return
        # A table or list laid out line by line, where each line is a fact of its own ("mnt Mount point for
        # mounting a filesystem temporarily"): three or more lines of which none ends a sentence, or a run of
        # three or more such lines that are also short (prose lines fill the column; rows seldom do) inside
        # a paragraph that goes on as prose ("Each directory listed above is …").
        if len(inner) >= 3 and not any(_ENDS_NOTED_SENTENCE.search(text, x, y) for x, y in inner) \
                and rows_of(inner):
            blocks.extend(Block("row", offset + x, offset + y) for x, y in inner)
            return
        run: list[tuple[int, int]] = []
        prose: list[tuple[int, int]] = []

        def flush_run() -> None:
            if len(run) >= 3 and rows_of(run):
                if prose:
                    blocks.append(Block("paragraph", offset + prose[0][0], offset + prose[-1][1]))
                    prose.clear()
                blocks.extend(Block("row", offset + x, offset + y) for x, y in run)
            else:
                prose.extend(run)
            run.clear()

        for x, y in inner:
            if (y - x) < 0.75 * full and not _ENDS_NOTED_SENTENCE.search(text, x, y):
                run.append((x, y))
            else:
                flush_run()
                prose.append((x, y))
        flush_run()
        if prose:
            blocks.append(Block("paragraph", offset + prose[0][0], offset + prose[-1][1]))

    joining = False  # the last block is a heading that may wrap onto this line
    guessed = False  # the last block is a heading only by its looks (short, no number)
    titling: int | None = None  # lines joined so far to a chapter heading that has no title yet ("CHAPTER")
    code = False  # the last block is code that this line may go on
    wrapped = 0  # lines before this one were read as part of a heading set over several lines
    plain = 0  # lines before this one may be set apart but are prose
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    rows = [bisect_right(line_starts, a) - 1 for a, _ in lines]  # each line's index in text.split("\n")
    line_styles = [styles[r] if r < len(styles) else None for r in rows]
    style_at = {a: style for (a, _), style in zip(lines, line_styles)}
    # Running headers and page numbers, by position or by repetition.
    furniture = [r in margins or _repeated(text[a:b], style, repeated, typography)
                 for (a, b), style, r in zip(lines, line_styles, rows)]

    for i, (a, b) in enumerate(lines):
        if i < wrapped:
            continue
        line = text[a:b]
        style = line_styles[i]
        if furniture[i]:
            close()
            code = False
            continue
        if leaders[i] or (contents_page and _contents_entry(line)):
            close()
            blocks.append(Block("contents", offset + a, offset + b))
            code = False
            continue
        if typography is not None and typography.is_code(style):
            if code:  # a listing is one block, its line breaks kept
                blocks[-1] = Block("code", blocks[-1].start, offset + b)
            else:
                close()
                blocks.append(Block("code", offset + a, offset + b))
            code, joining, guessed, titling = True, False, False, None
            continue
        code = False
        marker = _BULLET.match(text, a, b)
        short = (b - a) < 0.6 * typical
        number = _SECTION_NUMBER.match(line)
        prose = i < plain  # a line of a bold paragraph: not a heading, whatever its number
        if typography is not None and typography.set_apart(style) and not prose:
            # A heading set over two or three lines in its own style is one ("1.5 What is the difference between
            # Debian GNU/Linux and other" over "Linux distributions? …"), and so is a chapter's label over its
            # title ("Chapter 2" over "Getting and installing Debian" over "GNU/Linux").
            tail = i  # the run's last line
            while tail + 1 < len(lines) and tail - i < 2 and line_styles[tail + 1] == style \
                    and typography.wraps(lines[tail][1] - lines[tail][0], style, typical) \
                    and not _SECTION_NUMBER.match(text, *lines[tail + 1]) and not leaders[tail + 1] \
                    and not furniture[tail + 1]:
                tail += 1
            end = lines[tail][1]
            if titling is not None and titling < 3 and not (number and number.group(1)):
                blocks[-1] = Block("heading", blocks[-1].start, offset + end, blocks[-1].level)
                wrapped, titling = tail + 1, titling + 1
                continue
            if tail > i:
                if _heading_end(text[a:end], number) or len(text[a:end].split()) > 40:
                    plain = tail + 1  # bold prose, or a lead-in ("Note:") over the lines it introduces
                    prose = True
                else:
                    close()
                    blocks.append(Block("heading", offset + a, offset + end, level=2))
                    wrapped, joining, guessed, titling = tail + 1, False, False, None
                    continue
        if typography is None and titling is not None and titling < 3 and short and _looks_like_heading(line) \
                and not marker and not (number and number.group(1)):
            last = blocks[-1]  # "CHAPTER" + "FOUR" + "RESOURCES FOR DEBIAN MEMBERS": one heading
            blocks[-1] = Block("heading", last.start, offset + b, last.level)
            titling += 1
            continue
        titling = None
        if joining and short and line[0].islower() and not _NOT_HEADING_END.search(line):
            last = blocks[-1]  # "3.17. /srv : Data for services provided by this" + "system"
            blocks[-1] = Block("heading", last.start, offset + b, last.level)
            joining = False
            continue
        if guessed and (b - a) >= 0.6 * full and line[0].islower():
            # A line of prose width going on in lower case: the "heading" was the short first line of a
            # paragraph ("18 Programs executed after /usr is known", broken before a footnote mark). (A table's
            # rows are narrower: "Directory Description" over "games Games and educational binaries".)
            last = blocks.pop()
            kind, current, guessed = "paragraph", [last.start - offset, b], False
            continue
        guessed = False
        # A section number makes a line a heading even when it is as wide as prose or ends in a bracket
        # ("5.6. /var/crash : System crash dumps (optional)"), and ends a table it follows.
        # A bare "15 Some such files include: …" is a footnote, so the number must have parts or a name.
        numbered = bool(number) and (number.group(1) is None or "." in number.group(1)) \
            and not marker and len(line.split()) <= 14 and not _NOT_HEADING_END.search(line) and not prose
        if typography is None:
            looks = _looks_like_heading(line) and short and len(line.split()) <= 10
        else:  # the fonts say it: "1. Introduction" set large is a chapter, not a list's first item
            looks = typography.set_apart(style) and not prose and len(line.split()) <= 14 \
                and not _heading_end(line, number) and (not marker or line.lstrip()[0].isdigit())
        if numbered or (looks and not line.strip().isdigit()
                        and not (typography is not None and _PAGE_NUMBER.fullmatch(line.strip()))):  # "iv" set bold
            close()
            blocks.append(Block("heading", offset + a, offset + b, level=2))
            joining = not short and typography is None
            guessed = not numbered and typography is None
            if number and not number.group(1) and len(line.split()) <= 2:
                titling = 0
            continue
        joining = False
        if marker:
            close()
            kind = "item"
            current = [marker.end(), b]
        elif current is None:
            kind = "paragraph"
            current = [a, b]
        else:
            current[1] = b
        # A short line that ends a sentence ends its paragraph.
        if short and re.search(r"[.!?。！？:]$", line):
            close()
    close()
    return _table_headers(_code_in_sentences(blocks, text, offset), text, offset)


# A page's text that ends a sentence, closing quotes and brackets included. Not _ENDS_SENTENCE, which the plain
# text and contents rules test single lines with (this name once shadowed it).
_CLOSES_SENTENCE = re.compile(r"[.!?;:。！？；：…][\"')\]’”»]*\s*$")


def pdf_document(pages: Sequence[tuple[str, Sequence[LineStyle | None], set[int]]], repeated: set[str],
                 typography: Typography | None) -> tuple[str, list[Block], list[int]]:
    """A PDF's text, blocks and where each page starts in the text, from each page's extracted text, its lines'
    styles and the lines margin_lines found in its margins.

    The rows above and below a page's text block (running headers and footers, page numbers: in the margins, or
    repeated at the edges of most pages) are left out of the text, so a paragraph broken by the page's end reads
    on into the next page as one: its sentence is one unit, not two halves ("… expand queries with related
    terms" and "but require a transformer at query time."). It goes on when it ends no sentence, the next page
    opens in lower case, and both lines are set alike (a footnote at the page's foot is set smaller)."""
    parts: list[str] = []
    starts: list[int] = []
    blocks: list[Block] = []
    offset = 0
    last_style: LineStyle | None = None
    previous = ""  # the last page's body
    for page_text, styles, margins in pages:
        rows = page_text.split("\n")

        def layout(r: int) -> bool:
            style = styles[r] if r < len(styles) else None
            return not rows[r].strip() or r in margins or _repeated(rows[r], style, repeated, typography)

        lo, hi = 0, len(rows)
        while lo < hi and layout(lo):
            lo += 1
        while hi > lo and layout(hi - 1):
            hi -= 1
        body = "\n".join(rows[lo:hi])
        page_styles = list(styles[lo:hi])
        # A margin line the text gives amid the page's lines (a page number set after the first column) stays
        # in the text, as layout.
        inner = {r - lo for r in margins if lo <= r < hi}
        page_blocks = pdf_page_blocks(body, 0, repeated, page_styles, typography, inner)
        first = page_blocks[0] if page_blocks else None
        goes_on = (blocks and first is not None and blocks[-1].kind in ("paragraph", "item")
                   and first.kind == "paragraph" and body[first.start : first.start + 1].islower()
                   and not previous[blocks[-1].end - starts[-1]:].strip() and not _CLOSES_SENTENCE.search(previous)
                   and (page_styles[0] if page_styles else None) == last_style)
        if parts:
            separator = "\n" if goes_on else "\n\n"  # a blank line ends a sentence
            parts.append(separator)
            offset += len(separator)
        starts.append(offset)
        parts.append(body)
        shifted = [Block(b.kind, b.start + offset, b.end + offset, b.level, b.header) for b in page_blocks]
        if goes_on:
            joined = blocks.pop()
            shifted[0] = Block(joined.kind, joined.start, shifted[0].end, joined.level, joined.header)
        blocks.extend(shifted)
        offset += len(body)
        previous = body
        last_style = page_styles[-1] if page_styles else None
    return "".join(parts), blocks, starts


def _wrapped(text: str, lines: Sequence[tuple[int, int]]) -> bool:
    """Whether lines read as prose wrapped at a width, not as rows: most of them go on in the next line, which
    does not open with a capital, and whose first word would not have fitted on them (an abstract or a quotation
    set narrower than the page, whose lines end no sentence, is a paragraph; a table's rows end well short of its
    widest row, "bin Essential command binaries" over "boot", and a cover's lines open with capitals)."""
    widest = max(b - a for a, b in lines)
    full = 0
    for (a, b), (c, d) in zip(lines, lines[1:]):
        word = text[c:d].split(None, 1)[0]
        full += (b - a) + 1 + len(word) > 0.9 * widest and not word[0].isupper()
    return full * 2 > len(lines) - 1


def _heading_end(line: str, number: re.Match | None) -> bool:
    """Whether a line set apart ends the way no heading does. A numbered section's title may end in a full stop
    ("4.5. /usr/include : Directory for standard include files."); a bold sentence without a number is emphasis
    ("Note: the Pro plan includes support by telephone."). Neither is a heading when it ends in a colon or comma,
    leading into what follows."""
    return bool((_SET_APART_END if number and number.group(1) else _NOT_HEADING_END).search(line))


def _code_in_sentences(blocks: list[Block], text: str, offset: int) -> list[Block]:
    """A command set on its own line inside a sentence ("you can run the command" / `systemctl disable
    service.service` / "using the name of the service file …") belongs to that sentence: the paragraph, the
    code and the lower-case line that goes on are one paragraph, read as the sentence they make."""
    out: list[Block] = []
    for block in blocks:
        if block.kind == "paragraph" and len(out) >= 2 and out[-1].kind == "code" \
                and out[-2].kind in ("paragraph", "item") and text[block.start - offset].islower():
            out.pop()
            before = out.pop()
            out.append(Block(before.kind, before.start, block.end))
            continue
        out.append(block)
    return out


def _contents_entry(line: str) -> bool:
    """On a contents page: a numbered entry, or a line ending in a page number that does not end a sentence."""
    if _NUMBERED.match(line):
        return True
    return bool(_PAGE_REFERENCE.search(line)) and not _ENDS_SENTENCE.search(line.rstrip("0123456789ivxlcdmIVXLCDM \t"))


def _table_headers(blocks: list[Block], text: str, offset: int) -> list[Block]:
    """A short line taken for a heading that stands right above rows is their table's header ("Directory
    Description" over "bin Essential command binaries"): it names the columns, not a section, so it must not
    become the chunks' heading path; the rows carry it, as HTML table rows do."""
    out: list[Block] = []
    header = ""
    for i, block in enumerate(blocks):
        if block.kind == "heading" and i + 1 < len(blocks) and blocks[i + 1].kind == "row":
            header = " ".join(text[block.start - offset : block.end - offset].split())
            out.append(Block("header", block.start, block.end))
        elif block.kind == "row":
            out.append(Block("row", block.start, block.end, header=header) if header else block)
        else:
            header = ""
            out.append(block)
    return out


def line_key(line: str) -> str:
    """A line with its digits removed: running headers and page numbers differ only in those."""
    line = " ".join(line.split())
    if re.fullmatch(r"[ivxlcdm]{1,6}", line, re.IGNORECASE):  # a front-matter page number ("iii")
        return "#"
    return re.sub(r"\d+", "#", line)


def _repeated(line: str, style: LineStyle | None, repeated: set[str], typography: Typography | None) -> bool:
    """A line repeated at the edges of most pages (repeated_lines), unless set larger than the body: a chapter's
    title on its first page is its heading there, though it is the running header of its other pages."""
    return line_key(line) in repeated and not (typography is not None and typography.larger(style))


_PAGE_NUMBER = re.compile(r"\d{1,4}|[ivxlcdm]{1,6}", re.IGNORECASE)
_WITH_PAGE_NUMBER = re.compile(r"^(\d{1,4})[ \t]+\S|\S[ \t]+(\d{1,4})$")


def repeated_lines(pages: list[str]) -> set[str]:
    """Lines standing first or last on most pages (running headers, footers and page numbers), and a
    chapter's running header, which stands on its pages only: a line at the page's edge that stands beside
    the page number ("The /usr Hierarchy" over "17"), or holds it ("74 Chapter 6. Best Packaging Practices"),
    seen so on two pages or more (a section's header may stand on every other page only). A number that
    is the page's keeps its distance to the page's index; "Chapter 12" on a chapter's first page does not.
    Once such headers have shown the document's distance, an edge line holding the number at that distance
    is one even when seen once: a section one page long has its footer "4.5. The Developers Database 19"
    once."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    beside: Counter[str] = Counter()
    holding: Counter[tuple[str, int]] = Counter()  # (line, page number minus page index)
    for index, page in enumerate(pages):
        lines = [ln for ln in (" ".join(x.split()) for x in page.split("\n")) if ln]
        counts.update({line_key(ln) for ln in lines[:2] + lines[-2:]})
        near: set[str] = set()
        held: set[tuple[str, int]] = set()
        for edge in (lines[:2], lines[-2:]):
            for i, line in enumerate(edge):
                number = _WITH_PAGE_NUMBER.search(line)
                if number:
                    held.add((line_key(line), int(number.group(1) or number.group(2)) - index))
                elif len(edge) == 2 and _PAGE_NUMBER.fullmatch(edge[1 - i]):
                    near.add(line_key(line))
        beside.update(near)
        holding.update(held)
    distances: Counter[int] = Counter()  # how often headers seen twice or more hold the number at a distance
    for (_, distance), n in holding.items():
        if n >= 2:
            distances[distance] += n
    numbering = {d for d, n in distances.items() if n >= 3}

    def titled(key: str) -> bool:  # "#.#. The Developers Database #", not "Chapter #"
        return sum(any(c.isalpha() for c in word) for word in key.split()) >= 2

    held = {k for (k, d), n in holding.items() if n >= 2 or (d in numbering and titled(k))}
    most = {k for k, n in counts.items() if n >= max(3, len(pages) // 2)}
    return most | {k for k, n in beside.items() if n >= 2} | held
