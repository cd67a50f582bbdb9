from pathlib import Path

import pytest

from ragchat.errors import DocumentError, SeedsError
from ragchat import formats
from ragchat.chunking import sections
from ragchat.loading import Limits, discover, load_file, load_folder
from ragchat.types import Document


def test_text_keeps_the_files_own_characters(tmp_path):
    raw = "Line one.\r\nLine two – with “quotes”.\r\n"
    path = tmp_path / "a.txt"
    path.write_bytes(raw.encode("utf-8"))
    doc = load_file(path, "a.txt")
    assert doc.text == raw  # CRLF and typographic characters untouched: offsets point into what a reader sees
    assert len(doc.sha256) == 64


def test_markdown_keeps_its_characters_and_finds_its_structure(tmp_path):
    raw = "# Title\n\nSome *text*.\n\n## Plans\n\n- first item\n- second item\n\n| Plan | Fee |\n|---|---|\n| Pro | EUR 400 |\n\n```\napt install x\n```\n"
    (tmp_path / "notes.md").write_text(raw, encoding="utf-8")
    doc = load_file(tmp_path / "notes.md", "notes.md")
    assert doc.text == raw
    got = [(b.kind, doc.text[b.start : b.end], b.header) for b in doc.blocks]
    assert got == [
        ("heading", "Title", ""), ("paragraph", "Some *text*.", ""), ("heading", "Plans", ""),
        ("item", "first item", ""), ("item", "second item", ""), ("header", "| Plan | Fee |", ""),
        ("row", "| Pro | EUR 400 |", "Plan | Fee"), ("code", "apt install x", ""),
    ]
    assert doc.title == "Title"


def test_running_headers_and_footers_of_paged_text_are_not_indexed():
    """Text laid out in pages (pdftotext, RFCs: a form feed ends each page) repeats a header and a footer on every
    page; like a PDF's running header, they are layout: kept in the text, never a block."""
    sections = [("Introduction", "The server must answer within five seconds."),
                ("Retries", "A client may retry a request once."), ("Caching", "Caches must not store private answers.")]
    pages = [f"RFC 9999          Example Protocol          March 2024\n\n{i}. {title}\n\n   {body}\n\n"
             f"Doe & Roe          Standards Track          [Page {i}]\n" for i, (title, body) in enumerate(sections, 1)]
    raw = "\f\n".join(pages)
    text, blocks, _ = formats.plain(raw)
    assert text == raw
    assert _blocks(text, blocks) == [(kind, words) for i, (title, body) in enumerate(sections, 1)
                                     for kind, words in (("heading", f"{i}. {title}"), ("paragraph", body))]
    two = "\f\n".join(pages[:2])  # two pages are too few to tell a running header from text
    assert any("RFC 9999" in words for _, words in _blocks(*formats.plain(two)[:2]))


def test_a_page_written_without_paragraph_tags_is_split_at_blank_lines():
    page = ("<html><body><font size=5>Club rules</font><br><br>Members must pay dues by March 1.<br>"
            "Guests are welcome on Fridays.<br> <br>We meet every second Tuesday.</body></html>")
    text, blocks, _ = formats.html(page)
    assert _blocks(text, blocks) == [
        ("paragraph", "Club rules"), ("paragraph", "Members must pay dues by March 1. Guests are welcome on Fridays."),
        ("paragraph", "We meet every second Tuesday."),
    ]
    text, blocks, _ = formats.html("<table><tr><th>Day</th><th>Hours</th></tr><tr><td>Mon–Fri<br>weekdays</td>"
                                   "<td>9–17</td></tr></table><h2>Opening<br>hours</h2>")
    assert _blocks(text, blocks)[1:] == [("row", "Mon–Fri weekdays | 9–17"), ("heading", "Opening hours")]


def test_markdown_front_matter_names_the_document_and_is_not_indexed(tmp_path):
    """Jekyll, Hugo and note apps open a page with metadata: YAML between --- lines (TOML between +++). Read as
    text, "title: …" over "---" was a heading and the page's title; none of it is text a reader asks about."""
    raw = ('---\r\ntitle: "Deploying the service"\r\ndate: 2024-03-01\r\ntags: [ops, deploy]\r\n---\r\n\r\n'
           "# Deploy\r\n\r\nRun the deploy script from the repository root.\r\n")
    (tmp_path / "deploy.md").write_bytes(raw.encode("utf-8"))
    doc = load_file(tmp_path / "deploy.md", "deploy.md")
    assert doc.text == raw and doc.title == "Deploying the service"
    assert _blocks(doc.text, doc.blocks) == [("heading", "Deploy"),
                                             ("paragraph", "Run the deploy script from the repository root.")]
    toml = '+++\ntitle = "Hugo page"\ndraft = false\n+++\nBody text of the page.\n'
    text, blocks, title = formats.markdown(toml)
    assert title == "Hugo page" and _blocks(text, blocks) == [("paragraph", "Body text of the page.")]
    # A page that opens with a thematic break, no "key: value" under it, is all text.
    ruled = "---\n\nA page that opens with a rule.\n\n---\n\nMore text.\n"
    text, blocks, title = formats.markdown(ruled)
    assert title == "" and _blocks(text, blocks) == [("paragraph", "A page that opens with a rule."),
                                                     ("paragraph", "More text.")]


def _blocks(text, blocks):
    return [(b.kind, text[b.start : b.end]) for b in blocks]


def test_html_keeps_main_content_and_drops_site_chrome():
    page = (
        "<html><head><title>Page</title><style>p{color:red}</style><script>var x = 1;</script></head><body>"
        "<div id='banner'><a href='/'>Download the ebook</a></div>"
        "<ul class='docnav top'><li class='previous'><a href='a.html'>Prev</a></li><li class='home'>The Book</li>"
        "<li class='next'><a href='c.html'>Next</a></li></ul>"
        "<nav><a href='/'>Home</a> <a href='/docs'>Docs</a></nav>"
        "<div class='toc'><ul><li><a href='#a'>1. Alpha</a></li><li><a href='#b'>2. Beta</a></li>"
        "<li><a href='#c'>3. Gamma</a></li></ul></div>"
        "<h1>Heading<span class='mw-editsection'><span>[</span><a href='/edit'>edit</a><span>]</span></span></h1>"
        "<p>First &amp; second paragraph.</p><p>Third<br>line</p>"
        "<ul><li>An item with <a href='x'>a link</a> inside.</li><li>Another item.</li></ul>"
        "<table><tr><th>Plan</th><th>Monthly fee</th></tr><tr><td>Basic</td><td>EUR 400</td></tr></table>"
        "<pre>$ apt update\n$ apt upgrade</pre>"
        "<div class='sidebar'><p>TIP Run apt update before installing.</p></div>"
        "<footer>Copyright 2024 Someone</footer></body></html>"
    )
    text, blocks, title = formats.html(page)
    assert title == "Page"
    for chrome in ("var x", "color", "Download the ebook", "Prev", "The Book", "Docs", "Alpha", "Copyright"):
        assert chrome not in text
    assert _blocks(text, blocks) == [
        ("heading", "Heading"), ("paragraph", "First & second paragraph."), ("paragraph", "Third line"),
        ("item", "An item with a link inside."), ("item", "Another item."), ("header", "Plan | Monthly fee"),
        ("row", "Basic | EUR 400"), ("code", "$ apt update\n$ apt upgrade"),
        ("paragraph", "TIP Run apt update before installing."),  # a DocBook "sidebar" box is content
    ]
    assert blocks[6].header == "Plan | Monthly fee"  # the row knows what its cells are


