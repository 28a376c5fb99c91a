"""The inference worker on the test's own thread (requests and frames are then handled at once): what runs comes
back typed, changes are warmed up before they replace what runs, and every failure leaves something running
that the worker says is running."""
import dataclasses

import numpy as np
import pytest

from app.stream.capture import Frame, FrameSlot
from app.stream.worker import SAFE, InferenceWorker, Request, Running, same_predictor
from model.inference.engine import Predictor
from model.inference.run_settings import RunSettings
from model.inference.selection import NetworkError
from tests.conftest import REFERENCE_CKPT

pytestmark = pytest.mark.usefixtures("no_installed_weights")

FAST = RunSettings("cpu", "fp32", "torch", 64)


class Recorded:
    """A worker and what it said."""

    def __init__(self):
        self.slot = FrameSlot()
        self.worker = InferenceWorker(self.slot)
        self.running, self.failed, self.progress = [], [], []
        self.worker.running.connect(self.running.append)
        self.worker.failed.connect(self.failed.append)
        self.worker.progress.connect(lambda fraction, message: self.progress.append((fraction, message)))
        self.index = 0

    def frame(self, shape=(96, 128)):
        """One frame through the slot, as the capture thread gives it; the Output it gave, or None."""
        image = np.random.default_rng(self.index).integers(0, 255, (*shape, 3), dtype=np.uint8)
        self.slot.put(Frame(image, self.index, 0.0))
        self.index += 1
        self.worker.process()
        return self.worker.latest()


@pytest.fixture
def recorded():
    recorded = Recorded()
    yield recorded
    recorded.worker.close()


def test_what_runs_comes_back_typed_and_results_at_the_network_size(recorded):
    recorded.worker.request(Request(str(REFERENCE_CKPT), "mobilenet_v2", FAST))
    running = recorded.running[-1]
    assert isinstance(running, Running) and not recorded.failed
    assert (running.name, running.weights, running.backbone, running.warning) == (
        "random_nyud_three.ckpt", str(REFERENCE_CKPT), "mobilenet_v2", None)
    assert running.preset.name == "nyud-three" and running.tasks == ("segm", "depth", "normals")
    assert running.settings == FAST and not running.chosen
    first = recorded.frame()
    assert first.warmed and first.result.labels.shape == (48, 64) and first.result.frame.shape == (96, 128, 3)
    assert recorded.running[-1].chosen and recorded.running[-1].applied.description == "CPU fp32, torch"
    assert any(m.startswith("preparing PyTorch fp32") for _, m in recorded.progress)
    assert recorded.progress[-1] == (1.0, "")  # done: the window hides its progress
    second = recorded.frame()
    assert not second.warmed and second.result.applied == recorded.running[-1].applied
    assert recorded.running[-1].request == Request(str(REFERENCE_CKPT), "mobilenet_v2", FAST)


def test_a_new_size_keeps_the_predictor(recorded):
    recorded.worker.request(Request(str(REFERENCE_CKPT), "mobilenet_v2", FAST))
    recorded.frame()
    predictor = recorded.worker.predictor
    recorded.worker.request(Request(str(REFERENCE_CKPT), "mobilenet_v2", dataclasses.replace(FAST, size=96)))
    assert recorded.worker.predictor is predictor and recorded.running[-1].settings.size == 96
    assert recorded.worker.latest().result.labels.shape == (72, 96)  # the last frame again, at the new size
    assert same_predictor(FAST, dataclasses.replace(FAST, size=None))
    assert not same_predictor(FAST, dataclasses.replace(FAST, precision="bf16"))


def test_a_warm_up_that_fails_keeps_the_old_predictor_running(recorded, monkeypatch):
    recorded.worker.request(Request(str(REFERENCE_CKPT), "mobilenet_v2", FAST))
    recorded.frame()
    old = recorded.worker.predictor
    warmup, closed = Predictor.warmup, []

    def failing(self, frame_size, progress=None):
        if self.settings.precision == "bf16":
            progress(0.3, "preparing PyTorch bf16")
            raise RuntimeError("CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported")
        return warmup(self, frame_size, progress)

    monkeypatch.setattr(Predictor, "warmup", failing)
    monkeypatch.setattr(Predictor, "close", lambda self: closed.append(self))
    recorded.worker.request(Request(str(REFERENCE_CKPT), "mobilenet_v2", dataclasses.replace(FAST, precision="bf16")))
    assert recorded.failed == ["CUDA error: out of memory"]  # one line
    assert recorded.worker.predictor is old and closed and closed[0] is not old  # the candidate was freed
    assert recorded.running[-1].settings == FAST  # the window goes back to what runs
    assert recorded.running[-1].applied.precision == "fp32"
    assert recorded.progress[-1] == (1.0, "")
    assert recorded.frame().result.applied.precision == "fp32"


