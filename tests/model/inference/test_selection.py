"""The automatic choice: reduced precisions only behind the accuracy guard, the rest decided by measurement."""
import pytest
import torch

from model import Predictor, load_model
from model.data.examples import frames
from model.export.artefacts import Exports
from model.export.guard import Guard
from model.inference.run_settings import SettingsError
from tests.model.inference.test_engine import random_model

SMALL = [f for f in frames((64, 96))]  # int8 calibration frames, small so that the tests stay quick


@pytest.fixture(scope="module")
def fitted(fitted_ckpt):
    return load_model(fitted_ckpt)


@pytest.fixture
def frame():
    return frames((96, 128))[0]


@pytest.fixture
def broken_int8(monkeypatch):
    """int8 'quantization' that returns another network's graph: a quantization gone wrong."""
    other = Exports(random_model(tasks=("segm", "depth"), seed=7))
    monkeypatch.setattr(Exports, "int8", lambda self: other.onnx())


def test_the_guard_rejects_a_broken_int8_graph_and_full_precision_runs(fitted, frame, broken_int8):
    predictor = Predictor(fitted, device="cpu", precision="int8", backend="onnxruntime", calibration=SMALL)
    result = predictor(frame)
    applied = predictor.applied
    assert applied.precision == "fp32" and result.applied is applied
    assert "onnxruntime int8 failed the accuracy guard" in applied.reason and "labels" in applied.reason


def test_auto_never_picks_what_the_guard_rejects(fitted, frame, broken_int8):
    predictor = Predictor(fitted, device="cpu", calibration=SMALL)
    predictor(frame)
    applied = predictor.applied
    assert applied.precision != "int8"
    assert applied.reason is None  # what runs is what auto asks for: news, not a fallback
    assert applied.note == f"no int8 variant beats {applied.precision} inside the accuracy guard here"
    assert any("int8 failed the accuracy guard" in r for r in applied.rejected)
    # what ran was the fastest of those measured
    assert applied.measured and min(applied.measured, key=applied.measured.get) == f"{applied.backend} " \
                                                                                  f"{applied.precision}"


def test_a_reduced_precision_that_agrees_runs_with_its_measured_agreement(fitted, frame):
    predictor = Predictor(fitted, device="cpu", precision="fp16", backend="torch")
    predictor(frame)
    applied = predictor.applied
    assert (applied.precision, applied.backend, applied.reason) == ("fp16", "torch", None)
    assert applied.agreement.labels >= 0.98 and applied.agreement.depth_error <= 0.01
    assert "vs fp32" in applied.description


def test_a_stricter_guard_refuses_what_the_default_accepts(fitted, frame):
    strict = Guard(min_labels=1.0, max_depth_error=0.0)
    predictor = Predictor(fitted, device="cpu", precision="fp16", backend="torch", guard=strict)
    predictor(frame)
    assert predictor.applied.precision == "fp32" and "accuracy guard" in predictor.applied.reason


def test_fp32_forces_full_precision_among_the_backends(fitted, frame):
    predictor = Predictor(fitted, device="cpu", precision="fp32", calibration=SMALL)
    predictor(frame)
    assert predictor.applied.precision == "fp32"
    assert all(key.endswith("fp32") for key in predictor.applied.measured)


def test_warmup_reports_progress_in_order(frame):
    predictor = Predictor(random_model(tasks=("segm", "depth")), device="cpu", precision="fp32")
    steps = []
    predictor.warmup(frame.shape[:2], lambda fraction, message: steps.append((fraction, message)))
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and steps[-1][1].startswith("ready")
    assert any(m.startswith("measuring") for _, m in steps)
    assert predictor.chosen and predictor(frame).labels.shape == frame.shape[:2]


def test_explicit_settings_without_a_runner_here_are_refused(frame):
    with pytest.raises(SettingsError, match="does not run on the CPU"):
        Predictor(random_model(tasks=("segm", "depth")), device="cpu", precision="int8", backend="torch")(frame)
    if not torch.cuda.is_available():
        with pytest.raises(SettingsError, match="CUDA was asked for"):
            Predictor(random_model(tasks=("segm", "depth")), device="cuda")
