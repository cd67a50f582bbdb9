"""Hostile PDFs, written byte by byte (no PDF library would write them): an inflate bomb, a thousand pages
sharing one costly content stream, and damaged copies of a real PDF."""

from __future__ import annotations

import random
import zlib


def pdf(objects: list[bytes]) -> bytes:
    """A PDF whose object n (from 1) is objects[n - 1]; object 1 must be the catalog."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def stream(data: bytes, compress: bool = True) -> bytes:
    if compress:
        data = zlib.compress(data, 9)
        return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def pages_pdf(count: int, content: bytes) -> bytes:
    """count pages that all draw the same content stream (objects: catalog, pages, font, content, page...)."""
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(count))
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    return pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        FONT,
        stream(content),
        *[page] * count,
    ])


def inflate_bomb(megabytes: int = 300) -> bytes:
    """One page whose content stream is `megabytes` MB of zeros, deflated (~1,000:1) into a few hundred KB."""
    compressor = zlib.compressobj(9)
    block = bytes(1 << 20)
    data = b"".join(compressor.compress(block) for _ in range(megabytes)) + compressor.flush()
    content = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    return pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>", FONT, content,
                page])


def slow_pages(count: int = 1_000, operations: int = 20_000) -> bytes:
    """count pages sharing one content stream of many small text operations: each page re-reads it all."""
    ops = b"BT /F1 1 Tf 1 0 0 1 10 10 Tm (a) Tj ET\n" * operations
    return pages_pdf(count, ops)


def simple(text_lines: list[str]) -> bytes:
    """A well-formed one-page PDF with these lines of text."""
    ops = b"BT /F1 12 Tf 72 720 Td 14 TL " + b" ".join(b"(%s) '" % line.encode("latin-1") for line in text_lines) + b" ET"
    return pages_pdf(1, ops)


def real_small_pdf(pages: int = 3) -> bytes:
    """A small PDF as a real producer (reportlab, compressed streams) writes it: a few pages of distinct lines."""
    import io

    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pageCompression=1)
    for page in range(pages):
        for line in range(30):
            # Letters, not numbers: lines that differ only in digits would be taken for running headers.
            word = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(page * 30 + line) % 26] * (1 + (page * 30 + line) // 26)
            c.drawString(72, 760 - 20 * line, f"Line {word}: the railway reached the port.")
        c.showPage()
    c.save()
    return buffer.getvalue()


def damaged(original: bytes, count: int, seed: int = 11) -> list[tuple[str, bytes]]:
    """count damaged copies of original: byte flips, truncations, chunk deletions and duplications, reproducibly."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        data = bytearray(original)
        kind = ("flip", "truncate", "delete", "duplicate", "mixed")[i % 5]
        if kind in ("flip", "mixed"):
            for _ in range(rng.choice((1, 3, 10, 100))):
                data[rng.randrange(len(data))] = rng.randrange(256)
        if kind in ("truncate", "mixed"):
            del data[rng.randrange(len(data)):]
        if kind in ("delete", "mixed") and len(data) > 2:
            start = rng.randrange(len(data))
            del data[start : start + rng.randrange(1, 2_000)]
        if kind == "duplicate":
            start = rng.randrange(len(data))
            chunk = data[start : start + rng.randrange(1, 2_000)]
            at = rng.randrange(len(data))
            data[at:at] = chunk
        out.append((f"fuzz-{i:03d}-{kind}.pdf", bytes(data)))
    return out
