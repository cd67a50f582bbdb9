"""The [n] citation convention, in one place: number evidence for prompts, compose extractive answers,
parse markers in generated text, verify that each sentence is supported by what it cites, and turn the
survivors into Citations with exact spans.

A marker [n] refers to evidence number n (1-based). Markers above len(evidence) resolve to nothing and are
removed. Brackets holding 0 are never markers: "[0, 0, 0]" or "[0]" is a value an answer may quote.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Sequence

from .language import CJK_CHARS, Language, get as get_language
from .sentences import sentence_spans
from .types import Citation, Evidence, unit_words

_N = r"[1-9]\d{0,3}"
MARKER = re.compile(rf"\[({_N})\]")
# "[1, 2]" and "[1][2]" are both read; "[1-3]" is not a form we ask for.
_GROUP = re.compile(rf"\[({_N}(?:\s*,\s*{_N})+)\]")
_LEADING_MARKERS = re.compile(rf"^(?:\s*\[{_N}\])+[.,;]?\s*")
_QUOTED = re.compile(r"[\"“]([^\"”]{3,})[\"”]")
# Capitalised words that are not sentence-initial: names, places, organisations.
_NAME = re.compile(r"(?<=[a-z0-9,;:)] )[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*")


def render_evidence(evidence: Sequence[Evidence]) -> str:
    return "\n".join(f"[{e.n}] {e.readable()}" for e in evidence)


def compose_extractive(evidence: Sequence[Evidence]) -> str:
    """The answer made of the evidence units themselves, each followed by its marker."""
    return " ".join(f"{' '.join(e.words().split())} [{e.n}]" for e in evidence)


def normalise_markers(text: str) -> str:
    return _GROUP.sub(lambda m: "".join(f"[{n.strip()}]" for n in m.group(1).split(",")), text)


def without_markers(text: str) -> str:
    return " ".join(MARKER.sub("", text).split())


def markers(text: str) -> list[int]:
    return [int(m) for m in MARKER.findall(normalise_markers(text))]


@dataclass(frozen=True)
class Verified:
    answer: str  # the text with dangling markers removed; valid markers keep their numbers
    citations: tuple[Citation, ...]
    unverified: tuple[str, ...]  # answer sentences (without markers) not supported by their evidence
    verified_sentences: int


FOUND, NOT_FOUND, NOTHING = "found", "not_found", "nothing_checkable"
_RANK = {NOT_FOUND: 0, NOTHING: 1, FOUND: 2}


def required_facts(sentence: str, language: Language | None = None) -> list[str]:
    """What a sentence claims that its evidence must also contain: numbers, dates, names."""
    language = language or get_language("en")
    facts = numbers(sentence)
    months = language.month_pattern()
    if months is not None:
        facts += [m.group(0) for m in months.finditer(sentence)]
    facts += [m.group(0) for m in _NAME.finditer(sentence)]
    return facts


def support(sentence: str, evidence_text: str, language: Language | None = None) -> str:
    """Whether the evidence backs the sentence: FOUND when the sentence is the evidence's own words or every
    number (compared as a value, on token boundaries), month, name (on word boundaries) and quotation in it
    is in the evidence with no negation added or lost; NOT_FOUND when one is missing, a negation differs, or
    fewer than WORDS_SHARED of its terms are the evidence's (it speaks of something else: a model's own
    knowledge, "photosynthesis needs sunlight and water", states no number or name to catch it by); NOTHING
    when the sentence states no such fact and speaks the evidence's words."""
    language = language or get_language("en")
    plain = without_markers(sentence).strip(" .")
    folded, haystack = _fold(plain), _fold(evidence_text)
    if folded and _holds(haystack, folded):
        return FOUND
    for quote in _QUOTED.findall(plain):
        if _fold(quote) not in haystack:
            return NOT_FOUND
    if _negation_differs(plain, evidence_text, language):
        return NOT_FOUND
    if _scripts(plain) - _scripts(evidence_text):
        return NOT_FOUND  # "…in the Source form or文档": the model slipped into a script its evidence never uses
    stated, words = _facts(plain, language)
    # Facts or not, the sentence must speak of what its evidence does: one stitched from two passages ("when
    # reuseAddr is true, UDP packets may be sent to a broadcast address") names only what one of them holds.
    if _shared_terms(plain, evidence_text, language) < WORDS_SHARED:
        return NOT_FOUND
    if not stated and not words:
        return NOTHING
    unheld_numbers, unheld_words = _unheld(stated, words, evidence_text, language)
    return NOT_FOUND if unheld_numbers or unheld_words else FOUND


