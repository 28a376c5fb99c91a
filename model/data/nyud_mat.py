"""NYUDv2's official files: ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3, i.e. HDF5) and ``splits.mat`` (MATLAB v5).

The labelled set is read one frame at a time, whatever the file's size. MATLAB stores arrays column-major, so
h5py sees every axis reversed: ``images`` is N x 3 x W x H uint8, ``depths`` N x W x H metres and ``labels``
N x W x H, 0 = unlabelled and 1..894 indexing the set's ``names``. The 894 labels become the 40 classes of
Gupta et al. 2013 (``classMapping40.mat``, carried here as ``nyud_classes_40.tsv``), 0-based as this project's
``nyud`` preset numbers them, unlabelled pixels 255. ``splits.mat`` holds ``trainNdxs`` (795) and ``testNdxs``
(654), 1-based; ``nyud_splits.txt`` carries the same indices for when it is not at hand.
"""
import csv
from functools import cache
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from model.errors import first_line
from model.presets import IGNORE_LABEL

from .datasets import DataError

HERE = Path(__file__).resolve().parent
CLASS_TABLE = HERE / "nyud_classes_40.tsv"
SPLITS_TABLE = HERE / "nyud_splits.txt"
LABELS = 894
CLASSES = 40
SPLIT_KEYS = {"train": "trainNdxs", "test": "testNdxs"}
DATASETS = ("images", "depths", "labels")


class NyudMatError(DataError):
    """An official file that cannot be used; the message names the file and the problem in one line."""


