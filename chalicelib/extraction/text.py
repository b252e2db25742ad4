"""The plain text of a document, bounded, with its language and word count.

What Apache Tika is used for: one plain-text rendering of every text-bearing
family (PDF, OOXML and ODF, RTF, EPUB, e-mail, HTML and XML, Markdown and
plain text, legacy Word and Outlook messages), for search, previews and
reading. A producer per family lives in `chalicelib.extraction.texts`; the
table below picks it from the document's family and MIME type and is data,
so that choosing imports nothing.

Every producer writes into a `Sink`, which enforces the budget: at most
`max_bytes` of UTF-8 text (1 MiB), at most `max_read_bytes` read from the
file (64 MiB: text may need more of a file than metadata, which stays within
256 KB), and a soft time budget (`seconds`) below the sandbox's hard limits,
so that a slow document yields the text found so far, marked `truncated`,
instead of nothing. The text runs in the file's sandbox session, after
extraction, from the same cached reader.

The language is detected from the text with `langdetect` (the Python port of
Google's language-detection, MIT, pure Python, 55 languages): a C or C++
detector (CLD2, CLD3, fastText) would be faster but links libstdc++, which
the Lambda python3.13 image does not provide, and py3langid needs numpy. Its
profiles load once, in the sandbox's zygote (`preload`), so workers share
them; a detection looks at the first `LANGUAGE_SAMPLE_CHARS` characters
(2-3 ms), is seeded so that it is deterministic, and is reported only when
its probability is at least `LANGUAGE_CONFIDENCE`. Words are counted as a word
processor counts them: runs of characters between white space.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from langdetect import DetectorFactory, LangDetectException  # type: ignore[import-untyped]
from langdetect.detector import Detector  # type: ignore[import-untyped]
from langdetect.detector_factory import PROFILES_DIRECTORY  # type: ignore[import-untyped]
from langdetect.lang_detect_exception import ErrorCode  # type: ignore[import-untyped]
from langdetect.utils.ngram import NGram  # type: ignore[import-untyped]

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import bounds
from chalicelib.extraction.encoding import remembered
from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.sandbox import Session
from chalicelib.extraction.spacing import blank_lines_cut, lines_stripped

MIB = 1024 * 1024
LANGUAGE_SAMPLE_CHARS = 1000
LANGUAGE_CONFIDENCE = 0.9
OUT_OF_THE_RACE = 1e-20
"""A language whose probability in a detection trial falls below this leaves that trial (see `_Detector`)."""
CONTENT_TYPE = "text/plain; charset=utf-8"

_BY_FAMILY: dict[str, str] = {
    "pdf": "pdf",
    "office": "office",
    "rtf": "rtf",
    "epub": "epub",
    "email": "email",
    "markup": "markup",
    "text": "plain",
}
_OLE_TYPES = frozenset({"application/msword", "application/vnd.ms-outlook"})


@dataclass(frozen=True)
class TextBudget:
    """How much text to produce and how much of the file producing it may read."""

    max_bytes: int = MIB
    max_read_bytes: int = 64 * MIB
    max_member_bytes: int = 64 * MIB
    """Uncompressed bytes read from one member of a ZIP package (document.xml, a chapter)."""
    max_parts: int = 10_000
    """Pages, slides, chapters, messages or MIME parts looked at."""
    seconds: float = 20.0


class Full(Exception):
    """The sink has all it may take (text, bytes read or time): stop producing."""


class Sink:
    """Text as it is produced, cut at the budget."""

    def __init__(self, reader: RangedReader, budget: TextBudget) -> None:
        self.budget = budget
        self._reader = reader
        self._read_start = reader.bytes_fetched
        self._deadline = time.monotonic() + budget.seconds
        self._parts: list[str] = []
        self._bytes = 0
        self.truncated = False

    def add(self, text: str) -> None:
        """Append text; raises `Full` once the budget is spent (the text so far, this text included, is kept)."""
        if not text:
            return
        data = text.encode("utf-8", "replace")
        room = self.budget.max_bytes - self._bytes
        if len(data) > room:
            self._parts.append(data[:room].decode("utf-8", "ignore"))
            self._bytes = self.budget.max_bytes
            self._stop()
        self._parts.append(text)
        self._bytes += len(data)
        self.check()

    def check(self) -> None:
        """Raise `Full` when the file reads or the time budget are spent."""
        if self._reader.bytes_fetched - self._read_start > self.budget.max_read_bytes:
            self._stop()
        if time.monotonic() > self._deadline:
            self._stop()

    def _stop(self) -> None:
        self.truncated = True
        raise Full

    def text(self) -> str:
        return tidy("".join(self._parts))


Producer = Callable[[RangedReader, dict[str, Any], Sink], None]


@dataclass
class Text:
    text: str
    truncated: bool
    language: str | None
    word_count: int

    @property
    def size(self) -> int:
        return len(self.text.encode("utf-8"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def module_for(family: str | None, mime_type: str | None) -> str | None:
    """The text producer's import path for a document, or None when its family bears no text."""
    if family == "ole":
        return "chalicelib.extraction.texts.ole" if mime_type in _OLE_TYPES else None
    name = _BY_FAMILY.get(family or "")
    return f"chalicelib.extraction.texts.{name}" if name else None


