"""RTF text: skipped groups passed from brace to brace give what the token loop gives token by token."""

from __future__ import annotations

import random

import pytest

from chalicelib.extraction.extractors.rtf import TOKEN
from chalicelib.extraction.reader import bytes_reader
from chalicelib.extraction.text import Sink, TextBudget
from chalicelib.extraction.texts import rtf

_PIECES = (
    b"{", b"}", b"{\\fonttbl", b"{\\*\\generator x", b"{\\pict ", b"\\{", b"\\}", b"\\\\", b"\\'7b", b"\\'e9",
    b"\\'", b"\\par ", b"\\tab", b"\\u8364?", b"\\uc2 ", b"\\bin4 {}{}", b"text ", b"caf", b"\r\n", b"\\",
    b"\\abcdefghijklmnopqrstuvwxyzabcdefghijk{", b"0123456789abcdef" * 4, b"\\cell ", b"{\\fldinst HYPERLINK}",
)  # fmt: skip


def _token_by_token(data: bytes, pos: int, skipping: list[bool]) -> tuple[int, bool, bool]:
    for match in TOKEN.finditer(data, pos):
        if match.group(5) == b"{":
            if len(skipping) >= rtf.MAX_DEPTH:
                return match.end(), True, True
            skipping.append(True)
        elif match.group(5) == b"}" and not (skipping.pop() if skipping else False):
            return match.end(), False, False
    return len(data), True, False


def _text(data: bytes) -> tuple[str, bool]:
    sink = Sink(bytes_reader(data), TextBudget())
    rtf.text(bytes_reader(data), {}, sink)
    return sink.text(), sink.truncated


@pytest.mark.parametrize("seed", range(120))
def test_skipped_groups_give_the_text_the_token_loop_gives(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    draw = random.Random(seed)
    depth = draw.choice([0, 0, 250])  # near the depth cap now and then
    data = b"{\\rtf1\\ansi " + b"{" * depth + b"".join(draw.choice(_PIECES) for _ in range(draw.randrange(0, 300)))
    found = _text(data)
    monkeypatch.setattr(rtf, "_past_skipped", _token_by_token)
    assert found == _text(data)


def test_a_large_skipped_group_is_passed_without_a_python_step_per_token(monkeypatch: pytest.MonkeyPatch) -> None:
    picture = b"{\\pict " + b"\\'00 0a1b2c " * 50_000 + b"}"
    data = b"{\\rtf1\\ansi before " + picture + b" after}"
    steps: list[int] = []
    real = TOKEN.search
    monkeypatch.setattr(rtf, "TOKEN", _Counted(real, steps))
    assert _text(data)[0] == "before  after"
    assert len(steps) < 20  # one search per token outside the picture, not one per token inside it


class _Counted:
    def __init__(self, search: object, steps: list[int]) -> None:
        self._search, self._steps = search, steps

    def search(self, data: bytes, pos: int = 0) -> object:
        self._steps.append(pos)
        return self._search(data, pos)  # type: ignore[operator]
