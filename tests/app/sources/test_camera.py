"""Cameras: one that stops delivering says so; without one the synthetic scene shows."""
import cv2
import numpy as np
import pytest

from app.sources import CameraSource, SourceError, SyntheticSource, open_default_source
from tests.app.sources.support import FakeCapture


def test_a_camera_that_stops_delivering_says_so(monkeypatch):
    monkeypatch.setattr(FakeCapture, "frames", 2)
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    with CameraSource(3) as camera:
        camera.read(), camera.read()
        with pytest.raises(SourceError, match="camera 3: stopped delivering frames"):
            camera.read()


def test_a_missing_camera_falls_back_to_the_synthetic_scene(monkeypatch):
    monkeypatch.setattr(FakeCapture, "present", False)
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    source = open_default_source()
    assert source.kind == "synthetic" and source.read().shape[2] == 3


def test_synthetic_scene_moves():
    source = SyntheticSource(width=128, height=96)
    first, later = source.read(), [source.read() for _ in range(10)][-1]
    assert not np.array_equal(first, later)