def extract_text(reader: RangedReader, metadata: dict[str, Any], budget: TextBudget | None = None) -> Text | None:
    """The document's text, or None when its family bears none (or it has no readable text at all)."""
    module = module_for(metadata.get("family"), metadata.get("mime_type"))
    if module is None:
        return None
    producer: Producer = importlib.import_module(module).text
    sink = Sink(reader, budget or TextBudget())
    reader.seek(0)
    with contextlib.suppress(Full), remembered(reader.parsed):  # Full: the budget is spent, the text so far is it
        producer(reader, metadata, sink)
    text = sink.text()
    if not text.strip():
        return None
    return Text(text, sink.truncated, detect_language(text), word_count(text))


def text_in_worker(reader: RangedReader, metadata: dict[str, Any], budget: dict[str, Any]) -> dict[str, Any] | None:
    """The sandbox job: `extract_text` as data."""
    found = extract_text(reader, metadata, TextBudget(**budget))
    return None if found is None else found.to_dict()


def word_count(text: str) -> int:
    return len(text.split())


def detect_language(text: str) -> str | None:
    """ISO 639-1 code (langdetect's, e.g. 'zh-cn') of the text's main language, when the detector is sure."""
    detector = _Detector(_profiles())
    detector.max_text_length = LANGUAGE_SAMPLE_CHARS
    detector.confidence = LANGUAGE_CONFIDENCE
    detector.append(text[: LANGUAGE_SAMPLE_CHARS * 2])
    try:
        found = detector.get_probabilities()
    except LangDetectException:  # no letters to go on
        return None
    best = found[0] if found else None
    return str(best.lang) if best is not None and best.prob >= LANGUAGE_CONFIDENCE else None


