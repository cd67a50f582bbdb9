from pathlib import Path

import pytest

from ragchat.errors import DocumentError, SeedsError
from ragchat.loading import discover, html_to_text, load_file, load_folder


def test_text_keeps_the_files_own_characters(tmp_path):
    raw = "Line one.\r\nLine two – with “quotes”.\r\n"
    path = tmp_path / "a.txt"
    path.write_bytes(raw.encode("utf-8"))
    doc = load_file(path, "a.txt")
    assert doc.text == raw  # CRLF and typographic characters untouched: offsets point into what a reader sees
    assert len(doc.sha256) == 64


def test_markdown_is_loaded_as_text(tmp_path):
    (tmp_path / "notes.md").write_text("# Title\n\nSome *text*.\n", encoding="utf-8")
    assert load_file(tmp_path / "notes.md", "notes.md").text == "# Title\n\nSome *text*.\n"


def test_html_keeps_visible_text_only():
    html = (
        "<html><head><title>Page</title><style>p{color:red}</style><script>var x = 1;</script></head>"
        "<body><h1>Heading</h1><p>First &amp; second paragraph.</p><p>Third<br>line</p></body></html>"
    )
    text = html_to_text(html)
    assert "var x" not in text and "color" not in text
    assert "First & second paragraph." in text
    assert text.startswith("Page\n\nHeading")
    assert "Third\n\nline" in text


def test_html_file(tmp_path):
    (tmp_path / "p.html").write_text("<p>Hello <b>world</b>.</p>", encoding="utf-8")
    assert load_file(tmp_path / "p.html", "p.html").text == "Hello world."


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
