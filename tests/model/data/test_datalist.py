import pytest

from model.data.datalist import ListError, Sample, read_list, write_list


def test_reads_asymmetric_lines_relative_to_the_root(tmp_path):
    (tmp_path / "train.txt").write_text(
        "# rgb mask depth\n"
        "a.png\tam.png\tad.png\n"
        "b.png\tbm.png\n"
        "\n"
        "c.png\t-\tcd.png\n"
        "d.png\t\tdd.png\tdn.png\n")
    samples = read_list(tmp_path / "train.txt")
    assert samples == [
        Sample(tmp_path / "a.png", tmp_path / "am.png", tmp_path / "ad.png", None, 2),
        Sample(tmp_path / "b.png", tmp_path / "bm.png", None, None, 3),
        Sample(tmp_path / "c.png", None, tmp_path / "cd.png", None, 5),
        Sample(tmp_path / "d.png", None, tmp_path / "dd.png", tmp_path / "dn.png", 6),
    ]
    assert samples[1].has("segm") and not samples[1].has("depth")
    root = tmp_path / "data"
    assert read_list(tmp_path / "train.txt", root)[0].rgb == root / "a.png"


def test_round_trips_through_write_list(tmp_path):
    samples = [Sample(tmp_path / "x" / "a.png", None, tmp_path / "d.png", line=1),
               Sample(tmp_path / "b.png", tmp_path / "m.png", line=2)]
    write_list(samples, tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_text() == "x/a.png\t-\td.png\nb.png\tm.png\n"
    assert [(s.rgb, s.mask, s.depth) for s in read_list(tmp_path / "out.txt")] == [
        (s.rgb, s.mask, s.depth) for s in samples]


def test_bad_lists_name_the_file_and_line(tmp_path):
    (tmp_path / "bad.txt").write_text("a.png\tb.png\n\tm.png\n")
    with pytest.raises(ListError, match=r"bad.txt:2: expected"):
        read_list(tmp_path / "bad.txt")
    with pytest.raises(ListError, match="cannot read the list"):
        read_list(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(ListError, match="no samples"):
        read_list(tmp_path / "empty.txt")