class _Detector(Detector):
    """langdetect's detector, its trials run five draws per pass over the languages that are still in the race.

    A trial multiplies the 55 language probabilities by each randomly drawn
    n-gram's profile and renormalises every fifth draw; upstream walks the
    list once per draw in a Python loop, which was most of a detection's CPU
    (4 ms a document, a fifth of docpipe's CPU on ordinary files). Here the
    five draws between two checks are applied in one pass, each probability
    as `p / total * (w + a) * (w + b) * ...` (the renormalisation folded
    in), the very operations in the very order upstream applies them; draws,
    trials, seed, checks and limits are upstream's.

    A language whose probability falls below `OUT_OF_THE_RACE` (1e-20) at a
    check leaves the trial: it would need twenty orders of magnitude from
    the next draws to matter, and the rest of the trial no longer multiplies
    it (most trials end with 3 to 30 of the 55 still in). What it held is
    left out of the sums, so probabilities can differ from upstream's in the
    last bits: on the corpus's 103 texts by at most 4e-15, with the same
    answer for all of them and for 300 random mixes of their words; the
    language stage takes 30% less CPU (0.27 -> 0.19 s for the 103 texts).
    tests/unit/test_text.py compares answers and probabilities with upstream.

    With `confidence` set, the trials stop once no language can reach it
    any more (each trial adds at most 1/7 to a language): the answer is then
    "no language", as the seven trials would have said, and the probabilities
    are those of the trials run. Texts that no language wins are the ones
    whose trials run longest (they do not converge), so this saves most where
    it costs most. With `append` and `cleaning_text` done by regular
    expressions instead of a Python loop per character, the corpus's 104
    texts take 15% less CPU (268 -> 227 ms, best of 5 in one run); answers and
    the seven trials' probabilities are bit for bit those of before.
    """

    text: str
    """What `append` kept of the text (upstream's `__init__` sets it)."""
    batches = 0
    """Batches of five draws the trials applied."""
    products = 0
    """Language probabilities multiplied by those batches (55 a batch while every language is in the race)."""
    trials = 0
    """Trials run (`n_trial`, 7, unless `confidence` stopped them early)."""
    confidence: float | None = None
    """Stop the trials once no language's probability can reach this."""

    def append(self, text: str) -> None:
        """Upstream's `append`: URLs and e-mail addresses out, Vietnamese normalised, runs of spaces as one, cut.

        Upstream copies the text a character at a time; a regular expression
        makes the same string (tests/unit/test_text.py compares them).
        """
        text = self.URL_RE.sub(" ", text)
        text = self.MAIL_RE.sub(" ", text)
        text = NGram.normalize_vi(text)
        self.text += _SPACES.sub(" ", text[: self.max_text_length])

    def cleaning_text(self) -> None:
        """Upstream's `cleaning_text`: Latin letters out of a text mostly in another script, counted in C.

        Upstream counts the characters from U+0300 up, every one of them: its
        test for the Latin Extended Additional block compares the block's
        number with its name, so it never excludes anything.
        """
        latin = len(_LATIN.findall(self.text))
        if latin * 2 < len(_NON_LATIN.findall(self.text)):
            self.text = _LATIN.sub("", self.text)

    def _extract_ngrams(self) -> list[str]:
        """Upstream's n-grams of the text, in its order; the characters normalised by one `str.translate`.

        Upstream calls `NGram.add_char` per character, which normalises it
        through a Unicode block search (two fifths of a detection). The table
        `_normal_forms` holds `NGram.normalize` of every BMP character it
        changes (the blocks it handles are all in the BMP), and the loop below is
        `add_char` and upstream's 1..3-gram look-up written out: the same
        n-grams in the same order (tests/unit/test_text.py compares them).
        """
        known = self.word_lang_prob_map
        result: list[str] = []
        grams, capital = " ", False
        for ch in self.text.translate(_normal_forms()):
            last = grams[-1]
            if last == " ":
                grams, capital = " ", False
                if ch == " ":
                    continue
            elif len(grams) >= 3:
                grams = grams[1:]
            grams += ch
            if ch.isupper():
                if last.isupper():
                    capital = True
            else:
                capital = False
            if capital:
                continue
            if ch != " " and ch in known:
                result.append(ch)
            if len(grams) >= 2:
                if grams[-2:] in known:
                    result.append(grams[-2:])
                if len(grams) == 3 and grams in known:
                    result.append(grams)
        return result

    def _detect_block(self) -> None:
        self.cleaning_text()
        ngrams = self._extract_ngrams()
        if not ngrams:
            raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
        self.langprob = [0.0] * len(self.langlist)
        self.random.seed(self.seed)
        draw = _Draw(self.random, list(map(self.word_lang_prob_map.__getitem__, ngrams)))
        for trial in range(self.n_trial):
            alpha = self.alpha + self.random.gauss(0.0, 1.0) * self.ALPHA_WIDTH
            w = alpha / self.BASE_FREQ
            prob = [p * (w + q) for p, q in zip(self._init_probability(), draw(), strict=True)]
            racing: list[int] | range = range(len(prob))  # the languages still in this trial, by index
            done = 0  # draws after the first; upstream checks after draw 0, 5, 10, ...
            while True:
                total = sum(prob)  # upstream's `_normalize_prob`, its division folded into the next pass
                if max(prob) / total > self.CONV_THRESHOLD or done >= self.ITERATION_LIMIT:
                    break
                if min(prob) / total < OUT_OF_THE_RACE:
                    kept = [k for k, p in enumerate(prob) if p / total >= OUT_OF_THE_RACE]
                    racing, prob = [racing[k] for k in kept], [prob[k] for k in kept]
                a, b, c, d, e = draw.five()
                prob = [
                    p / total * (w + a[i]) * (w + b[i]) * (w + c[i]) * (w + d[i]) * (w + e[i])
                    for p, i in zip(prob, racing, strict=True)
                ]
                self.batches += 1
                self.products += len(prob)
                done += 5
            for i, p in zip(racing, prob, strict=True):
                self.langprob[i] += p / total / self.n_trial
            self.trials = trial + 1
            if self._nobody_can_win(self.n_trial - self.trials):
                return

    def _nobody_can_win(self, trials_left: int) -> bool:
        """No language can reach `confidence` even if it took every trial left (a trial adds at most 1/7)."""
        if self.confidence is None or not trials_left:
            return False
        return max(self.langprob) + (trials_left + 1e-9) / self.n_trial < self.confidence


_SPACES = re.compile(" {2,}")
_LATIN = re.compile("[A-z]")
"""Upstream's 'A' <= ch <= 'z': the letters and [ \\ ] ^ _ `."""
_NON_LATIN = re.compile("[\u0300-\U0010ffff]")


