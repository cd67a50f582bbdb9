from dataclasses import replace

import pytest
from ragchat import Chunk, Evidence
from ragchat.citations import attribute, compose_extractive, in_clause, markers, render_evidence, supported, verify

CHUNK = Chunk(id="c1", source="doc.txt", start=0, end=200, text="x")
EVIDENCE = [
    Evidence(1, CHUNK, "doc.txt", 0, 60, "At the end of July, General Sergei Shoigu visited Pyongyang.", 0.8),
    Evidence(2, CHUNK, "doc.txt", 61, 140, "It was the first visit by a Russian defense minister since 1991.", 0.7),
    Evidence(3, CHUNK, "doc.txt", 141, 200, "Kim called it a “defeat of the enemy” in the war.", 0.6),
]


def test_render_and_compose_number_from_one():
    assert render_evidence(EVIDENCE).splitlines()[0] == "[1] At the end of July, General Sergei Shoigu visited Pyongyang."
    text = compose_extractive(EVIDENCE[:2])
    assert text.endswith("since 1991. [2]") and markers(text) == [1, 2]


def test_grouped_markers_are_read():
    assert markers("Yes [1, 3]. And [2][3].") == [1, 3, 2, 3]


def test_each_sentence_is_checked_against_what_it_cites_and_numbered_in_answer_order():
    checked = verify("Shoigu visited Pyongyang at the end of July [2]. It was the first such visit since 1991 [2].", EVIDENCE)
    # Evidence 2 is the 1991 sentence: it supports the second sentence but not "Shoigu ... Pyongyang ... July".
    assert checked.verified_sentences == 1
    assert checked.unverified == ("Shoigu visited Pyongyang at the end of July.",)
    # Numbered in the order they appear in the answer: the reader's first citation is [1].
    assert checked.answer == "Shoigu visited Pyongyang at the end of July. [1] It was the first such visit since 1991. [1]"
    assert [(c.n, c.start) for c in checked.citations] == [(1, 61)]


def test_invented_year_is_unverified():
    checked = verify("Shoigu visited North Korea in July 2012 [1].", EVIDENCE)
    assert checked.verified_sentences == 0
    assert checked.unverified == ("Shoigu visited North Korea in July 2012.",)
    assert [c.verified for c in checked.citations] == [False]


def test_out_of_range_markers_resolve_to_nothing():
    checked = verify("Shoigu visited at the end of July [99][1].", EVIDENCE)
    assert checked.answer == "Shoigu visited at the end of July. [1]" or checked.answer.endswith("[1]")
    assert [c.n for c in checked.citations] == [1]
    assert "[99]" not in checked.answer


def test_a_bracket_holding_zero_is_a_value_not_a_marker():
    # Node.js: "On Windows, the return value is always `[0, 0, 0]`." The model answers with the value alone.
    sentence = "On Windows, the return value is always `[0, 0, 0]`."
    units = [Evidence(1, CHUNK, "doc.txt", 0, len(sentence), sentence, 0.8)]
    assert markers("[0, 0, 0]") == [] and markers("[0]") == []
    checked = verify(attribute("[0, 0, 0]", units), units)
    assert checked.verified_sentences == 1 and "[0, 0, 0]" in checked.answer
    assert [c.n for c in checked.citations] == [1]


def test_uncited_sentence_is_unverified():
    checked = verify("Shoigu went to Pyongyang.", EVIDENCE)
    assert checked.citations == () and checked.verified_sentences == 0


def test_quotes_must_be_verbatim():
    assert supported("Kim spoke of a “defeat of the enemy” [3].", EVIDENCE[2].text)
    assert not supported("Kim spoke of a “total victory” [3].", EVIDENCE[2].text)


def test_marker_after_the_full_stop_stays_with_its_sentence():
    checked = verify("Shoigu visited at the end of July. [1] The visit was the first since 1991. [2]", EVIDENCE)
    assert checked.verified_sentences == 2
    assert [c.n for c in checked.citations] == [1, 2]


def test_citation_carries_exact_span_and_quote():
    (citation,) = verify(compose_extractive(EVIDENCE[1:2]), EVIDENCE).citations
    assert citation.n == 1  # renumbered in answer order
    assert (citation.source, citation.start, citation.end) == ("doc.txt", 61, 140)
    assert citation.quote == EVIDENCE[1].text and citation.verified