def _facts(sentence: str, language: Language) -> tuple[list[str], list[str]]:
    """A sentence's numbers as written, and its other facts (months, names)."""
    stated = numbers(sentence)
    return stated, [w for w in required_facts(sentence, language) if w not in stated]


def _unheld(stated: Sequence[str], words: Sequence[str], evidence_text: str, language: Language
            ) -> tuple[list[str], list[str]]:
    """Which of the numbers (compared as values) and the other facts the evidence does not hold."""
    values = _number_values(evidence_text, language)
    haystack = _fold(evidence_text)
    return [n for n in stated if _value(n) not in values], [w for w in words if not _holds(haystack, w)]


def _holds(folded: str, words: str) -> bool:
    """Whether a folded text holds the words, on word boundaries ("Putin" is not in "Rasputin")."""
    return re.search(rf"(?<!\w){re.escape(_fold(words))}(?!\w)", folded) is not None


# Share of a sentence's terms (stemmed words without stop words; CJK characters and bigrams) that its evidence
# must hold. The local model is asked to copy its words from the evidence, so its answers share nearly all; a
# sentence from elsewhere shares few (docs/BENCHMARKS.md, "Verifying sentences with nothing checkable").
WORDS_SHARED = 0.5


def _scripts(text: str) -> set[str]:
    """The writing systems of a text's letters ("LATIN", "CJK", "CYRILLIC", …), from their Unicode names."""
    return {unicodedata.name(ch, "?").split(" ", 1)[0] for ch in set(text) if ch.isalpha()}


def _shared_terms(sentence: str, evidence_text: str, language: Language) -> float:
    said, held = language.terms([sentence, evidence_text])
    said_set = set(said)
    return len(said_set & set(held)) / len(said_set) if said_set else 1.0


def supported(sentence: str, evidence_text: str, language: Language | None = None) -> bool:
    """Nothing the sentence claims contradicts or is missing from the evidence."""
    return support(sentence, evidence_text, language) != NOT_FOUND


# A digit run is a number unless letters of a spaced script touch it ("B2", "x86"); beside a CJK character it
# is one ("提到的37", "共3个"): those scripts write no space between words.
_SPACED_WORD_CHAR = f"[^\\W{CJK_CHARS}]"
_NUMBER = re.compile(rf"(?<!{_SPACED_WORD_CHAR})(?<![.,])\d+(?:[.,]\d+)*(?=(?:st|nd|rd|th)?(?!{_SPACED_WORD_CHAR}))")


def numbers(text: str) -> list[str]:
    """The numbers of a text as written, on token boundaries ("19" is not in "1991"; "19th" holds 19)."""
    return _NUMBER.findall(text)


