"""The official files written as the list layout: read back through the list readers, they are the same data."""
import numpy as np
import pytest

from model.data import nyud_export
from model.data.datalist import read_list
from model.data.datasets import MultiTaskDataset, read_depth, read_mask, read_rgb
from model.data.nyud_mat import NyudMat, class_mapping, read_splits
from tests.model.nyud_files import random_frames, write_labeled, write_splits


@pytest.fixture
def official(tmp_path):
    frames = list(random_frames(5, h=12, w=16))
    mat = write_labeled(tmp_path / "nyu_depth_v2_labeled.mat", frames)
    return frames, mat, write_splits(tmp_path / "splits.mat", [2, 4], [1, 3, 5])


def test_the_export_reads_back_as_the_same_images_classes_and_depths(tmp_path, official, capsys):
    frames, mat, splits = official
    out = tmp_path / "nyud"
    assert nyud_export.main(["--nyud-mat", str(mat), "--splits", str(splits), "--out", str(out)]) == 0
    assert "test.txt: 3 of the 3 images of the test split" in capsys.readouterr().out
    for name, indices in (("train", [2, 4]), ("test", [1, 3, 5])):
        samples = read_list(out / f"{name}.txt")
        assert [s.line for s in samples] == list(range(1, len(indices) + 1))
        for sample, number in zip(samples, indices):
            image, depth, labels = frames[number - 1]
            assert sample.rgb.name == f"{number:04d}.png"
            assert (read_rgb(sample.rgb) == image).all()
            assert (read_mask(sample.mask) == class_mapping()[labels]).all()
            assert np.abs(read_depth(sample.depth, 5000) - depth).max() <= 0.5 / 5000 + 1e-6
            assert ((read_depth(sample.depth, 5000) == 0) == (depth == 0)).all()
    dataset = MultiTaskDataset(read_list(out / "train.txt"), ("segm", "depth"), png_scale=5000)
    item = dataset[1]  # what training reads
    assert item["has_segm"] and item["has_depth"] and tuple(item["segm"].shape) == (12, 16)


def test_one_split_only(tmp_path, official):
    _, mat, splits = official
    out = tmp_path / "nyud"
    assert nyud_export.main(["--nyud-mat", str(mat), "--splits", str(splits), "--split", "test",
                             "--out", str(out)]) == 0
    assert not (out / "train.txt").exists() and len(read_list(out / "test.txt")) == 3
    assert sorted(p.name for p in (out / "rgb").iterdir()) == ["0001.png", "0003.png", "0005.png"]


def test_depths_past_the_png_range_or_missing_become_no_measurement():
    depth = np.array([[0.0, 1.0, 13.107, 13.2, np.nan, -1.0]], np.float32)
    assert nyud_export.depth_png(depth, 5000).tolist() == [[0, 5000, 65535, 0, 0, 0]]


def test_ctrl_c_writes_the_lists_of_the_images_done(tmp_path, official, monkeypatch, capsys):
    _, mat, splits = official
    real, calls = NyudMat.frame, []

    def frame(self, index):
        calls.append(index)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, index)

    monkeypatch.setattr(NyudMat, "frame", frame)
    out = tmp_path / "nyud"
    assert nyud_export.main(["--nyud-mat", str(mat), "--splits", str(splits), "--out", str(out)]) == 130
    assert len(read_list(out / "train.txt")) == 2 and len(read_list(out / "test.txt")) == 1
    assert "interrupted after 3 of 5 images" in capsys.readouterr().err


def test_bad_files_are_one_line_errors(tmp_path, official, capsys):
    _, mat, splits = official
    out = str(tmp_path / "nyud")
    for args in (["--nyud-mat", str(splits)], ["--nyud-mat", str(mat), "--splits", str(mat)],
                 ["--nyud-mat", str(mat)]):  # the carried split indexes 1449 images, this file has 5
        assert nyud_export.main([*args, "--out", out]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
    with NyudMat(mat) as reader:  # the files are fine otherwise
        assert len(reader) == 5 and read_splits(splits)["test"].tolist() == [1, 3, 5]
