"""Evidence selection: which sentences answer a question, and when the best of them cannot."""

from __future__ import annotations

import pytest

from ragchat import evidence
from ragchat.keyword import KeywordIndex, tokenize

FILLER = (
    "The river trade of the valley carried grain, timber and salt between the market towns for many years. "
    "Merchants paid tolls at every bridge, and the tolls paid for the roads that joined the towns together. "
)

CHRONICLE = (
    "In March 2014, the king of Ruritania travelled to Borduria to sign a treaty on the shared river.\n\n"
    + FILLER * 8
    + "\n\nIn November of the same year, the royal envoy, Anton Weiss, spent seven days in the Bordurian capital.\n\n"
    "The old chancellor distrusted the foreign advisers at court. He called them spies and thieves in his "
    "letters. Until 1956, the two crowns exchanged gifts every winter.\n"
)


@pytest.fixture(scope="module")
def chronicle(tmp_path_factory, embedder):
    from ragchat import Settings, build_index, open_retriever

    root = tmp_path_factory.mktemp("chronicle")
    (root / "seeds").mkdir()
    (root / "seeds" / "chronicle.txt").write_text(CHRONICLE, encoding="utf-8")
    settings = Settings(seeds_dir=root / "seeds", index_dir=root / "index", chunk_tokens=80, chunk_overlap=0)
    build_index(settings, embedder)
    return open_retriever(settings, embedder)


def _ranked(retriever, question: str) -> list[evidence.Candidate]:
    vector = retriever.embedder.encode_query(question)
    hits = retriever.search(question, 5, query_vector=vector)
    return evidence.candidates(question, vector, hits, retriever.store)


def test_rare_terms_weigh_more_than_common_ones():
    index = KeywordIndex.build([1, 2, 3], ["the river town", "a river bridge", "the river toll"])
    weights = index.idf(tokenize(["river bridge zebra"])[0])
    assert weights["river"] < weights["bridg"] < weights["zebra"]


def test_since_and_until_answer_a_question_that_asks_for_them():
    assert evidence.asked_type("Until what year did the crowns exchange gifts?") == "time"
    assert evidence.has_type("Until 1956, the crowns exchanged gifts.", "time", spans_answer=True)
    # Asked "when", a "since 1991" only bounds a span: it is not the date of the thing asked about.
    assert not evidence.has_type("Until 1956, the crowns exchanged gifts.", "time")


def test_a_sentence_opening_with_he_is_read_with_the_one_before(chronicle):
    question = "What did the old chancellor call the foreign advisers?"
    ranked = _ranked(chronicle, question)
    he = next(c for c in ranked if c.text.startswith("He called"))
    alone = float(chronicle.store.sentences_of(he.hit.chunk)[he.hit.chunk.sentences.index((he.start, he.end))]
                  @ chronicle.embedder.encode_query(question))
    # On its own "He called them ..." is about nobody; read after its antecedent it is about the chancellor.
    assert he.similarity > alone + 0.1
    assert he in ranked[:2]


def test_a_year_stated_a_paragraph_earlier_still_counts(chronicle):
    question = "Who was the royal envoy who visited Borduria in November 2014?"
    ranked = _ranked(chronicle, question)
    assert "Anton Weiss" in ranked[0].text
    assert "2014" not in ranked[0].hit.chunk.text  # the year is only in the text before the passage
    assert evidence.answerable(question, ranked)
    assert not evidence.answerable("Who was the royal envoy who visited Borduria in November 2019?", ranked)


def test_until_question_is_answered_from_the_until_sentence(chronicle):
    question = "Until what year did the two crowns exchange gifts?"
    ranked = evidence.best_first(question, _ranked(chronicle, question))
    assert ranked[0].text.startswith("Until 1956")
