import pytest
from pathlib import Path

from ragchat import Document, Settings
from ragchat.chunking import ChunkParams, PieceLimit, chunk_document
from ragchat.indexing import chunker
from ragchat.sentences import sentence_spans
from ragchat.tokens import get_encoding


def _count(text: str) -> int:
    return len(get_encoding("cl100k_base").encode(text, disallowed_special=()))


def _doc(text: str, source: str = "d.txt") -> Document:
    return Document(source=source, text=text, sha256="0" * 64)


def test_sentence_spans_are_exact_and_respect_paragraphs(seed_text):
    spans = sentence_spans(seed_text)
    assert len(spans) > 100
    for start, end in spans:
        piece = seed_text[start:end]
        assert piece == piece.strip() and piece
    # The title line is its own sentence, not glued to the first sentence of the body.
    first = seed_text[spans[0][0] : spans[0][1]]
    assert first == "North Korea: Russia’s Staunch Ally – Analysis"
    assert seed_text[spans[1][0] : spans[1][1]].startswith("At the end of July")


def test_every_seed_chunk_is_an_exact_slice_and_fits_the_embedder(seed_index, embedder):
    from ragchat import FaissStore

    store = FaissStore.load(seed_index.index_dir)
    assert len(store) > 10
    for chunk in store.chunks.values():
        source_text = store.documents[chunk.source].text
        assert source_text[chunk.start : chunk.end] == chunk.text
        assert _count(chunk.text) <= seed_index.chunk_tokens
        assert embedder.word_pieces(chunk.text) <= embedder.max_seq_length


def test_chunks_overlap_and_cover_the_document(seed_text, embedder):
    settings = Settings()
    chunks = chunker(settings, embedder)(_doc(seed_text))
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    for start, end in sentence_spans(seed_text):
        assert start in covered and end - 1 in covered
    overlaps = sum(1 for a, b in zip(chunks, chunks[1:]) if b.start < a.end)
    assert overlaps >= len(chunks) // 2
    assert all(b.start > a.start for a, b in zip(chunks, chunks[1:]))


def test_word_piece_limit_is_enforced_even_when_tokens_allow_more(embedder):
    # Digits and rare words cost MiniLM far more word pieces than cl100k tokens.
    text = " ".join(f"{i * 7919}x{i}q" for i in range(400)) + "."
    limit = PieceLimit(embedder.piece_counts, embedder.max_seq_length)
    chunks = chunk_document(_doc(text), ChunkParams(10_000, 0), _count, limit)
    assert len(chunks) > 1
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert embedder.word_pieces(c.text) <= embedder.max_seq_length


def test_a_sentence_longer_than_a_chunk_is_cut_at_words():
    text = ("word " * 300).strip() + ". Short one."
    chunks = chunk_document(_doc(text), ChunkParams(50, 0), _count)
    assert all(_count(c.text) <= 50 for c in chunks)
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert all(not c.text.startswith(" ") and not c.text.endswith(" ") for c in chunks)


def test_a_single_huge_word_is_cut_by_characters():
    text = "x" * 5000
    chunks = chunk_document(_doc(text), ChunkParams(64, 0), _count)
    assert "".join(c.text for c in chunks) == text
    assert all(_count(c.text) <= 64 for c in chunks)


def test_chunk_ids_are_stable_content_hashes(seed_text):
    params = ChunkParams(120, 24)
    first = chunk_document(_doc(seed_text), params, _count)
    second = chunk_document(_doc(seed_text), params, _count)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    # Text added at the top moves offsets but unchanged later passages keep their ids.
    shifted = chunk_document(_doc("A new opening paragraph.\n\n" + seed_text), params, _count)
    assert len({c.id for c in first} & {c.id for c in shifted}) >= len(first) - 2


def test_repeated_passages_get_distinct_ids():
    text = "Same sentence here.\n\nOther text.\n\nSame sentence here."
    chunks = chunk_document(_doc(text), ChunkParams(16, 0), _count)
    ids = [c.id for c in chunks]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("tokens,overlap", [(10, 0), (20, 10), (16, 8)])
def test_settings_validate_chunking(tokens, overlap):
    from ragchat.errors import ConfigError

    with pytest.raises(ConfigError, match="RAGCHAT_CHUNK"):
        Settings(chunk_tokens=tokens, chunk_overlap=overlap)


def test_a_heading_with_no_text_of_its_own_joins_the_chunk_below():
    """"3.18 /tmp" right above "3.18.1 Purpose" is no passage: alone it wins searches on its few words and
    answers nothing. It heads the next section's chunk instead; one with nothing below it is left out."""
    from ragchat.types import Block

    text = "3.18. /tmp\n3.18.1. Purpose\nThe /tmp directory must be made available for temporary files.\nEnd"
    a = text.index("3.18.1.")
    b = text.index("The /tmp")
    blocks = (Block("heading", 0, 10, 2), Block("heading", a, b - 1, 3), Block("paragraph", b, text.index("\nEnd")),
              Block("heading", len(text) - 3, len(text), 2))
    chunks = chunk_document(Document("fhs.pdf", text, "0" * 64, blocks=blocks), ChunkParams(200, 0), _count)
    assert [c.text for c in chunks] == [text[: text.index("\nEnd")]]  # a bare heading at the very end is no passage
    assert chunks[0].heading.endswith("3.18.1. Purpose") and chunks[0].kinds[:2] == ("heading", "heading")


def test_a_run_of_bare_headings_joins_the_text_below_them_all():
    from ragchat.types import Block

    text = "Chapter 1\nGetting Debian\n1.1 Where\nFrom the mirrors, over HTTP."
    starts = [0, 10, 25, 35]
    blocks = tuple(Block("heading", a, text.index("\n", a), lvl) for a, lvl in zip(starts[:3], (1, 1, 2))) + (
        Block("paragraph", starts[3], len(text)),)
    chunks = chunk_document(Document("faq.pdf", text, "0" * 64, blocks=blocks), ChunkParams(200, 0), _count)
    assert [c.text for c in chunks] == [text]


def test_a_document_that_is_only_a_heading_still_has_its_chunk():
    from ragchat.types import Block

    doc = Document("note.md", "Shopping list", "0" * 64, blocks=(Block("heading", 0, 13, 1),))
    assert [c.text for c in chunk_document(doc, ChunkParams(200, 0), _count)] == ["Shopping list"]


def test_settings_take_folders_as_strings():
    """A script writes Settings(seeds_dir="docs"); a str reaching the store failed there with an AttributeError."""
    s = Settings(seeds_dir="docs", index_dir="~/idx")
    assert s.seeds_dir == Path("docs") and s.index_dir == Path("~/idx").expanduser()
    assert s.replace(index_dir="other").index_dir == Path("other")