class _Draw:
    """`random.choice(rows)` as CPython's `Random.choice` draws it, with the public `getrandbits` only.

    `choice` takes `getrandbits(k)` for the bit length k of the count and
    draws again while the number is out of range (`_randbelow_with_getrandbits`);
    called as a bound method on a prepared list it skips two Python frames and
    a dict look-up per draw. tests/unit/test_text.py checks it against
    upstream's detector bit for bit, so a Python that drew otherwise fails there.
    """

    def __init__(self, random: Any, rows: list[Any]) -> None:
        self._bits = random.getrandbits
        self._rows = rows
        self._count = len(rows)
        self._k = self._count.bit_length()

    def __call__(self) -> Any:
        index = self._bits(self._k)
        while index >= self._count:
            index = self._bits(self._k)
        return self._rows[index]

    def five(self) -> list[Any]:
        """Five draws in one call, as five calls make them (a batch's draws: one Python call instead of five)."""
        bits, k, count, rows = self._bits, self._k, self._count, self._rows
        drawn = []
        for _ in range(5):
            index = bits(k)
            while index >= count:
                index = bits(k)
            drawn.append(rows[index])
        return drawn


def preload() -> None:
    """Load the language profiles (about a second): the zygote does it once for every worker."""
    _profiles()
    _normal_forms()


@functools.cache
def _normal_forms() -> dict[int, str]:
    """`str.translate` table: every BMP character langdetect's `NGram.normalize` changes, to what it makes of it."""
    table: dict[int, str] = {}
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # surrogates: never in a str that reached here
        normal = NGram.normalize(chr(code))
        if normal != chr(code):
            table[code] = normal
    return table


@functools.cache
def _profiles() -> Any:
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.seed = 0  # the detector samples at random: a fixed seed gives the same answer every time
    return factory


def tidy(text: str) -> str:
    """Text without control characters (tabs and newlines kept), lone surrogates, trailing white space on a line
    or runs of blank lines.

    Each step is one pass in C over the whole text, and none runs a regular
    expression, whose engine tries a match at every character (the corpus's
    104 texts and as many with noisy line ends, 2.7 M characters: 86 -> 20 ms):
    the control characters are ASCII, and in UTF-8 a byte below 0x80 is
    always that ASCII character, so they are deleted from the encoded bytes
    (the encoding that replaces lone surrogates) with `bytes.translate`;
    the rest is `spacing`'s (`str.rstrip` strips what `str.isspace` calls
    white space, as the pattern `[^\\S\\n]+$` did).
    """
    data = text.encode("utf-8", "replace").translate(None, _CONTROL_BYTES)
    cleaned = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").decode("utf-8")
    return blank_lines_cut(lines_stripped(cleaned)).strip("\n")


_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
"""C0 controls but tab, line feed and carriage return, and DEL."""


def read_text(
    reader: RangedReader,
    metadata: dict[str, Any],
    limits: bounds.Limits | None = None,
    sandbox: bool | None = None,
    session: Session | None = None,
    budget: TextBudget | None = None,
) -> tuple[Text | None, list[str]]:
    """The text, bounded (in the file's sandbox `session` unless the sandbox is off); a failure is a warning."""
    if module_for(metadata.get("family"), metadata.get("mime_type")) is None:
        return None, []
    budget = budget or TextBudget()
    try:
        if not (bounds.sandbox_enabled() if sandbox is None else sandbox):
            return extract_text(reader, metadata, budget), []
        if session is None:
            with Session(reader) as own:
                return read_text(reader, metadata, limits, True, own, budget)
        found = session.call(text_in_worker, metadata, asdict(budget), limits=limits or bounds.Limits.from_env())
        return (None if found is None else Text(**found)), []
    except ExtractionFailed as exc:
        reason = f"{exc.code}: {exc.message}"
    except Exception as exc:  # a parser's own error on hostile bytes: the document keeps its metadata
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
    return None, [f"text: left out ({reason})"]


def put_object_args(found: Text) -> dict[str, Any]:
    """Keyword arguments for S3 `put_object` besides Bucket and Key (S3 metadata is ASCII: codes only)."""
    meta = {"word-count": str(found.word_count), "truncated": "true" if found.truncated else "false"}
    if found.language:
        meta["language"] = found.language
    return {
        "Body": found.text.encode("utf-8"),
        "ContentType": CONTENT_TYPE,
        "CacheControl": "private, max-age=300",
        "ContentDisposition": "inline",
        "Metadata": meta,
    }
