import codecs
import csv
import io
import random
from typing import Any

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import delimited
from chalicelib.extraction.extractors import tabular
from chalicelib.extraction.extractors.base import Source
from chalicelib.extraction.reader import bytes_reader


def run(data: bytes, name: str = "t.csv", mime: str = "text/csv"):
    return tabular.extract(Source(bytes_reader(data), len(data), name, mime, data[:8192]))


def test_a_csv_with_a_header_reports_columns_and_rows():
    out = run(b'id,name,score\n1,Ann,3.5\n2,Bob,4.0\n3,"Cy, Jr",2.5\n')
    assert out.fields == {
        "encoding": "us-ascii",
        "delimiter": ",",
        "has_header": True,
        "column_count": 3,
        "columns": ["id", "name", "score"],
        "row_count": 3,
    }
    assert out.details["ragged_rows"] == 0


def test_semicolon_pipe_and_tab_delimiters_are_sniffed():
    assert run(b"a;b\n1;2\n3;4\n").fields["delimiter"] == ";"
    assert run(b"a|b|c\n1|2|3\n4|5|6\n").fields["delimiter"] == "|"
    out = run(b"a\tb\n1\t2\n", name="t.tsv")
    assert out.fields["delimiter"] == "\t"
    assert out.fields["column_count"] == 2


def test_quoted_newlines_count_as_one_row():
    out = run(b'id,text\n1,"line one\nline two"\n2,plain\n')
    assert out.fields["row_count"] == 2


def test_utf16_and_utf8_bom_files_are_decoded():
    body = "nom,ville\nÉlise,Zürich\n"
    out = run(codecs.BOM_UTF16_LE + body.encode("utf-16-le"))
    assert out.fields["encoding"] == "utf-16le"
    assert out.fields["columns"] == ["nom", "ville"]
    out = run(codecs.BOM_UTF8 + body.encode())
    assert out.fields["columns"] == ["nom", "ville"]
    assert out.details["bom"] is True


def test_latin1_bytes_fall_back_to_a_single_byte_code_page():
    out = run("name,city,zip\nJosé,Córdoba,5000\nZoë,Genève,1201\n".encode("latin-1"))
    assert out.fields["encoding"] == "cp1252"
    assert out.fields["row_count"] == 2


def test_ragged_rows_are_counted():
    out = run(b"a,b,c\n1,2,3\n1,2\n1,2,3,4\n5,6,7\n")
    assert out.fields["column_count"] == 3
    assert out.details["ragged_rows"] == 2
    assert out.fields["row_count"] == 4


def test_a_field_over_the_size_limit_is_a_bad_row_not_a_crash():
    huge = b"x" * (csv.field_size_limit() + 10)
    data = b"a,b\n1,2\n3," + huge + b"\n4,5\n"
    out = run(data)
    assert out.details["bad_rows"] >= 1
    assert out.fields["column_count"] == 2


def test_an_empty_file_is_corrupt():
    with pytest.raises(ExtractionFailed):
        run(b"")


def test_sniff_and_iter_rows_are_reusable_for_ingestion():
    data = "x;y\n1;ä\n".encode()
    fmt = tabular.sniff(data, complete=True)
    assert (fmt.delimiter, fmt.encoding.name) == (";", "utf-8")
    rows = list(tabular.iter_rows(bytes_reader(data), fmt))  # type: ignore[arg-type]
    assert rows == [["x", "y"], ["1", "ä"]]


def test_iter_rows_leaves_the_file_open():
    reader = bytes_reader(b"a,b\n1,2\n")
    fmt = tabular.sniff(b"a,b\n1,2\n", complete=True)
    assert len(list(tabular.iter_rows(reader, fmt))) == 2  # type: ignore[arg-type]
    assert not reader.closed


def test_choosing_a_delimiter_splits_the_sample_once_per_delimiter_it_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    prose = "A sentence, with a comma; and more.\nAnother line of prose | here.\n" * 30  # no regular fit
    splits: list[str] = []
    real = delimited.fit

    def counted(text: str, delimiter: str) -> delimited.Fit:
        splits.append(delimiter)
        return real(text, delimiter)

    monkeypatch.setattr(delimited, "fit", counted)
    chosen = delimited.choose(prose)
    assert sorted(splits) == sorted(",;|")  # not again for any fit after the regular ones, never for the absent tab
    assert chosen == delimited.best(prose) == delimited.fit(prose, ",")