def test_an_answer_without_markers_is_attributed_to_the_sentence_that_supports_it():
    assert attribute("the first since 1991", EVIDENCE) == "the first since 1991 [2]"  # not the unit's words
    # Words the unit holds come with the rest of their clause.
    assert attribute("General Sergei Shoigu", EVIDENCE) == "General Sergei Shoigu visited Pyongyang [1]"
    assert attribute("end of July", EVIDENCE) == "At the end of July [1]"
    # Nothing holds 2014: no marker, and verify() then finds the sentence unsupported.
    assert attribute("July 2014", EVIDENCE) == "July 2014"
    assert verify(attribute("July 2014", EVIDENCE), EVIDENCE).verified_sentences == 0
    assert attribute("Shoigu in July [3]", EVIDENCE) == "Shoigu in July [3]"  # already cites: left to verify


def test_words_are_shown_with_the_clause_they_stand_in():
    unit = Evidence(1, CHUNK, "doc.txt", 0, 120, "In the same period, Pyongyang began preparing to open new trade "
                    "offices in six regions of Russia, worth 3,500 rubles.", 0.8)
    assert in_clause("six", unit) == "Pyongyang began preparing to open new trade offices in six regions of Russia"
    assert in_clause("3,500 rubles", unit) == "worth 3,500 rubles"  # a digit group is no clause
    assert in_clause("seven regions", unit) == "seven regions"  # not the unit's words: left as written
    assert in_clause("offices six regions", unit) == "Pyongyang began preparing to open new trade offices in six regions of Russia"
    assert in_clause("trade regions", unit) == "trade regions"  # more than a word between: not the unit's
    listed = Evidence(1, CHUNK, "doc.txt", 0, 90, "The resolution was supported by Russia, China and Venezuela.", 0.8)
    assert in_clause("Russia, China, Venezuela", listed) == "The resolution was supported by Russia, China and Venezuela"
    initial = Evidence(1, CHUNK, "doc.txt", 0, 90, "N. Korea was one of five countries that voted against it.", 0.8)
    assert in_clause("five", initial) == "N. Korea was one of five countries that voted against it"
    pivot = Evidence(1, CHUNK, "doc.txt", 0, 80, "Putin proclaimed what will be popularly called Putin’s Pivot, a "
                     "turn to Asia.", 0.8)
    assert in_clause("putin's pivot", pivot) == "Putin proclaimed what will be popularly called Putin’s Pivot"
    code = Evidence(1, CHUNK, "doc.txt", 0, 60, "auth required pam_unix.so\npassword requisite pam_cracklib.so minlen=8",
                    0.8, kind="code")
    assert in_clause("minlen=8", code) == "password requisite pam_cracklib.so minlen=8"  # its line, not the block
    zh = Evidence(1, CHUNK, "doc.txt", 0, 30, "多语言：Keyman 引擎，超过 2000 种语言", 0.8)
    assert in_clause("2000 种语言", zh) == "超过 2000 种语言"
    row = Evidence(1, CHUNK, "doc.md", 0, 90, "<tr>\n  <td><kbd>Ctrl</kbd>+<kbd>K</kbd></td>\n  <td>Delete to the end of "
                   "line</td>\n</tr>", 0.8, kind="row", header="Keys | Description")
    assert in_clause("Delete to the end of line", row) == "Ctrl + K Delete to the end of line"  # its words, no tags


def test_words_only_a_definitions_term_holds_are_cited_at_the_term():
    # An option's default is stated by its term, above the definition the answer was found under: a reader
    # opening the citation must see the words, so the term is cited, and shown as it is written.
    term = "--max-stackframe=<number> [default: 2000000]"
    unit = Evidence(1, CHUNK, "doc.html", 60, 120, "You may need this option if your program has large arrays.", 0.8,
                    header=term, header_start=10, header_quote=term)
    assert in_clause("max-stackframe", unit) == "--max-stackframe"  # the dashes the model skipped
    checked = verify(attribute("max-stackframe", [unit]), [unit])
    assert checked.answer == "--max-stackframe [1]"
    cited = checked.citations[0]
    assert (cited.start, cited.end, cited.quote, cited.verified) == (10, 10 + len(term), term, True)
    own = verify(attribute("large arrays", [unit]), [unit]).citations[0]  # the definition's own words
    assert (own.start, own.quote) == (60, unit.text)
    assert verify("2000000 [1]", [replace(unit, header_quote="", header_start=-1)]).citations[0].start == 60


def test_a_clause_cut_inside_brackets_does_not_keep_the_closing_one():
    unit = Evidence(1, CHUNK, "doc.txt", 0, 99, "(Note that there is no exact equivalent; ordinarily you should use "
                    "ffi_type_schar.)", 0.8)
    assert in_clause("ffi_type_schar", unit) == "ordinarily you should use ffi_type_schar."