def _value(token: str) -> str:
    """A number as a value: "1,000" and "1000" are equal, "3.50" is 3.5; versions ("1.2.3") stay text."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", token):
        token = token.replace(",", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", token):
        number = float(token)
        return str(int(number)) if number.is_integer() else repr(number)
    return token


def _number_values(text: str, language: Language) -> set[str]:
    values = {_value(n) for n in numbers(text)}
    for word in language.words(text):
        for part in word.split("-"):  # "ten-day"
            if part in language.number_words:
                values.add(_value(str(language.number_words[part])))
    return values


def _negation_differs(sentence: str, evidence_text: str, language: Language) -> bool:
    """A negation in the sentence that the evidence lacks ("did not visit" from "visited"), or one in the
    evidence right before a word the sentence repeats without it ("visited" from "did not visit")."""
    said = language.words(sentence)
    source = language.words(evidence_text)
    said_negated = any(language.is_negation(w) for w in said)
    if said_negated and not any(language.is_negation(w) for w in source):
        return True
    if said_negated:
        return False
    stems = {w[:5] for w in said if len(w) > 3 and w not in language.stop_words}
    for i, word in enumerate(source):
        if language.is_negation(word):
            following = [w for w in source[i + 1 : i + 4] if w not in language.stop_words][:1]
            if any(w[:5] in stems for w in following):
                return True
    return False


_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})


def _fold(text: str) -> str:
    return " ".join(text.translate(_QUOTES).lower().split())


def _plain(text: str) -> str:
    """The text with straight quotes and, where that keeps every character's place, in lower case: a model
    writes "Putin's Pivot" for "Putin’s Pivot", and the reader must see the passage's own characters."""
    straight = text.translate(_QUOTES)
    lowered = straight.lower()
    return lowered if len(lowered) == len(straight) else straight


# Where a clause ends: a comma, semicolon or colon before a space (not "3,500"), a sentence's end (not an
# initial's full stop: "N. Korea", "J. Smith"), CJK marks.
_CLAUSE_END = re.compile(r"[,;:](?=\s)|(?<!\b[^\W\d_])\.(?=\s|$)|[!?](?=\s|$)|[，；：、。！？]")
WORD = re.compile(r"[^\W_]+")  # a run of letters or digits: what word-by-word comparisons compare


def _in_order(words: str, line: str) -> tuple[int, int] | None:
    """Where the line holds the words in order with at most one other word between two of them: a model
    lists "Russia, China, Venezuela" for "Russia, China and Venezuela". None when it does not."""
    wanted = WORD.findall(_plain(words))
    if len(wanted) < 2:
        return None
    tokens = list(WORD.finditer(_plain(line)))
    for first, token in enumerate(tokens):
        if token.group(0) != wanted[0]:
            continue
        at, ok = first, True
        for word in wanted[1:]:
            step = next((i for i in range(at + 1, min(at + 3, len(tokens))) if tokens[i].group(0) == word), None)
            if step is None:
                ok = False
                break
            at = step
        if ok:
            return tokens[first].start(), tokens[at].end()
    return None


def in_clause(words: str, unit: Evidence) -> str:
    """The words as the unit has them, with the rest of the clause(s) they stand in: a model copying a few
    words cuts what qualifies them ("1960s" of "In the early 1960s, relations hit rock bottom", "six" of "…
    new trade offices in six regions of Russia"). Words the unit holds only with a word more between two of
    them are shown as the unit has them (`_in_order`); words it does not hold are kept as written.
    A line of code is its own clause. Words only the unit's header holds (a definition's term) are shown as
    the header has them, with the punctuation it writes before them ("--max-stackframe")."""
    flat = _plain(" ".join(words.split()))
    lines = unit.text.split("\n") if unit.kind == "code" else [unit.words()]  # an HTML row: its words
    flat_lines = [" ".join(line.split()) for line in lines]
    for line in flat_lines:
        at = _plain(line).find(flat) if flat else -1
        if at >= 0:
            return _clause(line, at, at + len(flat))
    for line in flat_lines:
        span = _in_order(flat, line)
        if span is not None:
            return _clause(line, *span)
    if unit.header_quote and unit.kind != "row" and flat:
        header = " ".join(unit_words(unit.header_quote, unit.kind).split())
        at = _plain(header).find(flat)
        if at >= 0:
            glued = _GLUED.search(header, 0, at)
            return header[glued.start() if glued else at : at + len(flat)]
    return words


