"""Evaluation flags are checked before anything loads: each bad one on its own line, exit code 2."""
import pytest

from model.evaluation.evaluate import main
from tests.conftest import REFERENCE_CKPT


@pytest.fixture
def listing(tmp_path):
    path = tmp_path / "val.txt"
    path.write_text("rgb.png\tmask.png\tdepth.png\n")
    return path


def refused(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--weights", str(REFERENCE_CKPT), "--dataset", "nyud", *args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    return err.splitlines()


@pytest.mark.parametrize("flags, line", [
    (["--size", "16"], "error: --size 16: must be at least 32"),
    (["--min-depth", "nan"], "error: --min-depth nan: must be a positive finite number"),
    (["--max-depth", "inf"], "error: --max-depth inf: must be a positive finite number"),
    (["--depth-scale", "-1"], "error: --depth-scale -1: must be a positive finite number"),
    (["--min-depth", "5", "--max-depth", "2"], "error: --max-depth 2 must exceed --min-depth 5"),
])
def test_each_bad_flag_is_one_line(listing, capsys, flags, line):
    assert refused(["--list", str(listing), *flags], capsys) == [line]


def test_a_list_or_root_that_does_not_exist(tmp_path, listing, capsys):
    assert refused(["--list", str(tmp_path / "none.txt")], capsys) == [
        f"error: --list {tmp_path / 'none.txt'}: no such file"]
    assert refused(["--list", str(tmp_path)], capsys) == [f"error: --list {tmp_path}: is a folder, not a list file"]
    assert refused(["--list", str(listing), "--root", str(tmp_path / "gone")], capsys) == [
        f"error: --root {tmp_path / 'gone'}: no such folder"]


def test_several_bad_flags_are_each_named(tmp_path, capsys):
    lines = refused(["--list", str(tmp_path / "none.txt"), "--size", "8", "--depth-scale", "nan",
                     "--json", str(tmp_path / "no" / "m.json")], capsys)
    assert [line.split()[1] for line in lines] == ["--list", "--json", "--size", "--depth-scale"]


def test_a_non_numeric_flag_is_refused_by_its_type(listing, capsys):
    lines = refused(["--list", str(listing), "--min-depth", "abc"], capsys)
    assert lines[-1].endswith("argument --min-depth: invalid float value: 'abc'")