def test_a_unit_is_read_under_the_title_of_its_section():
    """In an API reference the sentence says "Sets the timer's start time to the current time" and only its
    section says `timeout.refresh()`: the model reads, and the check accepts, the unit under that title; the
    document's own title alone adds nothing."""
    unit = Evidence(1, CHUNK, "timers.md", 0, 60, "Sets the timer's start time to the current time.", 0.8,
                    heading="Timers › Class: Timeout › `timeout.refresh()`")
    assert unit.section == "`timeout.refresh()`"
    assert render_evidence([unit]) == "[1] (`timeout.refresh()`) Sets the timer's start time to the current time."
    assert verify("timeout.refresh() [1]", [unit]).verified_sentences
    top = Evidence(1, CHUNK, "doc.txt", 0, 20, "Shoigu visited Pyongyang.", 0.8, heading="North Korea: Russia's Ally")
    assert top.section == "" and top.readable() == "Shoigu visited Pyongyang."


def test_the_number_ordering_a_section_is_read_but_states_nothing():
    """"What is the value of ASN1_MAX_NAME_SIZE?" was answered "2.4" from a sentence in "2.4 Library Notes" and
    verified. A section's outline number (its parent's number, a dot, its own) is shown, never a fact; a number
    its parent's does not begin (a changelog's version) is what the section is about."""
    sentence = "ASN1_MAX_NAME_SIZE is the maximum number of characters allowed for an ASN.1 identifier."
    unit = Evidence(1, CHUNK, "libtasn1.pdf", 0, len(sentence), sentence, 0.8,
                    heading="Libtasn1 › 2 ASN.1 structure handling › 2.4 Library Notes")
    assert render_evidence([unit]) == f"[1] (2.4 Library Notes) {sentence}"
    assert unit.readable(outline=False) == f"(Library Notes) {sentence}"
    assert not verify("2.4 [1]", [unit]).verified_sentences
    assert attribute("2.4", [unit]) == "2.4"  # no unit supports it
    version = replace(unit, text="Added asn1_get_length_der.", end=26, heading="NEWS › Changelog › 2.4.1 (2023)")
    assert verify("2.4.1 [1]", [version]).verified_sentences


def test_a_month_opening_a_short_answer_must_be_in_the_evidence():
    # "July" from one sentence and "2014" from another do not make a date either sentence supports.
    assert not supported("July 2014", "In February 2014, a delegation traveled to Sochi.")
    assert supported("end of July", "At the end of July, Shoigu visited Pyongyang.")


def test_a_number_written_out_in_the_evidence_supports_its_digits():
    assert supported("a 10-day visit", "Ri Su Yong paid a ten-day visit to Russia.")
    assert supported("5 countries", "one of five countries that voted against")
    assert not supported("7 days", "Ri Su Yong paid a ten-day visit to Russia.")


def test_a_number_beside_chinese_characters_is_checked():
    """Chinese writes no space between a number and its words ("提到的37"): the number is still a fact to find.
    Before, "37" touching "的" was no number, and an answer made of a section number's digits verified."""
    from ragchat.citations import numbers

    assert numbers("共3个，提到的37") == ["3", "37"] and numbers("GRUB2 and x86") == []
    assert not supported("监听的端口是37", "sshd.socket 用来定义一个监听的套接字，监听端口 22")
    assert supported("监听端口22", "sshd.socket 用来定义一个监听的套接字，监听端口 22")


@pytest.mark.parametrize(
    "sentence, evidence, state",
    [
        ("It lasted 19 days.", "Relations have been close since 1991.", "not_found"),  # a number on token boundaries
        ("The letter came from Putin.", "The letter came from Rasputin.", "not_found"),  # names on word boundaries
        ("Shoigu did not visit Pyongyang.", "Shoigu visited Pyongyang.", "not_found"),  # negation added
        ("Shoigu visited Pyongyang.", "Shoigu did not visit Pyongyang.", "not_found"),  # negation lost
        ("The visit lasted 10 days.", "It was a ten-day visit.", "found"),  # a number word, parsed
        ("About 1,000 people came.", "About 1000 people came to the parade.", "found"),  # values, not strings
        ("end of July", "At the end of July, a delegation arrived.", "found"),  # the evidence's own words
        ("It was a big event.", "The parade was big and loud.", "nothing_checkable"),  # no fact to check
    ],
)
def test_support_has_three_states(sentence, evidence, state):
    from ragchat.citations import support

    assert support(sentence, evidence) == state


def test_citation_says_what_was_checked():
    checked = verify("The parade was big [1].", [EVIDENCE[0]])
    assert checked.citations[0].support in ("found", "not_found", "nothing_checkable")
    assert checked.citations[0].verified == (checked.citations[0].support == "found")