# Punctuation written onto a word's start ("--max", "$25", "`os"), after a space or at the start of a line.
_GLUED = re.compile(r"(?:^|(?<=\s))[^\w\s]+$")


def _clause(line: str, at: int, end: int) -> str:
    ends = list(_CLAUSE_END.finditer(line))
    start = max([m.end() for m in ends if m.end() <= at], default=0)
    stop = min([m.start() for m in ends if m.start() >= end], default=len(line))
    clause = line[start:stop].strip()
    # A clause cut inside brackets does not keep the closing half it got ("…whether char is signed.)").
    for opening, closing in ("()", "[]"):
        while clause.endswith(closing) and clause.count(closing) > clause.count(opening):
            clause = clause[:-1].rstrip()
    return clause


def attribute(text: str, evidence: Sequence[Evidence], language: Language | None = None) -> str:
    """Give an answer written without markers the marker of the evidence that supports it: of the units
    that pass `supported`, the one sharing most of its terms, then the one whose facts it finds (the earlier,
    better-ranked one on a tie), and the rest of the clause the words stand in there (`in_clause`).
    Text that already cites, or that no unit supports, is returned as it is (verify judges it)."""
    if not text.strip() or markers(text):
        return text
    language = language or get_language("en")
    # Terms, not words: "10 days" shares "day" with "a ten-day visit"; an answer of a value alone
    # ("[0, 0, 0]") shares no term, and the unit whose facts it finds is still its source.
    said = set(language.terms([_fold(text)])[0])
    best, rank = None, (0, False)
    for e in evidence:
        held = e.readable(outline=False)
        state = support(text, held, language)
        if state == NOT_FOUND:
            continue
        candidate = (len(said.intersection(language.terms([_fold(held)])[0])), state == FOUND)
        if candidate > rank:
            best, rank = e, candidate
    return f"{in_clause(text.strip(), best)} [{best.n}]" if best else text


def source_of(text: str, evidence: Sequence[Evidence], question: str, language: Language | None = None
              ) -> Evidence | None:
    """The unit an answer's words come from when they do not check out ("A friendly Pyongyang plays a protective
    buffer zone …", the unit naming the regime but not the city): the one holding at least WORDS_SHARED of the
    answer's terms and more of them than any other unit, and every number and name of the answer but those the
    question states. None when none does, or two do alike (the words say nothing about where the model read
    its answer), or the answer names what neither unit nor question does ("General Ivanov": made up)."""
    language = language or get_language("en")
    text = without_markers(text)
    said, *held = language.terms([_fold(text)] + [_fold(e.readable(outline=False)) for e in evidence])
    terms = set(said)
    if not terms or not evidence:
        return None
    shares = sorted(((len(terms.intersection(h)) / len(terms), i) for i, h in enumerate(held)), reverse=True)
    best, i = shares[0]
    if best < WORDS_SHARED or (len(shares) > 1 and shares[1][0] == best):
        return None
    unheld_numbers, unheld_words = _unheld(*_facts(text, language), evidence[i].readable(outline=False), language)
    values, asked = _number_values(question, language), _fold(question)
    if any(_value(n) not in values for n in unheld_numbers) or any(not _holds(asked, w) for w in unheld_words):
        return None
    return evidence[i]


