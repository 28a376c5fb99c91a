"""Tiny NYUDv2 files in the official layout: ``nyu_depth_v2_labeled.mat`` as MATLAB v7.3 writes it (HDF5 behind a
512-byte MATLAB header, every array's axes reversed) and ``splits.mat`` as MATLAB v5 (column vectors of doubles)."""
import h5py
import numpy as np
import scipy.io

MATLAB_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2012 HDF5 schema 1.00 ."
MATLAB_CLASSES = {"images": "uint8", "depths": "single", "labels": "uint16"}


def write_labeled(path, frames, count=None, skip=()):
    """Writes ``frames`` (an iterable of (H x W x 3 uint8 RGB, H x W metres, H x W labels 0..894), ``count`` of
    them, default ``len(frames)``) one at a time; datasets named in ``skip`` are left out."""
    frames = iter(frames) if count is not None else list(frames)
    count = len(frames) if count is None else count
    with h5py.File(path, "w", userblock_size=512) as f:
        datasets = {}
        for i, (image, depth, labels) in enumerate(frames):
            h, w = depth.shape
            if not datasets:
                shapes = {"images": (count, 3, w, h), "depths": (count, w, h), "labels": (count, w, h)}
                for name, shape in shapes.items():
                    if name in skip:
                        continue
                    dtype = {"images": np.uint8, "depths": np.float32, "labels": np.uint16}[name]
                    datasets[name] = f.create_dataset(name, shape, dtype)
                    datasets[name].attrs["MATLAB_class"] = np.bytes_(MATLAB_CLASSES[name])
            for name, array in (("images", image.transpose(2, 1, 0)), ("depths", depth.T), ("labels", labels.T)):
                if name in datasets:
                    datasets[name][i] = array
    with open(path, "r+b") as f:
        f.write(MATLAB_HEADER.ljust(116) + b"\0" * 8 + b"\x00\x02IM")
    return path


def write_splits(path, train, test):
    scipy.io.savemat(path, {"trainNdxs": np.asarray(train, np.float64).reshape(-1, 1),
                            "testNdxs": np.asarray(test, np.float64).reshape(-1, 1)})
    return path


def random_frames(count, h=12, w=16, seed=0):
    """``count`` frames of random content: images, depths in 0.5..9.5 m with some holes, labels 0..894."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        depth = rng.uniform(0.5, 9.5, (h, w)).astype(np.float32)
        depth[rng.random((h, w)) < 0.1] = 0
        yield (rng.integers(0, 256, (h, w, 3), dtype=np.uint8), depth,
               rng.integers(0, 895, (h, w)).astype(np.uint16))