def test_html_links_between_pages_and_permalinks_are_chrome():
    # GNU makeinfo's pages: a "header" box of next/previous/up links, and a pilcrow linking to each definition.
    nav = ("<div class='header'><p>Next: <a href='b.html' rel='next'>Closure Example</a>, Previous: "
           "<a href='a.html' rel='prev'>Multiple ABIs</a>, Up: <a href='u.html' rel='up'>Using libffi</a> "
           "&nbsp; [<a href='i.html' rel='index'>Index</a>]</p></div>")
    page = (f"<body>{nav}<h3>2.5 The Closure API</h3><p>Closures need special allocation. See "
            "<a href='b.html' rel='next'>the example</a> for a longer program that uses them with care.</p>"
            "<dl class='def'><dt>Function: void ffi_closure_free (void *writable)"
            "<a href='#index-2' class='copiable-anchor'> &para;</a></dt><dd><p>Free memory.</p></dd></dl>"
            f"{nav}</body>")
    text, blocks, _ = formats.html(page)
    assert "Previous" not in text and "¶" not in text
    assert "See the example for a longer program" in text  # a link in prose is not navigation
    assert _blocks(text, blocks)[-2:] == [
        ("paragraph", "Function: void ffi_closure_free (void *writable)"), ("paragraph", "Free memory."),
    ]


def test_html_mastheads_line_numbers_and_tooltips_of_generated_docs_are_not_text():
    # Doxygen: the project's masthead atop every page, and a source listing whose lines each begin with a number
    # and whose names have hidden tooltips; Pygments (Sphinx): a listing's line numbers as a column of their own,
    # longer than any short box.
    masthead = ("<div id='top'><div id='titlearea'><table><tr><td><div id='projectbrief'>Opus audio codec: API "
                "manual</div></td><td><span id='projectnumber'>1.3.1</span></td></tr></table></div></div>")
    lines = "".join(f"<div class='line'><a name='l{n:05}'></a><span class='lineno'>{n}</span>"
                    f"<span class='comment'>/* line {n} of opus.h */</span></div>" for n in range(1, 3))
    # A tooltip for a name in the listing, hidden until hovered: a copy of that name's documentation.
    lines += ("<div class='ttc' id='aopus_encode'><div class='ttname'>opus_encode</div><div class='ttdoc'>"
              + "Encodes an Opus frame from the samples given. " * 12 + "</div></div>")
    column = "\n".join(str(n) for n in range(1, 200))
    page = (f"<body>{masthead}<div class='header'><div class='headertitle'><div class='title'>opus.h</div></div>"
            f"</div><div class='contents'><p>Go to the documentation of this file.</p><div class='fragment'>{lines}"
            f"</div><table class='highlighttable'><tr><td class='linenos'><div class='linenodiv'><pre>{column}</pre>"
            "</div></td><td class='code'><pre>int opus_encode(void);</pre></td></tr></table></div></body>")
    text, blocks, _ = formats.html(page)
    assert "Opus audio codec" not in text and "1.3.1" not in text
    assert "/* line 1 of opus.h */" in text and "1/*" not in text and "199" not in text
    assert "Encodes an Opus frame" not in text
    assert ("code", "int opus_encode(void);") in _blocks(text, blocks)


def test_html_definition_terms_head_what_they_define():
    # An option list (DocBook's variablelist) and a function's arguments (makeinfo), one inside the other's
    # definition: each term heads the blocks of its own definition, never the text after the list, and stays a
    # paragraph of its own (an option's term may be all that states its default).
    page = (
        "<body><h2>Options</h2><dl>"
        "<dt><code>--leak-check=&lt;no|full&gt;</code> [default: summary]</dt>"
        "<dd><p>When enabled, search for memory leaks.</p><p>Use full for details.</p><pre>valgrind --leak-check=full</pre></dd>"
        "<dt>-q</dt><dt>--quiet</dt><dd><p>Run silently.</p></dd>"
        "<dt>Function: ffi_prep_closure_loc</dt><dd><p>Prepare a closure. The arguments are:</p>"
        "<dl><dt>codeloc</dt><dd><p>The executable address.</p></dd></dl><p>It returns FFI_OK.</p></dd>"
        "</dl><p>After the list.</p></body>"
    )
    text, blocks, _ = formats.html(page)
    got = [(b.kind, " ".join(text[b.start:b.end].split()), b.header) for b in blocks]
    option = "--leak-check=<no|full> [default: summary]"
    assert got[1:] == [
        ("paragraph", option, ""),
        ("paragraph", "When enabled, search for memory leaks.", option),
        ("paragraph", "Use full for details.", option),
        ("code", "valgrind --leak-check=full", option),
        ("paragraph", "-q", ""), ("paragraph", "--quiet", ""),
        ("paragraph", "Run silently.", "-q, --quiet"),
        ("paragraph", "Function: ffi_prep_closure_loc", ""),
        ("paragraph", "Prepare a closure. The arguments are:", "Function: ffi_prep_closure_loc"),
        ("paragraph", "codeloc", ""),
        ("paragraph", "The executable address.", "codeloc"),
        ("paragraph", "It returns FFI_OK.", "Function: ffi_prep_closure_loc"),
        ("paragraph", "After the list.", ""),
    ]


def test_a_table_holding_a_paragraph_of_sentences_is_layout_and_its_cells_are_prose():
    # DocBook's notes: an icon cell and a title cell, then the note's paragraph (Debian Reference, zh-CN).
    note = ("<table summary='Note'><tr><td rowspan='2'><img alt='[注意]' src='note.png'/></td><th>注意</th></tr>"
            "<tr><td><p>对于中文，“fcitx5” 可以是一个替代的输入法框架。对于 Emacs 的狂热爱好者，“uim”可以是一个替代。</p></td></tr>"
            "</table>")
    data = "<table><tr><th>Plan</th><th>Fee</th></tr><tr><td><p>Basic.</p></td><td><p>EUR 400 a month.</p></td></tr></table>"
    text, blocks, _ = formats.html(f"<body><h1>输入法</h1>{note}{data}</body>")
    got = _blocks(text, blocks)
    assert ("paragraph", "对于中文，“fcitx5” 可以是一个替代的输入法框架。对于 Emacs 的狂热爱好者，“uim”可以是一个替代。") in got
    assert not any(kind == "row" and "fcitx5" in words for kind, words in got)
    assert ("row", "Basic. | EUR 400 a month.") in got  # a cell of one sentence is still a value


def test_html_prefers_the_main_element():
    filler = "Real content that a reader came for. " * 10
    page = f"<body><div>Site menu text that is long enough to matter here</div><main><p>{filler}</p></main></body>"
    text, _, _ = formats.html(page)
    assert text == filler.strip()


def test_html_without_headings_gets_its_title_on_top(tmp_path):
    (tmp_path / "p.html").write_text("<title>Greeting</title><p>Hello <b>world</b>.</p>", encoding="utf-8")
    doc = load_file(tmp_path / "p.html", "p.html")
    assert doc.text == "Greeting\n\nHello world."
    assert _blocks(doc.text, doc.blocks) == [("heading", "Greeting"), ("paragraph", "Hello world.")]


def test_plain_text_headings_and_items(tmp_path):
    raw = "A Title Line\n\nA paragraph that says something.\nIt wraps.\n\nSection two\n\n- one thing\n- another\n  continued\n"
    (tmp_path / "a.txt").write_text(raw, encoding="utf-8")
    doc = load_file(tmp_path / "a.txt", "a.txt")
    assert _blocks(doc.text, doc.blocks) == [
        ("heading", "A Title Line"), ("paragraph", "A paragraph that says something.\nIt wraps."),
        ("heading", "Section two"), ("item", "one thing"), ("item", "another\n  continued"),
    ]
    assert doc.title == "A Title Line" and doc.language == "en"


def test_chinese_text_is_detected(tmp_path):
    (tmp_path / "zh.txt").write_text("软件包管理系统是 Debian 的核心。它可以自动安装依赖。", encoding="utf-8")
    assert load_file(tmp_path / "zh.txt", "zh.txt").language == "zh"


