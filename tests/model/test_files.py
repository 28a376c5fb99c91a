"""Atomic writes: a file is either complete or absent, never half-written; depth PNGs in millimetres."""
import cv2
import numpy as np
import pytest

from model.files import atomic_path, depth_millimetres, write_atomic, write_png


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    write_atomic(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("the disk went away")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_png_round_trips_rgb_and_16_bit(tmp_path, rng):
    rgb = rng.integers(0, 256, (12, 17, 3), dtype=np.uint8)
    write_png(tmp_path / "rgb.png", rgb)
    assert np.array_equal(cv2.imread(str(tmp_path / "rgb.png"))[:, :, ::-1], rgb)
    depth = np.array([[0.0, 1.2345, 65.535, 70.0, np.nan, np.inf]], np.float32)
    millimetres = depth_millimetres(depth)
    assert millimetres.dtype == np.uint16
    assert millimetres.tolist() in ([[0, 1234, 65535, 65535, 0, 0]], [[0, 1235, 65535, 65535, 0, 0]])
    write_png(tmp_path / "depth.png", millimetres)
    assert np.array_equal(cv2.imread(str(tmp_path / "depth.png"), cv2.IMREAD_UNCHANGED), millimetres)
