"""NYUDv2's official files read from tiny files in their exact layout; the 894 -> 40 table and the split carried."""
import os

import h5py
import numpy as np
import pytest

from model import get_preset
from model.data.nyud_mat import (
    CLASS_TABLE,
    NyudMat,
    NyudMatError,
    class_mapping,
    official_splits,
    open_split,
    read_splits,
    to_classes,
)
from tests.model.nyud_files import random_frames, write_labeled, write_splits

# label (1-based in the set's 894 names) -> class (1-based in the 40 of Gupta et al. 2013), from classMapping40.mat
KNOWN = {21: 1, 11: 2, 3: 3, 157: 4, 5: 5, 83: 6, 19: 7, 28: 8, 59: 9, 88: 10, 64: 11, 7: 12, 80: 13, 36: 14,
         42: 15, 89: 16, 169: 17, 119: 18, 122: 19, 143: 20, 141: 21, 4: 22, 85: 23, 17: 24, 172: 25, 15: 26,
         135: 27, 123: 28, 26: 29, 45: 30, 331: 31, 158: 32, 124: 33, 24: 34, 144: 35, 136: 36, 55: 37,
         8: 38, 25: 38, 215: 38, 12: 39, 87: 39, 1: 40, 2: 40, 20: 40, 894: 40}


def test_the_class_table_maps_known_labels_to_their_classes():
    mapping = class_mapping()
    assert mapping.shape == (895,) and mapping[0] == 255
    assert {label: int(mapping[label]) + 1 for label in KNOWN} == KNOWN
    assert sorted(set(mapping[1:].tolist())) == list(range(40))  # every class has labels
    assert np.bincount(mapping[1:])[37:].tolist() == [68, 82, 707]  # other structure, furniture, prop
    with pytest.raises(ValueError):
        mapping[1] = 0  # read-only: one table for every caller


def test_the_class_table_names_the_presets_classes_in_order():
    rows = [line.split("\t") for line in CLASS_TABLE.read_text().splitlines()[3:]]
    assert len(rows) == 894 and [int(r[0]) for r in rows] == list(range(1, 895))
    names = {int(r[2]): r[3] for r in rows}
    expected = [c.replace(" ", "") for c in get_preset("nyud").classes]
    assert [names[i].replace(" ", "").replace("refridgerator", "refrigerator") for i in range(1, 41)] == expected


def test_the_carried_split_is_the_official_one():
    splits = official_splits()
    assert len(splits["train"]) == 795 and len(splits["test"]) == 654
    assert sorted([*splits["train"], *splits["test"]]) == list(range(1, 1450))
    assert splits["test"][:10].tolist() == [1, 2, 9, 14, 15, 16, 17, 18, 21, 28]
    assert splits["train"][:5].tolist() == [3, 4, 5, 6, 7]


def test_frames_come_back_upright_with_their_classes(tmp_path):
    frames = list(random_frames(3, h=6, w=8))
    frames[2][2][0, :3] = (0, 21, 331)  # unlabelled, wall, person
    reader = NyudMat(write_labeled(tmp_path / "nyu.mat", frames))
    with reader:
        assert len(reader) == 3 and reader.size == (6, 8)
        with h5py.File(tmp_path / "nyu.mat") as f:  # as h5py sees MATLAB's 480 x 640 x 3 x N: reversed
            assert f["images"].shape == (3, 3, 8, 6) and f["labels"].shape == (3, 8, 6)
        image, depth, classes = reader.frame(2)
    assert image.shape == (6, 8, 3) and (image == frames[2][0]).all()
    assert depth.dtype == np.float32 and (depth == frames[2][1]).all()
    labels = frames[2][2]
    assert classes.dtype == np.uint8 and (classes[labels == 0] == 255).all()
    assert (classes == class_mapping()[labels]).all()
    assert classes[0, :3].tolist() == [255, 0, 30]


def test_splits_are_read_one_based(tmp_path):
    splits = read_splits(write_splits(tmp_path / "splits.mat", [3, 4, 5], [1, 2]))
    assert splits["train"].tolist() == [3, 4, 5] and splits["test"].tolist() == [1, 2]
    assert splits["test"].dtype == np.int64