def _tally_row_by_row(data: bytes, fmt: tabular.CsvFormat) -> tuple[int, int, int, dict[int, int], list[str] | None]:
    """Rows, blank rows, rejected rows, widths and first row, asking the csv module for one row at a time."""
    reader = csv.reader(io.StringIO(data.decode(fmt.encoding.codec, "replace"), newline=""), **fmt.reader_options())
    rows = blank = bad = 0
    widths: dict[int, int] = {}
    first = None
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return rows, blank, bad, widths, first
        except csv.Error:
            bad += 1
            continue
        if row and row[0].startswith("\ufeff"):
            row[0] = row[0][1:]
        if not row or (len(row) == 1 and not row[0].strip()):
            blank += 1
            continue
        first = first if first is not None else row
        rows += 1
        widths[len(row)] = widths.get(len(row), 0) + 1


@pytest.mark.parametrize("seed", range(30))
def test_the_row_count_is_what_reading_one_row_at_a_time_gives(seed: int) -> None:
    draw = random.Random(seed)
    cells = ["a", "b,c", '"q""x"', '"multi\nline"', "", " ", "\ufeffbom", "x" * (csv.field_size_limit() + 1), "1.5"]
    lines = [",".join(draw.choice(cells) for _ in range(draw.choice([0, 1, 1, 2, 3, 5]))) for _ in range(80)]
    data = "\n".join(lines).encode()
    fmt = tabular.sniff(data, complete=True)
    tally = tabular._tally(Source(bytes_reader(data), len(data), "t.csv", "text/csv", data[:8192]), fmt)
    expected = _tally_row_by_row(data, fmt)
    assert (tally.rows, tally.blank, tally.bad, dict(tally.widths), tally.first) == expected


def _delimited_lines(seed: int) -> str:
    """Lines of fields split by one or several of the candidate delimiters, regular or not, some with spaces."""
    draw = random.Random(seed)
    separators = [",", ", ", "\t", ";", "|", ":", " "]
    main = draw.choice(separators[:5] * 3 + separators[5:])
    lines = []
    usual, regular, mixed = (
        draw.choice([1, 2, 3, 3, 4, 5]),
        draw.choice([1.0, 0.95, 0.8, 0.5]),
        draw.choice([0.0, 0.05, 0.3]),
    )
    for _ in range(draw.randrange(0, 60)):
        width = usual if draw.random() < regular else draw.randrange(1, 8)
        separator = main if draw.random() >= mixed else draw.choice(separators)
        cells = [draw.choice(["a", "bb", "1.5", "", "x;y" if draw.random() < mixed else "z"]) for _ in range(width)]
        lines.append(separator.join(cells))
    return "\n".join(lines) + draw.choice(["", "\n", "\n\n"])


@pytest.mark.parametrize("seed", range(200))
def test_the_delimiter_guess_is_the_standard_librarys(seed: int) -> None:
    sample = _delimited_lines(seed)
    standard: Any = csv.Sniffer()  # the standard library's own guess: a private method typeshed leaves out
    for delimiters in (delimited.DELIMITERS, ",;", None):
        assert tabular._Sniffer()._guess_delimiter(sample, delimiters) == standard._guess_delimiter(sample, delimiters)


@pytest.mark.parametrize("seed", range(40))
def test_a_sniffed_dialect_is_the_standard_librarys(seed: int) -> None:
    sample = _delimited_lines(seed)
    try:
        expected = csv.Sniffer().sniff(sample, delimiters=delimited.DELIMITERS)
    except csv.Error:
        with pytest.raises(csv.Error):
            tabular._Sniffer().sniff(sample, delimiters=delimited.DELIMITERS)
        return
    found = tabular._Sniffer().sniff(sample, delimiters=delimited.DELIMITERS)
    attributes = ("delimiter", "quotechar", "doublequote", "escapechar", "skipinitialspace")
    assert [getattr(found, a) for a in attributes] == [getattr(expected, a) for a in attributes]


@pytest.mark.parametrize("seed", range(60))
def test_the_quote_guess_is_the_standard_librarys(seed: int) -> None:
    draw = random.Random(seed)
    quoted = ['"a"', "'b'", '"', "'", "it's", '"c,d"', "x"]
    sample = _delimited_lines(seed).replace("z", draw.choice(quoted)).replace("bb", draw.choice(quoted))
    standard: Any = csv.Sniffer()
    for delimiters in (delimited.DELIMITERS, None):
        expected = standard._guess_quote_and_delimiter(sample, delimiters)
        assert tabular._Sniffer()._guess_quote_and_delimiter(sample, delimiters) == expected