@cache
def _class_mapping():
    with open(CLASS_TABLE, newline="") as f:
        rows = [row for row in csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t")]
    mapping = np.full(LABELS + 1, IGNORE_LABEL, np.uint8)
    for row in rows:
        mapping[int(row["label"])] = int(row["class40"]) - 1
    if len(rows) != LABELS or (mapping[1:] >= CLASSES).any():
        raise RuntimeError(f"{CLASS_TABLE}: expected {LABELS} labels mapped to 1..{CLASSES}")
    mapping.flags.writeable = False
    return mapping


def class_mapping():
    """The lookup table label (0..894) -> class (0..39, 255 for unlabelled), as a read-only uint8 array."""
    return _class_mapping()


def to_classes(labels, source="labels"):
    """An array of the set's labels (0..894) as the 40 classes (uint8, 255 = unlabelled)."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() > LABELS):
        raise NyudMatError(f"{source}: label {int(labels.max() if labels.max() > LABELS else labels.min())} "
                           f"is outside 0..{LABELS}")
    return class_mapping()[labels.astype(np.intp)]


def official_splits():
    """The official split from the carried table: {"train": 1-based indices, "test": ...}."""
    lines = [line for line in SPLITS_TABLE.read_text().splitlines() if line and not line.startswith("#")]
    return {name: np.array(line.split(), np.int64) for name, line in zip(("train", "test"), lines)}


def read_splits(path):
    """``splits.mat``'s indices: {"train": 1-based int64 array, "test": ...}."""
    path = Path(path)
    if not path.is_file():
        raise NyudMatError(f"{path}: no such file")
    try:
        content = scipy.io.loadmat(str(path))
    except NotImplementedError:
        raise NyudMatError(f"{path}: a MATLAB v7.3 file, not splits.mat (MATLAB v5)") from None
    except Exception as e:  # scipy's reader fails on damaged input in many ways (MatReadError, IndexError, zlib)
        raise NyudMatError(f"{path}: not a MATLAB v5 file like splits.mat ({first_line(e, 120)})") from None
    splits = {}
    for name, key in SPLIT_KEYS.items():
        if key not in content:
            raise NyudMatError(f"{path}: no {key!r} variable (expected trainNdxs and testNdxs)")
        values = np.asarray(content[key])
        if values.dtype.kind not in "iuf" or values.size == 0 or min(values.shape) != 1:
            raise NyudMatError(f"{path}: {key} must be a vector of image indices, got {values.dtype} "
                               f"{'x'.join(map(str, values.shape))}")
        values = values.ravel()
        if not (np.isfinite(values).all() and (values == np.round(values)).all() and values.min() >= 1):
            raise NyudMatError(f"{path}: {key} must hold whole numbers from 1 (MATLAB's indices)")
        splits[name] = values.astype(np.int64)
    return splits


class NyudMat:
    """``nyu_depth_v2_labeled.mat`` opened for reading; ``frame(i)`` (0-based) reads one image's arrays.

    Use as a context manager, or call ``close()``.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise NyudMatError(f"{self.path}: no such file")
        if not h5py.is_hdf5(self.path):
            with open(self.path, "rb") as f:
                head = f.read(128)
            hint = "; this is MATLAB v5 (splits.mat?)" if head.startswith(b"MATLAB 5.0") else ""
            raise NyudMatError(f"{self.path}: not an HDF5 file (MATLAB v7.3) like nyu_depth_v2_labeled.mat{hint}")
        try:
            self.file = h5py.File(self.path, "r")
        except OSError as e:
            raise NyudMatError(f"{self.path}: cannot be opened, damaged or truncated ({first_line(e, 160)})") from None
        try:
            self.images, self.depths, self.labels = (self._dataset(name) for name in DATASETS)
            self._check_shapes()
        except Exception:
            self.file.close()
            raise

    def _dataset(self, name):
        if name not in self.file or not isinstance(self.file[name], h5py.Dataset):
            raise NyudMatError(f"{self.path}: no {name!r} dataset (expected {', '.join(DATASETS)})")
        return self.file[name]

    def _check_shapes(self):
        shape = self.images.shape
        if len(shape) != 4 or shape[1] != 3 or self.images.dtype != np.uint8:
            raise NyudMatError(f"{self.path}: images must be N x 3 x 640 x 480 uint8 as h5py reads MATLAB's "
                               f"480 x 640 x 3 x N, got {self.images.dtype} {_dims(shape)}")
        expected = (shape[0], *shape[2:])
        for dataset in (self.depths, self.labels):
            if dataset.shape != expected or dataset.dtype.kind not in "iuf":
                raise NyudMatError(f"{self.path}: {dataset.name.lstrip('/')} must be numbers of the images' "
                                   f"shape {_dims(expected)}, got {dataset.dtype} {_dims(dataset.shape)}")

    def __len__(self):
        return self.images.shape[0]

    @property
    def size(self):
        """(height, width) of every frame."""
        return self.images.shape[3], self.images.shape[2]

    def check_indices(self, splits, source):
        """Raises NyudMatError when a 1-based index of ``splits`` is past this file's images."""
        for name, indices in splits.items():
            if indices.size and indices.max() > len(self):
                raise NyudMatError(f"{source}: {SPLIT_KEYS[name]} holds index {int(indices.max())}, past the "
                                   f"{len(self)} images of {self.path.name}")

    def frame(self, index):
        """Image ``index`` (0-based): (H x W x 3 uint8 RGB, H x W float32 metres, H x W uint8 classes)."""
        where = f"image {index + 1}"
        try:
            image = np.ascontiguousarray(self.images[index].transpose(2, 1, 0))
            depth = np.ascontiguousarray(self.depths[index].T, dtype=np.float32)
            labels = self.labels[index].T
        except (OSError, RuntimeError, ValueError) as e:
            raise NyudMatError(f"{where} cannot be read, damaged or truncated ({first_line(e, 160)})") from None
        return image, np.where(np.isfinite(depth), depth, 0).astype(np.float32), to_classes(labels, where)

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _dims(shape):
    return " x ".join(map(str, shape))


def open_split(mat_path, splits_path=None):
    """The opened file and its checked split ({"train", "test"} -> 1-based indices; the carried official split
    when ``splits_path`` is None)."""
    splits = read_splits(splits_path) if splits_path else official_splits()
    reader = NyudMat(mat_path)
    try:
        reader.check_indices(splits, splits_path or SPLITS_TABLE.name)
    except NyudMatError:
        reader.close()
        raise
    return reader, splits