def test_european_languages_are_told_apart_by_their_stop_words():
    from ragchat.language import detect

    german = ("Als Paketbetreuer sollten Sie qualitativ hochwertige Pakete bereitstellen, die gut in das System "
              "integriert sind und die den Debian-Richtlinien entsprechen. Das ist nicht immer einfach.")
    french = "Le paquet est installé dans le système et il est mis à jour par le gestionnaire de paquets."
    assert detect(german).code == "de" and detect(french).code == "fr"
    assert detect("The package is installed by the package manager and kept up to date.").code == "en"


def test_symlinks_are_not_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not index me", encoding="utf-8")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "link.txt").symlink_to(secret)
    with pytest.raises(DocumentError, match="symbolic link"):
        load_file(seeds / "link.txt", "link.txt")


def test_pdf_keeps_page_numbers(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "two-pages.pdf"
    c = canvas.Canvas(str(path))
    c.drawString(72, 720, "The first page talks about railways.")
    c.showPage()
    c.drawString(72, 720, "The second page talks about ports.")
    c.showPage()
    c.save()
    doc = load_file(path, "two-pages.pdf")
    assert [p for p, _ in doc.pages] == [1, 2]
    assert doc.page_at(doc.text.index("railways")) == 1
    assert doc.page_at(doc.text.index("ports")) == 2


def test_a_scanned_pdf_is_skipped_with_a_message_that_names_ocr(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.rect(100, 100, 300, 300, fill=1)  # a page that is a picture, as a scanner makes it
    c.showPage()
    c.save()
    with pytest.raises(DocumentError, match=r"^scan.pdf: its 1 page\(s\) hold no text, only images .*OCR"):
        load_file(path, "scan.pdf")


def test_broken_pdf_is_a_document_error(tmp_path):
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    with pytest.raises(DocumentError, match="bad.pdf"):
        load_file(tmp_path / "bad.pdf", "bad.pdf")


def test_non_utf8_text_is_decoded_by_detection(tmp_path):
    text = "Le président a visité Pyongyang en été. Les négociations ont commencé à Moscou. " * 3
    (tmp_path / "latin.txt").write_bytes(text.encode("cp1252"))
    assert load_file(tmp_path / "latin.txt", "latin.txt").text == text


def test_binary_file_is_refused_with_its_name(tmp_path):
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(DocumentError, match=r"image.txt: looks like a binary file"):
        load_file(tmp_path / "image.txt", "image.txt")


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.md").write_text("  \n\n", encoding="utf-8")
    with pytest.raises(DocumentError, match="empty.md: has no text"):
        load_file(tmp_path / "empty.md", "empty.md")


def test_missing_and_empty_seeds_folders(tmp_path):
    with pytest.raises(SeedsError, match="does not exist"):
        discover(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "ignored.docx").write_bytes(b"x")
    with pytest.raises(SeedsError, match="has no .txt, .md, .html or .pdf files"):
        discover(tmp_path / "empty")


def test_one_bad_file_does_not_stop_the_folder(tmp_path):
    (tmp_path / "good.txt").write_text("A good sentence.", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01\x02")
    (tmp_path / ".hidden.txt").write_text("hidden", encoding="utf-8")
    results = list(load_folder(tmp_path))
    assert [type(r).__name__ for r in results] == ["DocumentError", "Document"]
    assert results[1].source == "good.txt"


def test_sources_are_relative_posix_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.txt").write_text("x y z.", encoding="utf-8")
    (doc,) = list(load_folder(tmp_path))
    assert doc.source == "sub/x.txt"
    assert not Path(doc.source).is_absolute()


# --- files that try to hurt the reader (ragchat/reader.py) ------------------------------------------------


def test_an_inflate_bomb_is_skipped_with_its_name(tmp_path):
    from . import hostile

    (tmp_path / "bomb.pdf").write_bytes(hostile.inflate_bomb(300))  # ~300 KB on disk, 300 MB inflated
    assert (tmp_path / "bomb.pdf").stat().st_size < 1_000_000
    # PDFium inflates it inside the reader process (memory-capped there); it holds no text, so it is skipped.
    with pytest.raises(DocumentError, match=r"^bomb.pdf: "):
        load_file(tmp_path / "bomb.pdf", "bomb.pdf")


def test_the_time_budget_stops_a_slow_pdf_and_the_next_file_still_reads(tmp_path):
    from ragchat import reader
    from . import hostile

    # 1,000 pages sharing one content stream of 20,000 text operations: about a second a page to read.
    (tmp_path / "slow.pdf").write_bytes(hostile.slow_pages(1_000, 20_000))
    (tmp_path / "fine.pdf").write_bytes(hostile.simple(["Ports and railways."]))
    started = reader.shared().started
    with pytest.raises(DocumentError, match=r"slow.pdf: took longer than 2 s to read: split it.*RAGCHAT_PARSE_SECONDS"):
        load_file(tmp_path / "slow.pdf", "slow.pdf", Limits(parse_seconds=2))
    assert load_file(tmp_path / "fine.pdf", "fine.pdf").text == "Ports and railways."
    assert reader.shared().started == started + 1  # the overrunning reader was killed and one new one started


def test_page_and_size_limits_name_the_setting(tmp_path):
    from . import hostile

    (tmp_path / "many.pdf").write_bytes(hostile.real_small_pdf(pages=12))
    with pytest.raises(DocumentError, match=r"many.pdf: has 12 pages, over the limit of 10.*RAGCHAT_MAX_PDF_PAGES"):
        load_file(tmp_path / "many.pdf", "many.pdf", Limits(pdf_pages=10))
    assert len(load_file(tmp_path / "many.pdf", "many.pdf").pages) == 12
    (tmp_path / "big.html").write_text("<p>" + "word " * 5_000 + "</p>", encoding="utf-8")
    with pytest.raises(DocumentError, match=r"big.html: is larger than the 0.01 MB limit.*RAGCHAT_MAX_FILE_BYTES"):
        load_file(tmp_path / "big.html", "big.html", Limits(file_bytes=10_000))


def test_deeply_nested_html_is_read_or_refused_never_a_crash(tmp_path):
    (tmp_path / "deep.html").write_text("<div>" * 100_000 + "Deep text." + "</div>" * 100_000, encoding="utf-8")
    try:
        doc = load_file(tmp_path / "deep.html", "deep.html")
    except DocumentError as e:
        assert str(e).startswith("deep.html: ")
    else:
        assert "Deep text." in doc.text


def test_a_reader_killed_from_outside_is_replaced(tmp_path):
    import os
    import signal

    from ragchat import reader

    (tmp_path / "a.txt").write_text("Alpha.", encoding="utf-8")
    load_file(tmp_path / "a.txt", "a.txt")
    os.kill(reader.shared()._proc.pid, signal.SIGKILL)
    reader.shared()._proc.wait()
    assert load_file(tmp_path / "a.txt", "a.txt").text == "Alpha."


DEBIAN_PDF = Path(__file__).resolve().parent.parent / "bench" / "corpora" / "debian-pdfs" / "docs" / "fhs-3.0.pdf"


@pytest.mark.slow
@pytest.mark.parametrize("original, copies", [("reportlab", 240), ("fhs-3.0.pdf", 30)])
def test_fuzzed_pdfs_are_each_read_or_skipped_with_their_name(tmp_path, original, copies):
    """Damaged copies of a real PDF (byte flips, truncations, deleted and duplicated chunks; fixed seed): a small
    one reportlab writes, and the 50-page FHS (object streams, embedded fonts). Every copy comes back as a
    Document or a DocumentError that names it; nothing else escapes."""
    from collections import Counter

    from . import hostile

    data = hostile.real_small_pdf() if original == "reportlab" else DEBIAN_PDF.read_bytes()
    outcomes: Counter = Counter()
    for name, data in hostile.damaged(data, copies, seed=11):
        (tmp_path / name).write_bytes(data)
        try:
            doc = load_file(tmp_path / name, name, Limits(parse_seconds=30))
            outcomes["read"] += 1
            assert doc.source == name
        except DocumentError as e:
            outcomes["skipped"] += 1
            assert str(e).startswith(f"{name}: ")
    print(original, dict(outcomes))
    assert sum(outcomes.values()) == copies and outcomes["read"] and outcomes["skipped"]


def test_discover_does_not_follow_symlinked_folders(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.txt").write_text("not for the index", encoding="utf-8")
    seeds = tmp_path / "seeds"
    (seeds / "sub").mkdir(parents=True)
    (seeds / "a.txt").write_text("A.", encoding="utf-8")
    (seeds / "linked").symlink_to(outside, target_is_directory=True)
    (seeds / "sub" / "loop").symlink_to(seeds, target_is_directory=True)  # would recurse forever if followed
    assert discover(seeds) == [seeds / "a.txt"]


def test_a_killed_parent_takes_its_reader_with_it(tmp_path):
    """SIGKILL of an indexer in the middle of a long read: the reader child does not read on for an hour."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from . import hostile
    from .test_indexing import _tagged_processes

    (tmp_path / "slow.pdf").write_bytes(hostile.slow_pages(1_000, 20_000))
    tag = f"reader-test-{os.getpid()}-{time.time_ns()}"
    script = ("from pathlib import Path; from ragchat.loading import Limits, load_file; "
              f"load_file(Path({str(tmp_path / 'slow.pdf')!r}), 'slow.pdf', Limits(parse_seconds=600))")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "RAGCHAT_TEST_TAG": tag, "PYTHONPATH": str(root)}
    parent = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=root)
    deadline = time.monotonic() + 60
    while len(_tagged_processes(tag)) < 2 and time.monotonic() < deadline:  # the parent and its reader
        time.sleep(0.2)
    assert len(_tagged_processes(tag)) == 2
    time.sleep(1)  # the reader is now inside the slow file
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _tagged_processes(tag) == []


def test_the_limits_come_from_ragchat_settings(tmp_path):
    from ragchat import ConfigError, Settings

    from . import hostile

    settings = Settings.from_env({"RAGCHAT_MAX_FILE_BYTES": "5000000", "RAGCHAT_MAX_PDF_PAGES": "1",
                                  "RAGCHAT_PARSE_SECONDS": "2.5"})
    assert Limits.of(settings) == Limits(file_bytes=5_000_000, pdf_pages=1, parse_seconds=2.5)
    (tmp_path / "small.pdf").write_bytes(hostile.real_small_pdf(pages=2))
    with pytest.raises(DocumentError, match="small.pdf: has 2 pages, over the limit of 1: split it"):
        load_file(tmp_path / "small.pdf", "small.pdf", Limits.of(settings))
    assert load_file(tmp_path / "small.pdf", "small.pdf").text.startswith("Line A")
    with pytest.raises(ConfigError, match="RAGCHAT_PARSE_SECONDS"):
        Settings.from_env({"RAGCHAT_PARSE_SECONDS": "0"})


def test_the_reader_outlives_the_thread_that_started_it(tmp_path):
    """A server starts the reader from a request thread that ends soon after; the next file must not find it dead."""
    import threading

    from ragchat import reader

    fresh = reader.Reader()
    (tmp_path / "a.txt").write_text("Alpha.", encoding="utf-8")
    thread = threading.Thread(target=fresh.parse, args=(b"Alpha.", "a.txt", ".txt", Limits()))
    thread.start()
    thread.join()
    pid = fresh._proc.pid
    assert fresh.parse(b"Beta.", "b.txt", ".txt", Limits()).text == "Beta."
    assert (fresh._proc.pid, fresh.started) == (pid, 1)
    fresh.close()


def test_a_pdf_table_inside_a_paragraph_becomes_rows_under_its_header():
    """FHS 3.0, section 3.2 as PDFium extracts it: a table whose rows run on into prose, and a header line
    that looks like a heading. Each row is a fact of its own, the header names the columns (not a section)."""
    from ragchat.formats import pdf_page_blocks

    prose = ("Distributions should not create new directories in the root hierarchy without extremely careful\n"
             "consideration of the consequences including for application portability of the software.\n")
    page = (prose + "3.2. Requirements\n"
            "The following directories, or symbolic links to directories, are required in /.\n"
            "Directory Description\n"
            "bin Essential command binaries\nboot Static files of the boot loader\n"
            "mnt Mount point for mounting a filesystem temporarily\nopt Add-on application software packages\n"
            "Each directory listed above is specified in detail in separate subsections below. /usr and /var has\n"
            "a complete section in this document due to the complexity of those directories and their contents.\n")
    blocks = pdf_page_blocks(page, 100, set())
    shown = [(b.kind, page[b.start - 100 : b.end - 100][:22], b.header) for b in blocks]
    assert ("heading", "3.2. Requirements", "") in shown
    assert ("header", "Directory Description", "") in shown
    assert ("row", "mnt Mount point for mo", "Directory Description") in shown
    assert [k for k, _, _ in shown].count("row") == 4
    assert shown[-1][0] == "paragraph" and shown[-1][1].startswith("Each directory")


def test_table_of_contents_lines_are_kept_as_text_but_not_indexed(tmp_path):
    """Dot leaders and a page number mark a contents line in a PDF page or a text file: navigation, shown in
    the document, never a chunk (in the Debian FAQ PDF such lines out-ranked the answers)."""
    from ragchat.chunking import ChunkParams, chunk_document
    from ragchat.formats import pdf_page_blocks

    page = ("Contents\n5.13 Where is VoIP software? . . . . . . . . . . . . . 20\n"
            "5.14 Which mail client should I use? ..................... 21\n"
            "Preface . . . . . . . . . iv\n")
    kinds = [(b.kind, page[b.start : b.end][:8]) for b in pdf_page_blocks(page, 0, set())]
    assert kinds == [("heading", "Contents"), ("contents", "5.13 Whe"), ("contents", "5.14 Whi"),
                     ("contents", "Preface ")]
    raw = "Manual\n\nIntro . . . . . . 1\nUsage . . . . . . 4\n\nUsage\n\nRun it with the file name; it counts words.\n"
    (tmp_path / "m.txt").write_text(raw, encoding="utf-8")
    doc = load_file(tmp_path / "m.txt", "m.txt")
    assert doc.text == raw  # the viewer still shows the contents
    chunks = chunk_document(doc, ChunkParams(200, 0), lambda t: len(t.split()))
    assert all(". . ." not in c.text for c in chunks)
    assert any("counts words" in c.text for c in chunks)


def test_section_numbers_set_heading_levels_in_pdf_and_text(tmp_path):
    """A PDF's text has no heading levels: its section numbers give them, so "3.17.1. Purpose" keeps "3.17. /srv"
    above it in the heading path, and an unnumbered heading sits inside the numbered section above it."""
    from reportlab.pdfgen import canvas

    from ragchat.chunking import ChunkParams, chunk_document

    lines = ["Filesystem Hierarchy Standard", "3.17. /srv : Data for services provided by this system",
             "3.17.1. Purpose", "/srv contains site-specific data which is served by this system.",
             "3.18. /tmp : Temporary files", "3.18.1. Purpose",
             "The /tmp directory must be made available for programs that require temporary files.",
             "Rationale", "It is recommended that files in /tmp be deleted whenever the system is booted."]
    path = tmp_path / "fhs.pdf"
    c = canvas.Canvas(str(path))
    for i, line in enumerate(lines):
        c.drawString(72, 760 - 18 * i, line)
    c.showPage()
    c.save()
    (tmp_path / "fhs.txt").write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    for name in ("fhs.pdf", "fhs.txt"):
        doc = load_file(tmp_path / name, name)
        chunks = chunk_document(doc, ChunkParams(200, 0), lambda t: len(t.split()))
        srv = next(c for c in chunks if "site-specific" in c.text)
        booted = next(c for c in chunks if "whenever the system is booted" in c.text)
        assert "3.17. /srv : Data for services provided by this system › 3.17.1. Purpose" in srv.heading, name
        assert "3.18. /tmp : Temporary files" in booted.heading and booted.heading.endswith("Rationale"), name
        assert "3.17" not in booted.heading, name


def test_words_that_only_look_like_section_numbers_do_not_nest_headings():
    text = "Guide\n\nA Short History\n\nSome words.\n\n2024 Results\n\nMore words.\n"
    _, blocks, _ = formats.plain(text)
    levels = {text[b.start:b.end]: b.level for b in blocks if b.kind == "heading"}
    assert levels == {"Guide": 1, "A Short History": 2, "2024 Results": 2}


def test_a_plain_text_licence_has_its_title_and_numbered_sections():
    """Licences, RFCs and READMEs centre a title of a few lines over the text, number their sections on lines
    of their own ("  0. Definitions.", with a full stop), or underline a heading with === or ---. Before, the
    GPL's title was "Preamble" and its sections were list items the model quoted as answers."""
    gpl = ("                    GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007\n\n"
           " Copyright (C) 2007 Free Software Foundation, Inc.\n\n                            Preamble\n\n"
           "  The GNU General Public License is a free, copyleft license for\nsoftware.\n\n"
           "  0. Definitions.\n\n  \"This License\" refers to version 3 of the GNU General Public License.\n\n"
           "  6. Conveying Non-Source Forms.\n\n  You may convey a covered work in object code form.\n")
    text, blocks, title = formats.plain(gpl)
    assert title == "GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007"
    headings = [(" ".join(text[b.start:b.end].split()), b.level) for b in blocks if b.kind == "heading"]
    assert headings == [("Preamble", 2), ("0. Definitions.", 2), ("6. Conveying Non-Source Forms.", 2)]
    assert blocks[0].kind == "paragraph"  # the title's "29 June 2007" can still be cited
    assert not any(b.kind == "item" for b in blocks)

    mpl = "Mozilla Public License Version 2.0\n==================================\n\n1. Definitions\n" \
          "--------------\n\n1.1. \"Contributor\"\n    means each individual or legal entity.\n"
    text, blocks, title = formats.plain(mpl)
    assert title == "Mozilla Public License Version 2.0"
    assert [(text[b.start:b.end], b.level) for b in blocks if b.kind == "heading"] == [
        ("Mozilla Public License Version 2.0", 1), ("1. Definitions", 2)]
    assert "=" not in "".join(text[b.start:b.end] for b in blocks)  # underlines are layout


def test_a_section_title_run_into_its_paragraph_heads_the_section():
    """Apache's and CC0's sections open with their title run into the text ("2. Grant of Copyright License.
    Subject to …"), and the GPL-2 sets its terms under a heading in capitals over two lines. Before, only the
    one title set on a line of its own was a heading, so "1. Definitions." (or "Preamble") headed every
    section after it: in the sources panel and in what each chunk is embedded with."""
    apache = ("   TERMS AND CONDITIONS FOR USE\n\n   1. Definitions.\n\n      \"License\" shall mean the terms.\n\n"
              "   2. Grant of Copyright License. Subject to the terms and conditions of\n      this License, each "
              "Contributor hereby grants to You a licence.\n\n   10. U.S. law applies to this text.\n")
    text, blocks, _ = formats.plain(apache)
    _, paths = sections(Document("a.txt", text, "sha", blocks=blocks))
    body = next(i for i, b in enumerate(blocks) if text[b.start:b.end].startswith("Subject to"))
    assert paths[body][-1] == "2. Grant of Copyright License."
    assert blocks[body].kind == "paragraph"  # its text is still a unit to cite, without the title
    assert not any(text[b.start:b.end].startswith("10. U.S") and b.kind == "heading" for b in blocks)

    gpl = ("Preamble\n\n  The licenses for most software are designed to take away your freedom.\n\n"
           "                    GNU GENERAL PUBLIC LICENSE\n   TERMS AND CONDITIONS FOR COPYING, DISTRIBUTION AND "
           "MODIFICATION\n\n  0. This License applies to any program or other work which contains\n"
           "a notice placed by the copyright holder.\n\n"
           "COPYRIGHT (C) 2006-2007 THE REGENTS\nALL RIGHTS RESERVED\n")
    text, blocks, _ = formats.plain(gpl)
    _, paths = sections(Document("g.txt", text, "sha", blocks=blocks))
    section = next(i for i, b in enumerate(blocks) if text[b.start:b.end].startswith("This License"))
    assert paths[section][-1].startswith("GNU GENERAL PUBLIC LICENSE TERMS AND CONDITIONS")
    assert blocks[-1].kind == "paragraph"  # capitals with a year in them are a statement to cite, not a heading


def test_steps_that_open_with_a_short_sentence_stay_items():
    text = "Setting up:\n\n1. Install the package. Then open it.\n2. Edit the file. Save it.\n"
    assert [b.kind for b in formats.plain(text)[1]] == ["paragraph", "item", "item"]


def test_numbered_lines_spaced_out_as_a_list_stay_items():
    """A list written with blank lines between its items is not a run of sections: each item is still a unit
    to cite, and the prose that opens a document is not its title."""
    text = "Setting up takes three steps.\n\n1. Install the package.\n\n2. Edit the file.\n\n3. Restart it.\n"
    _, blocks, title = formats.plain(text)
    assert [b.kind for b in blocks] == ["paragraph", "item", "item", "item"] and title == ""
    wrapped = "This opening sentence is wrapped\nover two lines of the file.\n\nMore.\n"
    assert formats.plain(wrapped)[1][0].kind == "paragraph"


def test_a_chapters_running_header_is_left_out_but_a_chapter_title_is_kept():
    """A chapter's running header stands on its pages only, too few for "most pages": it is known by the page
    number it holds (which keeps its distance to the page's index) or stands beside. "Chapter 12" on a
    chapter's first page holds a number that does not follow the pages, and stays."""
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron".split()

    def body(i: int) -> str:
        return f"Some text about {words[i]} that goes on for a while.\nAnd another line on {words[i]}.\n"

    pages = [body(0), body(1), body(2)]
    pages += [f"Chapter {n}\nTitle of chapter {n}\n" + body(3 + i) for i, n in enumerate((3, 7))]
    pages += [body(5 + i) + f"{60 + i} Chapter 6. Best Packaging Practices" for i in range(2)]
    pages += [f"The /usr Hierarchy\n{20 + i}\n" + body(7 + i) for i in range(2)]
    assert formats.repeated_lines(pages) == {"# Chapter #. Best Packaging Practices", "The /usr Hierarchy"}


def test_a_one_page_sections_footer_is_left_out_once_the_page_numbering_is_known():
    """Sphinx PDFs put the section's title and the page number at the foot of odd pages: a section one page long
    has its footer once. Three other headers keep the same distance between number and page index, so a
    footer with a title and the number at that distance is one too; "Chapter 12" at the top of its first page
    is not (a bare section word and number), whatever its number."""
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron".split()

    def body(i: int) -> str:
        return f"Some text about {words[i]} that goes on for a while.\nAnd another line on {words[i]}.\n"

    pages = [body(i) + f"{i + 3} Chapter 4. Resources for Debian Developers" for i in range(3)]
    pages.append(body(3) + "4.5. The Developers Database 6")  # index 3, number 6: the same distance
    pages.append("Chapter 7\n" + body(4))  # index 4, number 7: the same distance, but a chapter heading
    pages.append(body(5) + "4.6. The Debian archive 40")  # a number at another distance: a reference, kept
    repeated = formats.repeated_lines(pages)
    assert "#.#. The Developers Database #" in repeated
    assert "Chapter #" not in repeated and "#.#. The Debian archive #" not in repeated


def test_a_chapter_heading_takes_its_title_and_a_paragraphs_short_first_line_is_not_a_heading():
    """"CHAPTER" / "FOUR" / "RESOURCES FOR DEBIAN MEMBERS" is one heading (else the heading path reads
    "CHAPTER"), at the chapter's level; a short line that goes on into a full line in lower case is the
    start of a paragraph (a footnote mark broke it: "18 Programs executed after /usr is known")."""
    from ragchat.formats import numbered_levels, pdf_page_blocks

    wide = "are generally placed into /usr/sbin, and locally installed system administration programs go in there"
    page = ("CHAPTER\nFOUR\nRESOURCES FOR DEBIAN MEMBERS\n"
            "The purpose of this chapter is to describe the resources available to every Debian member today.\n"
            "4.1 Mailing lists\n"
            "Much of the conversation between Debian developers happens on mailing lists, as this one says.\n"
            "18 Programs executed after /usr is known\n"
            f"to be mounted {wide}.\n")
    blocks = numbered_levels(pdf_page_blocks(page, 0, set()), page)
    headings = [(" ".join(page[b.start:b.end].split()), b.level) for b in blocks if b.kind == "heading"]
    assert headings == [("CHAPTER FOUR RESOURCES FOR DEBIAN MEMBERS", 2), ("4.1 Mailing lists", 3)]
    last = blocks[-1]
    assert last.kind == "paragraph" and page[last.start:last.end].startswith("18 Programs") \
        and page[last.start:last.end].endswith("go in there.")


def test_a_pdfs_title_is_its_metadata_title_when_the_cover_shows_it_else_the_covers_first_line(tmp_path):
    from reportlab.pdfgen import canvas

    def write(name: str, metadata: str) -> str:
        c = canvas.Canvas(str(tmp_path / name))
        c.setTitle(metadata)
        for i, line in enumerate(["Debian Developer's Reference", "Release 12.18", "2023-03-06"]):
            c.drawString(72, 760 - 18 * i, line)
        c.showPage()
        for i in range(3):
            c.drawString(72, 760, f"Page {i} text that says something about packages and their maintainers.")
            c.showPage()
        c.save()
        return load_file(tmp_path / name, name).title

    assert write("shown.pdf", "Debian Developer’s Reference") == "Debian Developer’s Reference"
    assert write("word.pdf", "Microsoft Word - draft3.docx") == "Debian Developer's Reference"


def test_html_inside_markdown_is_read_a_tables_rows_under_their_header_and_its_words_without_tags(tmp_path):
    """API references and READMEs write tables in HTML inside Markdown: each row is a unit under its header
    (the Node.js docs' "Ctrl+K" row was in no chunk at all), cited as the exact source and embedded, shown and
    given to a model as its words; comments and images are nothing."""
    from ragchat.chunking import ChunkParams, chunk_document
    from ragchat.types import Evidence

    source = ("# Readline\n\n<!-- YAML\nadded: v0.1.98\n-->\n\n## TTY keybindings\n\n<table>\n  <tr>\n    <th>Keys</th>\n"
              "    <th>Description</th>\n  </tr>\n  <tr>\n    <td><kbd>Ctrl</kbd>+<kbd>K</kbd></td>\n"
              "    <td>Delete from the current position to the end of line</td>\n  </tr>\n</table>\n\n"
              "<p align=\"center\"><img src=\"logo.png\"></p>\n\n<details><summary>Note</summary>Works in any "
              "terminal &amp; on Windows.</details>\n")
    (tmp_path / "readline.md").write_text(source, encoding="utf-8")
    doc = load_file(tmp_path / "readline.md", "readline.md")
    kinds = [(b.kind, b.header) for b in doc.blocks]
    assert kinds == [("heading", ""), ("heading", ""), ("header", ""), ("row", "Keys | Description"), ("paragraph", "")]
    row = next(b for b in doc.blocks if b.kind == "row")
    assert doc.text[row.start:row.end].startswith("<tr>") and doc.text[row.start:row.end].endswith("</tr>")
    chunks = chunk_document(doc, ChunkParams(200, 0), lambda t: len(t.split()))
    embedded = [t for c in chunks for t in c.embed_texts()]
    assert "Keys | Description\nCtrl + K Delete from the current position to the end of line" in embedded
    assert "Note Works in any terminal & on Windows." in embedded
    unit = Evidence(n=1, chunk=chunks[0], source="readline.md", start=row.start, end=row.end,
                    text=doc.text[row.start:row.end], score=1.0, kind="row", header="Keys | Description")
    assert unit.readable() == "Keys | Description / Ctrl + K Delete from the current position to the end of line"
    code = Evidence(n=1, chunk=chunks[0], source="readline.md", start=0, end=5, text="<b>x</b>", score=1.0, kind="code")
    assert code.words() == "<b>x</b>"  # code stays as written


def test_damaged_pdf_metadata_gives_no_title_instead_of_an_error():
    """The title then comes from the cover (loading._pdf); the text is read as before."""
    from ragchat.loading import _metadata_title

    class Damaged:  # PDFium raising on a broken /Info dictionary
        def get_metadata_dict(self):
            raise ValueError("bad Info dictionary")

    assert _metadata_title(Damaged()) == ""


def test_a_pdfs_fonts_say_what_is_a_heading_and_what_is_code(tmp_path):
    """Where a PDF sets its headings apart (larger or bold) and its code in a monospaced font, the fonts decide,
    not a line's looks: "1. Introduction" set large is a chapter (by its looks, a list's first item), a heading
    that wraps is one heading, a listing is one code block (its short lines were headings: "4 CARD32 0"), a
    bold lead-in ending in a colon or a bold sentence heads nothing, and a command set inside a sentence stays in
    that sentence."""
    from reportlab.pdfgen import canvas

    from ragchat.chunking import ChunkParams, chunk_document

    body = ("Times-Roman", 10)
    lines = [
        (("Helvetica-Bold", 18), "Shared MIME-info Database"),
        (("Helvetica-Bold", 14), "1. Introduction"),
        (body, "This specification describes how the database of file types is stored on a desktop system."),
        (("Helvetica-Bold", 10), "Programs must never write to the database while another program reads it."),
        (("Helvetica-Bold", 14), "1.1. What happens when a package that installs new types is upgraded to a"),
        (("Helvetica-Bold", 14), "newer version of the same package?"),
        (body, "The package installs its files again and the cache is rebuilt, so every type it names is known."),
        (("Helvetica-Bold", 10), "Header:"),
        (("Courier", 9), "2 CARD16 MAJOR_VERSION"),
        (("Courier", 9), "4 CARD32 0"),
        (("Courier", 9), "4 CARD32 ALIAS_LIST_OFFSET"),
        (body, "To rebuild the cache by hand, an administrator with the rights to the folder can run the command"),
        (("Courier", 9), "update-mime-database /usr/share/mime"),
        (body, "using the folder that holds the packages' files, which is the default on most systems."),
    ]
    path = tmp_path / "spec.pdf"
    c = canvas.Canvas(str(path))
    for i, ((font, size), line) in enumerate(lines):
        c.setFont(font, size)
        c.drawString(72, 760 - 22 * i, line)
    c.showPage()
    c.save()
    doc = load_file(path, "spec.pdf")
    shown = [(b.kind, " ".join(doc.text[b.start:b.end].split())) for b in doc.blocks]
    assert [t for k, t in shown if k == "heading"] == [
        "Shared MIME-info Database", "1. Introduction",
        "1.1. What happens when a package that installs new types is upgraded to a newer version of the same "
        "package?"]
    assert ("code", "2 CARD16 MAJOR_VERSION 4 CARD32 0 4 CARD32 ALIAS_LIST_OFFSET") in shown
    assert shown[-1] == ("paragraph", "To rebuild the cache by hand, an administrator with the rights to the folder "
                         "can run the command update-mime-database /usr/share/mime using the folder that holds the "
                         "packages' files, which is the default on most systems.")
    chunks = chunk_document(doc, ChunkParams(200, 0), lambda t: len(t.split()))
    upgraded = next(c for c in chunks if "cache is rebuilt" in c.text)
    assert upgraded.heading.endswith("› 1. Introduction › " + shown[3][1])
    assert any(k == "paragraph" and "Programs must never write" in t for k, t in shown)


def test_one_font_throughout_leaves_a_pdf_read_by_its_lines_shapes():
    from ragchat.formats import LineStyle, Typography

    page = "Title\nA first line of prose that goes on.\nMore prose."
    same = [LineStyle(12.0)] * 3
    assert Typography.of([(page, same)]) is None
    assert Typography.of([(page, [None, None, None])]) is None
    # A typewritten document: its body is monospaced, so nothing is code; its headings are still set apart.
    typed = "\n".join(["Title", "Body text", "Body text", "Heading", "Body text", "Heading", "Body text"])
    heading, text = LineStyle(14.0, bold=True, mono=True), LineStyle(10.0, mono=True)
    typography = Typography.of([(typed, [heading, text, text, heading, text, heading, text])])
    assert typography is not None and typography.code is False and typography.body == 10.0
    assert typography.set_apart(heading) and not typography.is_code(text)
    # A cover set large, then headings in the body's font: the fonts say nothing of the headings.
    cover = ("Annual report\nof the club\nby its secretary", [LineStyle(20.0, bold=True)] * 3)
    body = ("Membership\nThe club had forty members this year.", [LineStyle(10.0)] * 2)
    assert Typography.of([cover, body, body]) is None
    one_page = (cover[0] + "\n" + body[0], cover[1] + body[1])
    assert Typography.of([one_page]) is not None  # one page: its lines set apart are its headings
    assert Typography.of([cover]) is None  # every line alike: bold is the body's weight, not a heading's


def test_prose_whose_sentences_end_in_a_footnote_mark_or_a_bracket_is_not_a_table():
    """A PDF table is lines that end no sentence; prose can look so too: a sentence that ends in its footnote's
    mark ("… should query for it. 7") or in a closing bracket ("… prefers ee-en.)"), and an abstract set
    narrower than the page, whose lines end mid-sentence: its lines are wrapped at a width, a table's rows have
    a gap between their columns."""
    from ragchat.formats import LineStyle, pdf_page_blocks

    footnoted = ("/home is a fairly standard concept, but it is clearly a site-specific filesystem. 6\n"
                 "The setup will differ from\n"
                 "host to host. Therefore, no program should assume any specific location for a home directory\n"
                 "should query for it. 7\n")
    bracketed = ("The project name is pronounced Deb-ee-en, with a short e in Deb, and emphasis on the first. This\n"
                 "word is a contraction of the names of Debra and Ian Murdock, who founded the project. (Dictionaries\n"
                 "seem to offer some ambiguity in the pronunciation of Ian, but Ian prefers ee-en.)\n")
    abstract = ("zoo is an R package providing an S3 class with methods for indexed totally ordered\n"
                "observations, such as discrete irregular time series. Its key design goals are independence\n"
                "of a particular index/time/date class and consistency with base R and the ts class for\n"
                "regular time series. This paper describes how these are achieved within zoo and provides\n"
                "several illustrations of the available methods for zoo objects which include plotting,\n")
    page = "\n".join(["Body text of the page is set wider than the abstract above it, as journals set them."] * 8)
    for prose in (footnoted, bracketed, abstract + page):
        assert {b.kind for b in pdf_page_blocks(prose, 0, set())} == {"paragraph"}
    table = "bin Essential command binaries\nboot Static files of the boot loader\nmnt Mount point for a filesystem\n"
    columns = [LineStyle(10.0, gapped=True)] * 3  # a wide gap between "bin" and "Essential"
    assert [b.kind for b in pdf_page_blocks(table, 0, set(), columns)] == ["row"] * 3


def test_a_chapter_title_set_large_is_a_heading_though_it_runs_at_the_top_of_its_other_pages(tmp_path):
    """Texinfo and LaTeX repeat a chapter's title as the running header of its pages; on its first page it is set
    large, and there it is the chapter's heading (left out as a running header, "2 ASN.1 structure handling"
    headed nothing, and its sections sat under chapter 1)."""
    from reportlab.pdfgen import canvas

    path = tmp_path / "manual.pdf"
    c = canvas.Canvas(str(path))
    for page in range(1, 5):
        c.setFont("Times-Roman", 9)
        if page > 1:
            c.drawString(72, 800, "2 ASN.1 structure handling")
        c.drawString(300, 40, str(page))
        if page == 1:
            c.setFont("Helvetica-Bold", 17)
            c.drawString(72, 760, "2 ASN.1 structure handling")
        c.setFont("Helvetica-Bold", 12)
        c.drawString(72, 730, f"2.{page} Section {page}")
        c.setFont("Times-Roman", 10)
        for i, word in enumerate(("parser", "trees", "nodes", "values", "names", "types")):
            c.drawString(72, 710 - 16 * i, f"Page {page} says something of its own about the {word} it builds.")
        c.showPage()
    c.save()
    doc = load_file(path, "manual.pdf")
    headings = [" ".join(doc.text[b.start:b.end].split()) for b in doc.blocks if b.kind == "heading"]
    assert headings == ["2 ASN.1 structure handling", "2.1 Section 1", "2.2 Section 2", "2.3 Section 3",
                        "2.4 Section 4"]


@pytest.mark.parametrize("font, mono", [("t1xtt", True), ("cmtt10", True), ("nimbusmonl-regu", True), ("freemono", True),
                                        ("dejavusansmono-bold", True), ("courier", True), ("sourcecodepro-regular", True),
                                        ("charissil", False), ("monotypecorsiva", False), ("times-roman", False)])
def test_monospaced_fonts_are_known_by_name(font, mono):
    """PDFs seldom set the fixed-pitch flag in a font's descriptor; LaTeX's, GNU's and the common code fonts are
    known by their names (after the subset tag "PPSGID+")."""
    from ragchat.loading import _MONO_FONT

    assert bool(_MONO_FONT.search(font)) is mono


@pytest.mark.parametrize("font, weight, bold", [
    ("lmroman10-regular", 744, False), ("lmroman12-bold", 820, True), ("lmromandemi10-regular", 685, True),
    ("cmr10", 700, False), ("cmbx12", 400, True), ("cmssbx10", 400, True), ("sfrm1000", 650, False),
    ("sfbx1200", 400, True), ("times-bold", 700, True), ("times-roman", 400, False), ("", 700, True), ("", 400, False),
])
def test_a_fonts_name_says_its_weight_where_it_names_one(font, weight, bold):
    """PDFium estimates a Type 1 font's weight from its stems: it gave Latin Modern's regular body font 744, so
    every line of a LaTeX article was bold and hundreds of its lines were read as headings (lme4's article: 501
    headings, 53 now). The weight decides only for a name that says nothing."""
    from ragchat.loading import _is_bold

    assert _is_bold(font, weight) is bold


def test_a_body_set_in_bold_sets_nothing_apart_by_its_weight():
    from ragchat.formats import LineStyle, Typography

    page = "\n".join(["A Title Set Large", "1. Section"] + ["prose that goes on and on"] * 8)
    styles = [LineStyle(16.0, True), LineStyle(10.0, True)] + [LineStyle(10.0, True)] * 8
    typography = Typography.of([(page, styles)] * 3)
    assert typography is not None and not typography.set_apart(LineStyle(10.0, True))
    assert typography.set_apart(LineStyle(16.0, True))


def _page(top: float, rows: int, pitch: float = 12.0) -> list[float]:
    return [top - pitch * i for i in range(rows)]


def test_lines_in_a_pages_margins_are_found_by_where_they_stand():
    """A running header 40 points above the text block and a page number 30 below it, on most pages: they are
    in the margins whatever they say. Text that starts at the top of the text block, a page of a document
    without running headers, and a slide's title set large (above a gap, at one height on every page) are not."""
    from ragchat.formats import LineStyle, Typography, margin_lines

    body = LineStyle(10.0)
    pages = [[800.0] + _page(760, 50) + [142.0 - 30] for _ in range(5)]
    pages[2] = [800.0, 800.0] + _page(760, 50) + [112.0]  # a header in two parts on one row
    pages[4] = _page(700, 40) + [112.0]  # a chapter's first page: no header, text starts lower
    margins = margin_lines(pages)
    assert margins[0] == {0, 51} and margins[2] == {0, 1, 52}
    assert margins[4] == {40}

    plain = [_page(760, 50) for _ in range(5)]
    assert margin_lines(plain) == [set()] * 5

    slides = [[700.0] + _page(600, 10) for _ in range(6)]
    styles = [[LineStyle(24.0)] + [body] * 10 for _ in range(6)]
    pages_text = [("\n".join(["Title"] + ["a line of the slide"] * 10), s) for s in styles]
    assert margin_lines(slides, styles, Typography.of(pages_text)) == [set()] * 6
    assert margin_lines(slides) == [{0}] * 6  # without its size, a title at one height above a gap looks like one


def test_a_pdfs_section_headers_are_layout_and_a_paragraph_goes_on_across_the_page(tmp_path):
    """Sphinx sets the chapter and section as the running header ("CHAPTER 3. CHOOSING A DEBIAN… 3.1. WHICH
    DEBIAN DISTRIBUTION…") and the page number at the foot: the header changes with the section and holds no
    number, so repeated_lines cannot know it (it was read into the page's first sentence). By position it is
    layout, left out of the text with the page number, so the sentence the page break cut is one unit again."""
    from reportlab.pdfgen import canvas

    from ragchat.sentences import sentence_spans

    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi".split()
    path = tmp_path / "faq.pdf"
    c = canvas.Canvas(str(path))
    for page in range(1, 6):
        c.setFont("Times-Roman", 9)
        if page > 1:
            c.drawString(72, 800, f"CHAPTER 1. DEFINITIONS 1.{page}. WHAT IS {words[page].upper()}")
        c.drawString(300, 40, str(page))
        c.setFont("Times-Roman", 10)
        lines = [f"Page {page} says something of its own about {w} and goes on with it." for w in words[:12]]
        if page == 2:
            lines[-1] = "The archive keeps every package that was ever released, together with"
        if page == 3:
            lines[0] = "its source code and the signatures of the developers who uploaded it."
        for i, line in enumerate(lines):
            c.drawString(72, 760 - 14 * i, line)
        c.showPage()
    c.save()
    doc = load_file(path, "faq.pdf")
    assert "CHAPTER" not in doc.text and "\n4\n" not in doc.text
    units = [" ".join(doc.text[a:b].split())
             for block in doc.blocks for a, b in sentence_spans(doc.text, block.start, block.end)]
    whole = ("The archive keeps every package that was ever released, together with its source code and the "
             "signatures of the developers who uploaded it.")
    assert whole in units
    at = doc.text.index("its source code")
    assert (doc.page_at(doc.text.index("The archive keeps")), doc.page_at(at)) == (2, 3)


def test_tex_ligature_codes_read_as_their_letters():
    """TeX fonts without a Unicode map give their raw codes: T1's fi ligature at 0x1C, OT1's at 0x0C; quotes and
    dashes of T1 likewise. A word with a ligature was two tokens ("coe", "cients") and never found."""
    from ragchat.loading import _TEX_CODES

    assert "coe\x1ecients \x1bect \x1e\x10rst\x11 \x15 \x0cnd".translate(_TEX_CODES) == \
        "coefficients ffect ffi\u201crst\u201d \u2013 find"


@pytest.mark.parametrize("font, caps", [("cmcsc10", True), ("lmromancaps10-regular", True), ("minionpro-smallcaps", True),
                                        ("cmr10", False), ("cmbx12", False), ("times-roman", False)])
def test_small_capitals_are_known_by_the_fonts_name(font, caps):
    """R News and many LaTeX styles set section titles in the body's size and weight, in small capitals
    (CMCSC10): set apart only by the font, they were read as the first words of the paragraph below."""
    from ragchat.loading import _CAPS_FONT

    assert bool(_CAPS_FONT.search(font)) is caps


def test_a_pdf_table_is_known_by_the_gap_between_its_columns_and_an_abstract_by_its_wrapped_lines(tmp_path):
    """Both are lines that end no sentence, set narrower than the page's prose. PDFium's character boxes show
    the table's gap between columns (the text gives it as one space); the abstract's lines each go on in the
    next, whose first word would not have fitted."""
    from reportlab.pdfgen import canvas

    path = tmp_path / "article.pdf"
    c = canvas.Canvas(str(path))
    c.setFont("Times-Roman", 10)
    abstract = ["zoo is an R package providing an S3 class with methods for",
                "indexed totally ordered observations, such as discrete and",
                "irregular time series. Its key design goals are independence",
                "of a particular index class and consistency with the base",
                "classes for regular time series, which this paper describes"]
    prose = "The body of the article is set wider than its abstract and its tables, as journals set them."
    lines = [(110, t) for t in abstract] + [(72, prose)] * 6
    for i, (x, text) in enumerate(lines):
        c.drawString(x, 760 - 14 * i, text)
    for i, (command, what) in enumerate([("csh", "The C shell (optional)"), ("ed", "The ed editor (optional)"),
                                         ("tar", "The tar archiving utility (optional)")]):
        c.drawString(110, 600 - 14 * i, command)
        c.drawString(200, 600 - 14 * i, what)
    c.showPage()
    c.save()
    doc = load_file(path, "article.pdf")
    shown = [(b.kind, " ".join(doc.text[b.start:b.end].split())) for b in doc.blocks]
    assert any(k == "paragraph" and " ".join(abstract) in t for k, t in shown)  # read on into the body's prose
    assert [t for k, t in shown if k == "row"] == ["csh The C shell (optional)", "ed The ed editor (optional)",
                                                    "tar The tar archiving utility (optional)"]


def test_pages_that_each_open_with_a_bold_heading_keep_it(tmp_path):
    """Where each page opens with its heading at the same height above a gap (a question per page, a slide's
    title in the body's size), the heading stands where a running header would: set as headings are, it is kept
    as text, not left out as a margin line."""
    from reportlab.pdfgen import canvas

    words = "parser token stream buffer node value error input output reads writes checks stores returns".split()
    path = tmp_path / "faq.pdf"
    c = canvas.Canvas(str(path))
    for page in range(6):
        c.setFont("Helvetica-Bold", 11)
        c.drawString(72, 780, f"Question {page + 1}: how does the parser handle the {words[page]}")
        c.setFont("Helvetica", 10)
        for i in range(30):
            c.drawString(72, 750 - 13 * i, " ".join(words[(page + i + k) % len(words)] for k in range(12)))
        c.showPage()
    c.save()
    doc = load_file(path, "faq.pdf")
    assert all(f"Question {n}: how does the parser handle" in doc.text for n in range(1, 7))


def test_a_plain_text_title_ending_in_an_ellipsis_is_still_its_title():
    """The PDF rule for a page that ends a sentence counts "…" and closing quotes; the plain-text title rule does
    not, and must not inherit it (the PDF rule's regex once shadowed the plain-text one by name)."""
    text = "Small Retrievers on Laptops…\nReport of the 2026 workshop\n\nThe workshop met in Tartu. It discussed it.\n"
    assert formats.plain(text)[2] == "Small Retrievers on Laptops… Report of the 2026 workshop"