def verify(text: str, evidence: Sequence[Evidence], language: Language | None = None) -> Verified:
    """Check generated text against the evidence it cites and build the citations.

    Markers are renumbered in the order they first appear in the answer, so a reader's first citation is
    [1] whichever evidence unit it is; markers that point nowhere are removed."""
    language = language or get_language("en")
    text = normalise_markers(text).strip()
    by_n = {e.n: e for e in evidence}
    renumber: dict[int, int] = {}
    states: dict[int, str] = {}
    in_header: dict[int, bool] = {}  # every sentence citing the unit says what its header says, not the unit
    parts: list[str] = []
    unverified: list[str] = []
    verified_count = 0
    for sentence in _answer_sentences(text):
        cited = [n for n in dict.fromkeys(markers(sentence)) if n in by_n]
        body = without_markers(sentence)
        if not body:
            continue
        # A marker taken out leaves "July ." behind; ".deb" or "-S" after a space is the text's own.
        body = re.sub(r"\s+([.,;:!?])(?=\s|$)", r"\1", body)
        held = " ".join(by_n[n].readable(outline=False) for n in cited)
        state = support(body, held, language) if cited else NOT_FOUND
        if state == NOT_FOUND:
            unverified.append(body)
        else:
            verified_count += 1
        for n in cited:
            renumber.setdefault(n, len(renumber) + 1)
            states[n] = max(states.get(n, NOT_FOUND), state, key=_RANK.__getitem__)
            in_header[n] = in_header.get(n, True) and state != NOT_FOUND and _said_by_header(body, by_n[n], language)
        tags = "".join(f"[{renumber[n]}]" for n in cited)
        parts.append(f"{body} {tags}" if tags else body)
    citations = tuple(_citation(by_n[n], renumber[n], states[n], in_header[n]) for n in renumber)
    return Verified(" ".join(parts), citations, tuple(unverified), verified_count)


def _said_by_header(sentence: str, unit: Evidence, language: Language) -> bool:
    """Whether the sentence's words are the unit's header's and not the unit's own ("summary" of an option
    whose term reads "--leak-check=<no|summary|yes|full> [default: summary]", cited at its definition)."""
    if not unit.header_quote:
        return False
    return support(sentence, unit.words(), language) == NOT_FOUND \
        and support(sentence, unit_words(unit.header_quote, unit.kind), language) != NOT_FOUND


def _citation(unit: Evidence, n: int, state: str, by_header: bool) -> Citation:
    """A citation of the unit; of its header, when that is where the words it backs stand: a reader opening
    the citation must see them."""
    start, end, quote = (unit.header_start, unit.header_start + len(unit.header_quote), unit.header_quote) \
        if by_header else (unit.start, unit.end, unit.text)
    return Citation(n=n, chunk_id=unit.chunk.id, source=unit.source, start=start, end=end,
                    quote=quote, score=round(unit.score, 6), verified=state == FOUND, support=state)


def join_parts(parts: Sequence[tuple[str, Verified | None]], not_found: str) -> Verified:
    """One answer for a question of several parts: each part's checked answer on its own line, or the
    `not_found` line (with {question}) for a part the documents do not answer. Markers are renumbered
    across parts in answer order, and a unit cited by two parts keeps one number."""
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    lines: list[str] = []
    unverified: list[str] = []
    verified = 0
    for question, checked in parts:
        if checked is None:
            lines.append(not_found.format(question=question.rstrip(" ?") + "?"))
            continue
        local: dict[int, int] = {}
        for c in checked.citations:
            key = (c.source, c.start, c.end)
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                citations.append(replace(c, n=numbers[key]))
            local[c.n] = numbers[key]
        lines.append(MARKER.sub(lambda m: f"[{local.get(int(m.group(1)), int(m.group(1)))}]", checked.answer))
        unverified.extend(checked.unverified)
        verified += checked.verified_sentences
    return Verified("\n".join(lines), tuple(citations), tuple(unverified), verified)


def _answer_sentences(text: str) -> list[str]:
    """Sentences of an answer, with markers that trail a sentence ("... July. [1]") kept on it."""
    out: list[str] = []
    for start, end in sentence_spans(text):
        piece = text[start:end]
        leading = _LEADING_MARKERS.match(piece)
        if out and leading:  # the splitter put "[1]" at the start of the next sentence
            out[-1] += " " + leading.group(0).strip()
            piece = piece[leading.end() :]
        if out and MARKER.sub("", piece).strip(" .,;") == "":
            out[-1] += " " + piece
        elif piece.strip():
            out.append(piece)
    return out