def test_a_sentence_with_nothing_checkable_must_still_speak_the_evidences_words():
    """No number, month or name to check: the sentence passes only if most of its terms are the evidence's.
    A model's own knowledge stated without names (here in Chinese, where nothing is capitalised) fails."""
    from ragchat.citations import NOT_FOUND, NOTHING, support
    from ragchat.language import get

    uefi = "当计算机打开电源时，由 UEFI 固件来访问，它存储了应用程序运行所需要的文件，包括操作系统的引导加载程序。"
    assert support("光合作用需要阳光、水和二氧化碳。", uefi, get("zh")) == NOT_FOUND
    assert support("操作系统的引导加载程序", uefi, get("zh")) in (NOTHING, "found")
    tmp = "It is recommended that files and directories located in /tmp be deleted whenever the system is booted."
    assert support("photosynthesis needs sunlight and water", tmp) == NOT_FOUND
    assert support("deleted whenever the system is booted", tmp) != NOT_FOUND
    assert support("they should be deleted at every boot", tmp) == NOTHING  # paraphrase, most terms shared


def test_a_sentence_stitched_from_two_passages_is_not_found():
    """Every name in it is in the cited unit, but it speaks of something else (the broadcast option's words)."""
    from ragchat.citations import NOT_FOUND, support

    reuse = ("reuseAddr {boolean} When true socket.bind() will reuse the address, even if another process has "
             "already bound a socket on it. type {string} The family of socket: udp4 or udp6 (UDP over IPv4 or IPv6).")
    stitched = "When reuseAddr is set to true, UDP packets may be sent to a local interface's broadcast address."
    assert support(stitched, reuse) == NOT_FOUND
    assert support("When reuseAddr is true, socket.bind() will reuse the address", reuse) != NOT_FOUND


def test_may_the_verb_is_no_month():
    """English months are capitalised: "may" in "packets may be sent" is neither a date to look for in the
    evidence nor the time a "when" question asks for; "May 2014" is both."""
    from ragchat.citations import required_facts
    from ragchat.language import get

    english = get("en")
    assert "may" not in required_facts("UDP packets may be sent to a broadcast address.")
    assert not english.has_kind("UDP packets may be sent to a broadcast address.", "time")
    assert english.has_kind("The delegation arrived in May 2014.", "time")
    assert "May" in required_facts("The delegation arrived in May.")


def test_words_in_a_script_the_evidence_never_uses_are_not_supported():
    """The bundled model once wrote "within the Source form or文档" while copying an English licence clause."""
    clause = "within the Source form or documentation, if provided along with the Derivative Works"
    assert not supported("within the Source form or文档, if provided", clause)
    assert supported("within the Source form or documentation", clause)
    assert supported("Kim Jong-un 的特使", "金正恩的特使 Kim Jong-un 访问了俄罗斯")  # both scripts are the evidence's


def test_the_unit_unchecked_words_come_from_is_the_one_holding_most_of_them():
    from ragchat.citations import source_of

    regime = Evidence(1, CHUNK, "doc.txt", 0, 90, "A friendly regime forms a protective buffer zone towards South Korea, "
                      "where the US army is.", 0.8)
    visit = EVIDENCE[0]
    said = "A friendly Pyongyang forms a protective buffer zone towards South Korea."
    question = "What does a friendly Pyongyang form towards South Korea?"
    assert source_of(said, [visit, regime], question) is regime
    # A name neither the unit nor the question holds is made up: the words were not read there.
    assert source_of(said, [visit, regime], "What does a friendly regime form?") is None
    assert source_of("A friendly General Ivanov forms a protective buffer zone.", [visit, regime], question) is None
    # Words shared by no unit, or by two alike, say nothing about where the model read its answer.
    assert source_of("Photosynthesis needs sunlight and water.", [visit, regime], question) is None
    twin = replace(regime, n=3, start=100, end=190)
    assert source_of(said, [regime, twin], question) is None
    assert source_of("", [regime], question) is None and source_of(said, [], question) is None


def test_german_number_words_and_negations_are_checked_as_in_english():
    from ragchat.citations import FOUND, NOT_FOUND, support
    from ragchat.language import get

    de = get("de")
    span = "Eine Zeitspanne, die kürzer als zehn Tage ist, wird als unangemessen angesehen."
    assert support("10 Tage", span, de) == FOUND
    assert support("12 Tage", span, de) == NOT_FOUND
    key = "Der Schlüssel muss nicht länger als 4096 Bit sein."
    assert support("Der Schlüssel muss länger als 4096 Bit sein.", key, de) == NOT_FOUND
