"""The white-space helpers give what the regular expressions they stand for give, on random text."""

from __future__ import annotations

import random
import re

import pytest

from chalicelib.extraction.renditions.markup import text_of
from chalicelib.extraction.spacing import blank_lines_cut, lines_stripped, spaces_folded

_ALPHABET = "ab \t\n\r\f\v\x0b\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u2029\u3000é日\x00"


def _random_text(seed: int) -> str:
    draw = random.Random(seed)
    runs = [draw.choice(_ALPHABET) * draw.choice([1, 1, 2, 3, 7, 40]) for _ in range(draw.randrange(0, 400))]
    return "".join(runs)


@pytest.mark.parametrize("seed", range(60))
def test_blank_lines_cut_makes_every_run_of_three_or_more_line_breaks_two(seed: int) -> None:
    text = _random_text(seed)
    assert blank_lines_cut(text) == re.sub(r"\n{3,}", "\n\n", text)


@pytest.mark.parametrize("seed", range(60))
def test_spaces_folded_makes_every_run_of_spaces_tabs_and_returns_one_space(seed: int) -> None:
    text = _random_text(seed)
    assert spaces_folded(text) == re.sub(r"[ \t\f\v\r]+", " ", text)


@pytest.mark.parametrize("seed", range(60))
def test_lines_stripped_strips_what_a_pattern_for_white_space_strips(seed: int) -> None:
    text = _random_text(seed)
    assert lines_stripped(text) == re.sub(r"[^\S\n]+$", "", text, flags=re.MULTILINE)
    assert lines_stripped(text, both_ends=True) == re.sub(r"^[^\S\n]+|[^\S\n]+$", "", text, flags=re.MULTILINE)


@pytest.mark.parametrize("seed", range(60))
def test_html_text_tidies_spaces_and_blank_lines_as_its_patterns_did(seed: int) -> None:
    draw = random.Random(seed)
    parts = [_random_text(seed * 100 + k) for k in range(draw.randrange(1, 6))]
    text = re.sub(r"[ \t\f\v\r]+", " ", "".join(parts))
    text = "\n".join(line.strip() for line in text.split("\n"))
    assert text_of(parts) == re.sub(r"\n\s*\n+", "\n\n", text).strip()