def one_line(error):
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.fixture
def official(tmp_path):
    return write_labeled(tmp_path / "nyu.mat", random_frames(4)), write_splits(tmp_path / "splits.mat", [1, 2], [3, 4])


def test_a_file_that_is_not_hdf5_is_one_line(tmp_path, official):
    mat, splits = official
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"\x89PNG not at all HDF5" * 50)
    with pytest.raises(NyudMatError) as error:
        NyudMat(junk)
    assert "not an HDF5 file (MATLAB v7.3)" in one_line(error)
    with pytest.raises(NyudMatError) as error:
        NyudMat(splits)  # the two files swapped
    assert "this is MATLAB v5" in one_line(error)
    with pytest.raises(NyudMatError) as error:
        read_splits(mat)
    assert "MATLAB v7.3 file, not splits.mat" in one_line(error)
    truncated = tmp_path / "truncated.mat"
    truncated.write_bytes(splits.read_bytes()[:100])
    for bad in (junk, truncated):
        with pytest.raises(NyudMatError) as error:
            read_splits(bad)
        assert "not a MATLAB v5 file" in one_line(error)
    with pytest.raises(NyudMatError) as error:
        NyudMat(tmp_path / "nowhere.mat")
    assert "no such file" in one_line(error)


@pytest.mark.parametrize("missing", ["images", "depths", "labels"])
def test_a_missing_dataset_is_named(tmp_path, missing):
    path = write_labeled(tmp_path / "nyu.mat", random_frames(2), skip=(missing,))
    with pytest.raises(NyudMatError) as error:
        NyudMat(path)
    assert f"no {missing!r} dataset" in one_line(error)


def test_wrong_shapes_are_one_line(tmp_path):
    path = tmp_path / "nyu.mat"
    write_labeled(path, random_frames(2, h=6, w=8))
    with h5py.File(path, "r+") as f:
        del f["depths"]
        f["depths"] = np.zeros((2, 6, 8), np.float32)  # not transposed
    with pytest.raises(NyudMatError) as error:
        NyudMat(path)
    assert "depths must be numbers of the images' shape 2 x 8 x 6, got float32 2 x 6 x 8" in one_line(error)
    with h5py.File(path, "r+") as f:
        del f["images"]
        f["images"] = np.zeros((2, 8, 6, 3), np.uint8)  # H x W x 3 per image, not reversed
    with pytest.raises(NyudMatError) as error:
        NyudMat(path)
    assert "images must be N x 3 x 640 x 480 uint8" in one_line(error)


def test_indices_past_the_images_are_one_line(tmp_path, official):
    mat, _ = official
    splits = write_splits(tmp_path / "big.mat", [1, 2], [3, 1449])
    with pytest.raises(NyudMatError) as error:
        open_split(mat, splits)
    assert "testNdxs holds index 1449, past the 4 images of nyu.mat" in one_line(error)
    with pytest.raises(NyudMatError) as error:
        open_split(mat)  # the carried split is for the real 1449 images
    assert "past the 4 images" in one_line(error)
    for train in ([0, 1], [1.5]):
        with pytest.raises(NyudMatError) as error:
            read_splits(write_splits(tmp_path / "bad.mat", train, [3]))
        assert "whole numbers from 1" in one_line(error)


def test_a_split_variable_missing_is_named(tmp_path):
    import scipy.io

    scipy.io.savemat(tmp_path / "s.mat", {"trainNdxs": np.ones((3, 1))})
    with pytest.raises(NyudMatError) as error:
        read_splits(tmp_path / "s.mat")
    assert "no 'testNdxs' variable" in one_line(error)


def test_a_truncated_file_is_one_line(tmp_path):
    path = write_labeled(tmp_path / "nyu.mat", random_frames(20, h=48, w=64))
    os.truncate(path, os.path.getsize(path) // 2)
    with pytest.raises(NyudMatError) as error:
        NyudMat(path)
    assert "damaged or truncated" in one_line(error)


def test_labels_past_the_names_are_one_line():
    assert to_classes(np.array([[0, 21]])).tolist() == [[255, 0]]
    with pytest.raises(NyudMatError) as error:
        to_classes(np.array([[0, 900]]), "image 7")
    assert one_line(error) == "image 7: label 900 is outside 0..894"
