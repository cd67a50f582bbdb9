"""Everything that depends on the language of a text, behind one object.

Scoring, keyword search and verification ask a Language for words, keyword terms, sentence boundaries,
number words, month names and negations; no other module holds a word list. A language is chosen per
document (`detect`) and per corpus (the language of most of its text), so a Chinese file among English ones
is split and checked as Chinese while the keyword index speaks the corpus's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping, Sequence

# Han, Hiragana/Katakana and Hangul: scripts written without spaces between words.
CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK = re.compile(f"[{CJK_CHARS}]")
_LATIN_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")


# A piece of text a copied answer may start or end on: a CJK character, or a run of anything but spaces and CJK.
_PIECE = re.compile(f"[{CJK_CHARS}]|[^\\s{CJK_CHARS}]+")


def pieces(text: str) -> list[tuple[str, str]]:
    """The text as (separator, piece) pairs, the separator being what stands before the piece ("" or one space):
    where an answer copied from it may start and end, in any script. Whitespace runs count as one space."""
    flat = " ".join(text.split())
    out, end = [], 0
    for m in _PIECE.finditer(flat):
        out.append((flat[end:m.start()], m.group(0)))
        end = m.end()
    return out


@dataclass(frozen=True)
class Language:
    code: str
    stemmer: str | None = None  # a PyStemmer algorithm
    stop_words: frozenset[str] = frozenset()
    number_words: Mapping[str, float] = field(default_factory=dict)
    months: tuple[str, ...] = ()
    negations: frozenset[str] = frozenset()
    spaced: bool = True  # False: words are not separated by spaces (keyword terms are character bigrams)
    # Questions that ask for a time or a number (then the answer must hold one), and what counts as one.
    time_question: re.Pattern | None = None
    number_question: re.Pattern | None = None
    # Questions whose head asks for a way or a yes/no, whatever follows ("How do I get how many seconds…?",
    # "Should I size the pool from the number of CPUs?"): they ask for no time or number.
    open_question: re.Pattern | None = None
    # Questions that ask whether something is so ("Is there …?", "…吗？"): answered by the sentence that settles
    # them, not by a few words of it.
    whether_question: re.Pattern | None = None
    temporal: re.Pattern = re.compile(r"\b(?:1[5-9]\d\d|20\d\d)s?\b")
    numeric: re.Pattern = re.compile(r"\d")
    # Questions about everyday things no document collection is about, to measure how close off-topic
    # questions come to a corpus (store.Calibration). Languages without their own use English ones. None
    # of them is a question of the dev suite (tests/test_evidence.py checks), so the floor is not fitted to
    # the questions it is scored on.
    probes: tuple[str, ...] = ()
    # Words that make the date after them a bound of a span ("since 1991"), not the time something happened;
    # such a date answers only a question that itself asks for a bound ("since when?").
    bounds: frozenset[str] = frozenset()
    # Where one question ends and the next begins inside a sentence ("…, and when …").
    part_break: re.Pattern | None = None

    def words(self, text: str) -> list[str]:
        """Lower-cased words; for unspaced scripts each character of a run is a word."""
        out: list[str] = []
        for m in _LATIN_WORD.finditer(text.lower()):
            token = m.group(0)
            if _CJK.search(token):
                out.extend(ch for ch in token if not ch.isspace())
            else:
                out.append(token)
        return out

    def terms(self, texts: Sequence[str]) -> list[list[str]]:
        """Keyword terms of each text: words without stop words, stemmed; CJK runs as characters and bigrams."""
        stem = _stemmer(self.stemmer) if self.stemmer else None
        out = []
        for text in texts:
            terms: list[str] = []
            lowered = text.lower()
            for m in _LATIN_WORD.finditer(_CJK_RUN.sub(" ", lowered)):
                word = m.group(0).replace("’", "'")
                if word not in self.stop_words:
                    terms.append(word)
            if stem is not None and terms:
                terms = stem.stemWords(terms)
            for run in _CJK_RUN.findall(lowered):
                terms.extend(ch for ch in run if ch not in self.stop_words)
                terms.extend(run[i : i + 2] for i in range(len(run) - 1))
            out.append(terms)
        return out

    def month_pattern(self) -> re.Pattern | None:
        # As written: English capitalises its months, and "may" is mostly a verb ("UDP packets may be sent").
        return _alternation(self.months, ignore_case=False) if self.months else None

    def question_kind(self, question: str) -> str | None:
        """"time" or "number" when the question asks for one, else None."""
        if self.open_question is not None and self.open_question.search(question):
            return None
        if self.time_question is not None and self.time_question.search(question):
            return "time"
        if self.number_question is not None and self.number_question.search(question):
            return "number"
        return None

    def asks_whether(self, question: str) -> bool:
        """Whether the question (its last sentence: "I prefer IPv4 in my main script. Will workers see it?")
        asks whether something is so."""
        asked = re.split(r"(?<=[.!?。！？])\s+", question.strip())[-1]
        return self.whether_question is not None and bool(self.whether_question.search(asked))

    def has_kind(self, text: str, kind: str | None, question: str = "") -> bool:
        if kind == "time":
            asks_bound = any(w in self.bounds for w in self.words(question))
            for m in self.temporal.finditer(text):
                before = self.words(text[max(0, m.start() - 12) : m.start()])
                if asks_bound or not before or before[-1] not in self.bounds:
                    return True
            return False
        if kind == "number":
            return bool(self.numeric.search(text))
        return True

    def question_parts(self, question: str) -> list[str]:
        """The questions a question asks: "What is X, and when did Y?" is two. One part when unsure."""
        if self.part_break is None:
            return [question]
        parts: list[str] = []
        for sentence in re.split(r"(?<=\?)\s+", question.strip()):
            parts.extend(p.strip(" ,;") for p in self.part_break.split(sentence))
        parts = [p for p in parts if len(p.split()) >= 3]
        return parts if len(parts) > 1 else [question]

    def is_negation(self, word: str) -> bool:
        return word in self.negations or (self.code == "en" and word.endswith("n't"))


@lru_cache(maxsize=None)
def _stemmer(name: str):
    import Stemmer

    return Stemmer.Stemmer(name)


@lru_cache(maxsize=None)
def _alternation(words: tuple[str, ...], ignore_case: bool = True) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE if ignore_case else 0)


def _stop_words(name: str) -> frozenset[str]:
    import bm25s.stopwords as lists

    return frozenset(w.lower() for w in getattr(lists, name))


_EN_NUMBERS = {
    w: float(n)
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": 30.0, "forty": 40.0, "fifty": 50.0, "sixty": 60.0, "seventy": 70.0, "eighty": 80.0, "ninety": 90.0,
     "hundred": 100.0, "thousand": 1e3, "million": 1e6, "billion": 1e9, "dozen": 12.0, "twice": 2.0, "once": 1.0}


# A question that opens with one of these asks whether ("Is …?", "Should I …?").
_EN_AUXILIARY = r"(?:am|is|are|was|were|do|does|did|can|could|should|would|will|has|have|had|may|must|shall)"

_EN_PROBES = (
    "How do I get red wine out of a carpet?", "What is a good name for a puppy?",
    "Which tennis player has won the most Wimbledon titles?",
    "How do I make a paper airplane fly farther?", "How many moons does Jupiter have?",
    "What are the symptoms of the flu?", "How do I tune a guitar?", "What is the best way to learn to swim?",
    "Which vitamins are in oranges?", "How tall is Mount Everest?", "How do I repot an orchid?",
    "How do solar panels generate electricity?", "Who composed the Four Seasons?",
    "What time does the museum open on Sundays?", "How do I change a flat tyre on a bicycle?",
    "What is the population of Brazil?", "How long should I boil an egg?", "What causes thunderstorms?",
    "When is the best time to see the northern lights?", "How do I care for a cactus?", "What is the plot of Hamlet?",
    "How much does a train ticket to Paris cost?", "What are the rules of castling in chess?",
    "Why is the sky blue?", "How do bees make honey?", "What is the fastest land animal?",
    "When was the printing press invented?", "How do I write a cover letter?",
    "What is the exchange rate of the euro to the yen?", "What should I pack for a beach holiday?",
)
# The same questions in Chinese: with an embedder that reads Chinese, a Chinese corpus's floor is measured with
# Chinese questions (English ones sit lower across languages and would set the floor too low).
_ZH_PROBES = (
    "怎样把红酒渍从地毯上去掉？", "小狗取什么名字好？", "哪位网球运动员赢得温布尔登冠军最多？",
    "怎样让纸飞机飞得更远？", "木星有多少颗卫星？", "流感有哪些症状？", "怎样给吉他调音？", "学游泳最好的方法是什么？",
    "橙子里有哪些维生素？", "珠穆朗玛峰有多高？", "怎样给兰花换盆？", "太阳能电池板怎样发电？", "《四季》是谁作曲的？",
    "博物馆星期天几点开门？", "怎样给自行车换爆了的轮胎？", "巴西有多少人口？", "鸡蛋要煮多久？", "雷暴是怎么形成的？",
    "什么时候看北极光最好？", "怎样养仙人掌？", "《哈姆雷特》讲的是什么故事？", "去巴黎的火车票多少钱？",
    "国际象棋里王车易位的规则是什么？", "天空为什么是蓝色的？", "蜜蜂怎样酿蜜？", "跑得最快的陆地动物是什么？",
    "印刷术是什么时候发明的？", "求职信怎么写？", "欧元兑日元的汇率是多少？", "去海边度假应该带些什么？",
)


@lru_cache(maxsize=None)
def get(code: str) -> Language:
    """The Language for an ISO 639-1 code; unknown codes get a neutral language (no stemming, no stop words)."""
    if code == "en":
        return Language(
            "en",
            stemmer="english",
            stop_words=_stop_words("STOPWORDS_EN"),
            number_words=_EN_NUMBERS,
            months=("January", "February", "March", "April", "May", "June", "July", "August", "September",
                    "October", "November", "December"),
            negations=frozenset({"not", "no", "never", "none", "nor", "neither", "without", "cannot", "nothing"}),
            probes=_EN_PROBES,
            bounds=frozenset({"since", "until", "till"}),
            # "…, and when did …" is a second question; "…, and is it free?" too, but "a constant that performs
            # lazy binding and is set by default" is one: after "and", a verb starts a new question only
            # behind a comma.
            part_break=re.compile(
                r",?\s+(?:and|also)\s+(?=(?:what|when|who|whom|whose|where|which|why|how)\b)"
                r"|,\s+(?:and|also)\s+(?=(?:is|are|was|were|did|does|do|can)\b)",
                re.IGNORECASE),
            # "When did …?" asks for a time; "When fixing a library …, what …?" sets a scene and asks
            # something else: a question's "when" is followed by the verb it inverts.
            time_question=re.compile(
                rf"^\s*(?:when\s+(?:\w+ly\s+)?{_EN_AUXILIARY}|since when|until when|in what year|what year|which year"
                r"|on what date|what date)\b"
                r"|\b(?:what year|which year|what date|since when|until when)\b", re.IGNORECASE),
            open_question=re.compile(
                rf"^\s*(?:how (?:do|does|did|can|could|should|would|to|is|are|was|were)\b|{_EN_AUXILIARY}\b)",
                re.IGNORECASE),
            # Perhaps after a phrase that sets the scene: "Under the MPL 2.0, can I …?"
            whether_question=re.compile(rf"^\s*(?:[^,?]*,\s*)?{_EN_AUXILIARY}\b", re.IGNORECASE),
            number_question=re.compile(
                r"\bhow (?:many|much|long|large|big|far|old|high|deep|often)\b"
                r"|\b(?:population|percentage|number of|cost|price)\b", re.IGNORECASE),
            temporal=re.compile(
                r"\b(?:1[5-9]\d\d|20\d\d)s?\b|\b(?-i:January|February|March|April|May|June|July|August|September"
                r"|October|November|December)\b|\b\d{1,2}(?:st|nd|rd|th)? century\b|\bdecades?\b"
                r"|\b(?:yesterday|today)\b", re.IGNORECASE),
            numeric=re.compile(
                r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
                r"|hundreds?|thousands?|millions?|billions?|dozens?|half|double|twice)\b", re.IGNORECASE),
        )
    if code in ("zh", "ja", "ko"):
        lists = {"zh": "STOPWORDS_CHINESE", "ko": "STOPWORDS_KOREAN"}
        return Language(
            code,
            stop_words=_stop_words(lists[code]) if code in lists else frozenset(),
            negations=frozenset({"不", "没", "没有", "未", "无", "非", "别"}) if code == "zh" else frozenset(),
            spaced=False,
            probes=_ZH_PROBES if code == "zh" else (),
            # "…吗？" and "是否 / 是不是 / 有没有 / 能不能 …" ask whether.
            whether_question=re.compile(r"[吗嗎][？?]?\s*$|是否|是不是|有没有|能不能|可不可以|会不会")
            if code == "zh" else None,
        )
    if code in _EUROPEAN:
        stemmer, stops, negations = _EUROPEAN[code]
        forms = _FORMS[code]() if code in _FORMS else {}
        return Language(code, stemmer=stemmer, stop_words=_stop_words(stops), negations=frozenset(negations), **forms)
    return Language(code)


_DE_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
              "November", "Dezember")
# Not "ein"/"eine": the article, in nearly every sentence.
_DE_NUMBERS = {
    w: float(n)
    for n, w in enumerate(
        "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn fünfzehn sechzehn "
        "siebzehn achtzehn neunzehn zwanzig".split()
    )
} | {"dreißig": 30.0, "vierzig": 40.0, "fünfzig": 50.0, "sechzig": 60.0, "siebzig": 70.0, "achtzig": 80.0,
     "neunzig": 90.0, "hundert": 100.0, "tausend": 1e3, "million": 1e6, "millionen": 1e6, "milliarde": 1e9,
     "milliarden": 1e9, "dutzend": 12.0, "zweimal": 2.0, "einmal": 1.0}
# The finite verbs a German yes/no question opens with.
_DE_VERB_FIRST = (
    r"(?:ist|sind|war|waren|bin|bist|seid|hat|haben|hatte|hatten|kann|können|könnte|könnten|darf|dürfen|dürfte"
    r"|muss|müssen|musste|soll|sollen|sollte|sollten|wird|werden|wurde|wurden|würde|würden|gibt|gab|braucht"
    r"|brauche|brauchen|will|wollen|mag|möchte|genügt|reicht|gilt|bleibt|lässt|akzeptiert|erlaubt)"
)


_EUROPEAN = {
    "de": ("german", "STOPWORDS_GERMAN", ("nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie",
                                          "niemals", "ohne", "nichts", "weder")),
    "fr": ("french", "STOPWORDS_FRENCH", ("ne", "pas", "jamais", "aucun", "aucune", "sans", "ni")),
    "es": ("spanish", "STOPWORDS_SPANISH", ("no", "nunca", "jamás", "ningún", "ninguna", "sin", "ni")),
    "it": ("italian", "STOPWORDS_ITALIAN", ("non", "mai", "nessun", "nessuna", "senza", "né")),
    "pt": ("portuguese", "STOPWORDS_PORTUGUESE", ("não", "nunca", "nenhum", "nenhuma", "sem", "nem")),
    "nl": ("dutch", "STOPWORDS_DUTCH", ("niet", "geen", "nooit", "zonder")),
    "ru": ("russian", "STOPWORDS_RUSSIAN", ("не", "нет", "никогда", "без", "ни")),
}


def _german_forms() -> dict:
    """What German questions ask for and how German says numbers and times (its stemmer, stop words and
    negations are in _EUROPEAN)."""
    return dict(
        number_words=_DE_NUMBERS,
        months=_DE_MONTHS,
        bounds=frozenset({"seit", "bis"}),
        # "…, und wann …" is a second question; so is "…, und ist es …?" behind a comma.
        part_break=re.compile(
            r",?\s+(?:und|sowie)\s+(?=(?:was|wann|wer|wen|wem|wessen|wo|woher|wohin|welche[rsmn]?|warum"
            r"|weshalb|wieso|wie)\b)|,\s+und\s+(?=(?:ist|sind|war|wurde|wird|kann|muss|darf|gibt)\b)",
            re.IGNORECASE),
        # German asks for a time with "wann" and sets a scene with "wenn", so no verb test is needed.
        time_question=re.compile(
            r"^\s*(?:seit |bis )?wann\b|\b(?:seit wann|bis wann|in welchem jahr|welches jahr|in welchem monat"
            r"|an welchem (?:tag|datum))\b", re.IGNORECASE),
        # "Wie kann ich …?" asks for a way and "Muss ich …?" whether, whatever follows.
        open_question=re.compile(
            rf"^\s*(?:wie (?:kann|könnte|können|muss|müssen|soll|sollte|sollen|darf|dürfen|mache|macht|machen)\b"
            rf"|{_DE_VERB_FIRST}\b)", re.IGNORECASE),
        # A German yes/no question opens with its verb ("Muss ich …?", "Gibt es …?"), perhaps after a
        # phrase that sets the scene ("Als Betreuer, darf ich …?").
        whether_question=re.compile(rf"^\s*(?:[^,?]*,\s*)?{_DE_VERB_FIRST}\b", re.IGNORECASE),
        number_question=re.compile(
            r"\bwie (?:viele?|viel|lange|groß|gross|hoch|weit|alt|oft|tief|schwer|breit)\b"
            r"|\b(?:anzahl|prozentsatz|kostet|preis)\b", re.IGNORECASE),
        temporal=re.compile(
            r"\b(?:1[5-9]\d\d|20\d\d)(?:er)?\b|\b(?-i:" + "|".join(_DE_MONTHS) + r")\b"
            r"|\b\d{1,2}\. jahrhundert\b|\bjahrzehnt\w*|\b(?:gestern|heute)\b", re.IGNORECASE),
        numeric=re.compile(
            r"\d|\b(?:eins|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|dreißig|vierzig"
            r"|fünfzig|hundert\w*|tausend\w*|million\w*|milliarde\w*|dutzend\w*|hälfte|halbe[nrs]?|doppelt\w*)\b",
            re.IGNORECASE),
    )


# The question forms of the European languages that have them (the others take the general path).
_FORMS = {"de": _german_forms}


def detect(text: str, sample: int = 20_000) -> Language:
    """The language of a text, from its script and, for Latin script, from which stop words it uses most."""
    head = text[:sample]
    letters = sum(ch.isalpha() for ch in head) or 1
    cjk = len(_CJK.findall(head))
    if cjk / letters > 0.2:
        if re.search(r"[\u3040-\u30ff]", head):
            return get("ja")
        if re.search(r"[\uac00-\ud7af]", head) and not re.search(r"[\u4e00-\u9fff]", head):
            return get("ko")
        return get("zh")
    words = [w.lower() for w in _LATIN_WORD.findall(head)]
    if not words:
        return get("en")
    best, best_share = "en", 0.0
    for code in ("en", *_EUROPEAN):
        stops = get(code).stop_words
        share = sum(w in stops for w in words) / len(words)
        if share > best_share:
            best, best_share = code, share
    return get(best)


def majority(languages: Sequence[tuple[str, int]]) -> Language:
    """The language of most of the text, given (code, characters) per document; English for none."""
    totals: dict[str, int] = {}
    for code, size in languages:
        totals[code] = totals.get(code, 0) + size
    return get(max(totals, key=totals.__getitem__)) if totals else get("en")