def test_settings_that_cannot_run_here_keep_the_old_predictor(recorded):
    recorded.worker.request(Request(str(REFERENCE_CKPT), "mobilenet_v2", FAST))
    recorded.frame()
    old = recorded.worker.predictor
    impossible = dataclasses.replace(FAST, backend="onnxruntime", precision="fp16")  # ONNX Runtime: fp32, int8
    recorded.worker.request(Request(str(REFERENCE_CKPT), "mobilenet_v2", impossible))
    assert len(recorded.failed) == 1 and "fp16" in recorded.failed[0] and "\n" not in recorded.failed[0]
    assert recorded.worker.predictor is old and recorded.running[-1].settings == FAST


def test_a_first_predictor_that_fails_gives_way_to_the_safe_settings(recorded):
    impossible = dataclasses.replace(FAST, backend="onnxruntime", precision="fp16")
    recorded.worker.request(Request(str(REFERENCE_CKPT), "mobilenet_v2", impossible))  # no frame yet: not tried
    output = recorded.frame()
    assert len(recorded.failed) == 1 and "fp16" in recorded.failed[0]
    running = recorded.running[-1]
    assert running.name == "random_nyud_three.ckpt" and running.settings == dataclasses.replace(impossible, **SAFE)
    assert output is not None and output.result.applied.description == "CPU fp32, torch"


def test_a_network_that_gives_nan_is_said_and_the_untrained_one_runs(recorded, monkeypatch):
    warmup = Predictor.warmup

    def nan(self, frame_size, progress=None):
        if self.preset.name == "nyud-three":  # the checkpoint's; the untrained network is nyud
            raise NetworkError("the network gives NaN/inf: a corrupt or diverged checkpoint")
        return warmup(self, frame_size, progress)

    monkeypatch.setattr(Predictor, "warmup", nan)
    recorded.worker.request(Request(str(REFERENCE_CKPT), "mobilenet_v2", FAST))
    output = recorded.frame()
    assert recorded.failed[0] == "the network gives NaN/inf: a corrupt or diverged checkpoint"
    assert recorded.running[-1].name == "untrained" and "untrained MobileNet-v2" in recorded.running[-1].warning
    assert output is not None and output.result.preset.name == "nyud"


def test_a_bad_checkpoint_at_start_runs_the_untrained_network(recorded, tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    recorded.worker.request(Request(str(bad), "mobilenet_v2", FAST))
    assert "not a PyTorch checkpoint" in recorded.failed[0]
    assert recorded.running[-1].name == "untrained" and recorded.frame() is not None


def test_a_device_that_gave_way_on_a_frame_is_said_once(recorded):
    recorded.worker.request(Request(str(REFERENCE_CKPT), "mobilenet_v2", FAST))
    recorded.frame()
    predictor = recorded.worker.predictor
    reason = "CUDA fp16 failed (CUDA error: out of memory); running on the CPU in fp32"
    predictor.applied = dataclasses.replace(predictor.applied, reason=reason)  # as the engine does on a frame
    count = len(recorded.running)
    recorded.frame()
    assert len(recorded.running) == count + 1 and recorded.running[-1].notice == reason
    recorded.frame()
    assert len(recorded.running) == count + 1  # said once


def test_only_the_newest_pending_request_is_applied(recorded, monkeypatch):
    applied = []
    monkeypatch.setattr(recorded.worker, "_requested", type("Quiet", (), {"emit": lambda self: None})())
    monkeypatch.setattr(recorded.worker, "apply", applied.append)
    for size in (64, 96, 128):
        recorded.worker.request(Request(str(REFERENCE_CKPT), "mobilenet_v2", dataclasses.replace(FAST, size=size)))
    recorded.worker._apply_pending()
    recorded.worker._apply_pending()
    assert [r.settings.size for r in applied] == [128]


def test_stopping_abandons_a_warm_up_quietly(recorded):
    recorded.worker.request(Request(str(REFERENCE_CKPT), "mobilenet_v2", FAST))
    recorded.worker.stop()
    assert recorded.frame() is None and not recorded.failed
