"""Stabilisation through the worker: a request turns it on without a new predictor, a source change (its frames
counted from 0 again) starts afresh, stepping frame by frame (pause/step) blends each step with the last, and
every Output carries the flicker figure."""
import dataclasses

import numpy as np
import pytest

from app.stream.capture import Frame, FrameSlot
from app.stream.worker import InferenceWorker, Request
from model.benchmark.stabiliser import still_sequence
from model.inference.engine import Predictor
from model.inference.run_settings import RunSettings
from model.weights.checkpoint import load_model

SETTINGS = RunSettings("cpu", "fp32", "torch", 160)


@pytest.fixture
def worker(fitted_ckpt):
    worker = InferenceWorker(FrameSlot())
    worker.request(Request(str(fitted_ckpt), "mobilenet_v2", SETTINGS, stabilise=0.8))
    yield worker
    worker.close()


def feed(worker, image, index):
    worker.slot.put(Frame(image, index, 0.0))
    worker.process()
    return worker.latest()


def reference(fitted_ckpt, frames):
    """What a fresh stabilising predictor gives for ``frames`` (at the network's size, as the worker asks)."""
    predictor = Predictor(load_model(fitted_ckpt), SETTINGS, resolution="network", stabilise=0.8)
    results = [predictor(f) for f in frames]
    predictor.close()
    return results


def test_a_source_change_starts_afresh_and_steps_are_blended(worker, fitted_ckpt):
    frames = still_sequence(4)
    assert worker.current.stabilise == 0.8
    stepped = [feed(worker, f, i) for i, f in enumerate(frames[:3])]  # one step at a time, as when paused
    expected = reference(fitted_ckpt, frames[:3])
    for output, result in zip(stepped, expected):
        np.testing.assert_allclose(output.result.depth, result.depth, rtol=1e-5, atol=1e-5)
    assert stepped[0].flicker is None and stepped[2].flicker.labels_changed < 0.05
    again = feed(worker, frames[3], 0)  # a new source: its first frame
    np.testing.assert_allclose(again.result.depth, reference(fitted_ckpt, frames[3:])[0].depth,
                               rtol=1e-5, atol=1e-5)
    assert again.flicker is None  # nothing to compare it with


def test_turning_it_off_keeps_the_predictor(worker):
    frames = still_sequence(2)
    feed(worker, frames[0], 0)
    predictor = worker.predictor
    worker.apply(dataclasses.replace(worker.current.request, stabilise=0.0))
    assert worker.predictor is predictor and predictor.stabilise == 0.0 and worker.current.stabilise == 0.0
    assert "stabilise" not in feed(worker, frames[1], 1).result.timings
