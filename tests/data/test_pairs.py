import pytest

from xssab.data.pairs import PairEntry, entries_to_pairs, read_pairs, write_pairs
from xssab.errors import DatasetError


def _entries(folds=2, n=3):
    out = []
    for f in range(folds):
        out += [PairEntry(f"P{f}_{k}", 1, f"P{f}_{k}", 2 + k, True, f) for k in range(n)]
        out += [PairEntry(f"P{f}_{k}", 1, f"Q{f}_{k}", 3, False, f) for k in range(n)]
    return out


def test_round_trip_and_lfw_layout(tmp_path):
    entries = _entries()
    f = tmp_path / "pairs.txt"
    write_pairs(f, entries)
    lines = f.read_text().splitlines()
    assert lines[0] == "2\t3"
    assert lines[1] == "P0_0\t1\t2"
    assert lines[4] == "P0_0\t1\tQ0_0\t3"
    assert len(lines) == 1 + 2 * 2 * 3
    assert read_pairs(f) == entries
    pairs = entries_to_pairs(read_pairs(f))
    assert pairs[0].a == "P0_0/P0_0_0001" and pairs[0].b == "P0_0/P0_0_0002"
    assert pairs[0].same and not pairs[3].same and pairs[6].fold == 1


def test_single_number_header_and_spaces(tmp_path):
    f = tmp_path / "pairsDevTest.txt"
    f.write_text("1\nA 1 2\nA 1 B 4\n")
    e = read_pairs(f)
    assert e == [PairEntry("A", 1, "A", 2, True, 0), PairEntry("A", 1, "B", 4, False, 0)]


@pytest.mark.parametrize("text, line", [
    ("1\t1\nA\t1\nA\t1\tB\t2\n", 2),          # matched line with 2 fields
    ("1\t1\nA\t1\t2\nA\t1\tB\n", 3),          # mismatched line with 3 fields
    ("1\t1\nA\tx\t2\nA\t1\tB\t2\n", 2),       # not a number
    ("1\tq\n", 1),                             # bad header
])
def test_malformed_lines_name_file_and_line(tmp_path, text, line):
    f = tmp_path / "pairs.txt"
    f.write_text(text)
    with pytest.raises(DatasetError) as err:
        read_pairs(f)
    msg = str(err.value)
    assert str(f) in msg and f"line {line}" in msg and "\n" not in msg


def test_truncated_and_missing(tmp_path):
    f = tmp_path / "pairs.txt"
    f.write_text("10\t300\nA\t1\t2\n")
    with pytest.raises(DatasetError, match="truncated"):
        read_pairs(f)
    with pytest.raises(DatasetError, match="not found"):
        read_pairs(tmp_path / "nope.txt")


def test_write_rejects_unbalanced_folds(tmp_path):
    e = _entries()[:-1]
    with pytest.raises(ValueError):
        write_pairs(tmp_path / "p.txt", e)
