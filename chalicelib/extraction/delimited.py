"""How well a delimiter splits text into records: one measure for detection and for the CSV extractor.

A delimiter fits when most records split into the same number (two or more)
of fields. Its score is the share of records of that width times the width
(capped at 20), so a delimiter that makes more columns just as consistently
wins. Detection and the CSV extractor rank delimiters by this one score (a
regular fit first), so they cannot disagree about which one a file uses; detection asks more before
it calls text delimited at all (`Fit.regular`): enough records, almost all of
one width, and fields short enough to be data rather than prose with commas.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from itertools import chain

DELIMITERS = ",\t;|"
"""The delimiters tried, in the order that breaks ties."""
_WIDTH_CAP = 20
_PROSE_CELL_CHARS = 60


@dataclass(frozen=True)
class Fit:
    delimiter: str
    rows: int
    """Non-empty records read."""
    width: int
    """The most common number of fields."""
    share: float
    """Share of the records that have that many fields."""
    mean_cell: float
    """Mean characters per field."""

    @property
    def score(self) -> float:
        return self.share * min(self.width, _WIDTH_CAP) if self.width >= 2 else 0.0

    @property
    def regular(self) -> bool:
        """Delimited data, not text that happens to hold the delimiter."""
        enough = self.rows >= 3 or (self.rows == 2 and self.share == 1)
        return enough and self.score > 0 and self.share >= 0.9 and self.mean_cell <= _PROSE_CELL_CHARS


def fit(text: str, delimiter: str) -> Fit:
    """How `delimiter` splits `text` (whole lines) into records."""
    try:
        rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter, strict=False) if row]
    except csv.Error:
        rows = []
    if not rows:
        return Fit(delimiter, 0, 0, 0.0, 0.0)
    width, count = Counter(map(len, rows)).most_common(1)[0]
    cells = sum(map(len, rows))
    chars = sum(map(len, chain.from_iterable(rows)))  # counted in C: a 64 KB sample has thousands of cells
    return Fit(delimiter, len(rows), width, count / len(rows), chars / cells)


def best(text: str, delimiters: str = DELIMITERS, regular_only: bool = False) -> Fit | None:
    """The best-scoring delimiter (the earlier on a tie), or None when none scores (or none is regular)."""
    return _best(_fits(text, delimiters), regular_only)


def choose(text: str, delimiters: str = DELIMITERS) -> Fit | None:
    """The delimiter a file uses: the best regular fit (the one detection saw), else the best fit at all.

    Each delimiter's fit is worked out once for both questions.
    """
    fits = _fits(text, delimiters)
    return _best(fits, regular_only=True) or _best(fits)


def _fits(text: str, delimiters: str) -> list[Fit]:
    """The fits of the delimiters the text holds: one it lacks splits every record into one field, scoring 0."""
    return [fit(text, delimiter) for delimiter in delimiters if delimiter in text]


def _best(fits: list[Fit], regular_only: bool = False) -> Fit | None:
    found: Fit | None = None
    for candidate in fits:
        eligible = candidate.score > 0 and (candidate.regular or not regular_only)
        if eligible and (found is None or candidate.score > found.score):
            found = candidate
    return found
