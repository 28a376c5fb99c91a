"""The pipeline without a window: source -> capture thread -> slot -> worker thread -> latest(), recording, and a
shutdown that joins every thread, releases the source and finalises the recording in time."""
import threading
import time

import pytest

from app.panels.table import Arrangement
from app.sources import SyntheticSource, VideoSource
from app.stream.pipeline import Pipeline
from app.stream.worker import Request
from model.inference.run_settings import RunSettings
from tests.app.gui_support import WAIT_MS
from tests.conftest import REFERENCE_CKPT, read_video

pytestmark = pytest.mark.usefixtures("no_installed_weights")


class Released(SyntheticSource):
    """A camera-like source that says when it is closed."""

    def __init__(self):
        super().__init__(width=128, height=96)
        self.closed = threading.Event()

    def close(self):
        self.closed.set()


@pytest.fixture
def pipeline():
    pipeline = Pipeline()
    yield pipeline
    pipeline.shutdown()


def newest(qtbot, pipeline, after=-1):
    outputs = []

    def arrived():
        output = pipeline.latest()
        if output is not None and output.index > after:
            outputs.append(output)
        return bool(outputs)

    qtbot.waitUntil(arrived, timeout=WAIT_MS)
    return outputs[-1]


def test_frames_go_from_the_source_to_the_newest_output(qtbot, pipeline):
    opened = []
    pipeline.source_opened.connect(opened.append)
    pipeline.configure(Request(str(REFERENCE_CKPT), "mobilenet_v2", RunSettings("cpu", "fp32", "torch", 64)))
    source = Released()
    pipeline.open_source(source)
    first = newest(qtbot, pipeline)
    assert first.result.frame.shape == (96, 128, 3) and first.result.network_size == (48, 64)
    later = newest(qtbot, pipeline, after=first.index)
    assert later.index > first.index and pipeline.frames > later.index
    assert opened == [source] and pipeline.source is source
    qtbot.waitUntil(lambda: pipeline.inference_fps() > 0, timeout=WAIT_MS)


def test_only_the_current_source_is_heard(qtbot, pipeline, tmp_path):
    failures = []
    pipeline.source_failed.connect(failures.append)
    pipeline.open_source(VideoSource(tmp_path / "absent.avi"))
    pipeline.open_source(VideoSource(tmp_path / "also-absent.avi"))
    qtbot.waitUntil(lambda: bool(failures), timeout=WAIT_MS)
    qtbot.wait(200)
    assert len(failures) == 1 and "also-absent.avi" in failures[0]


def test_shutdown_joins_every_thread_releases_the_source_and_finalises_the_recording(qtbot, tmp_path):
    before = set(threading.enumerate())
    pipeline = Pipeline()
    pipeline.configure(Request(str(REFERENCE_CKPT), "mobilenet_v2", RunSettings("cpu", "fp32", "torch", 64)))
    source = Released()
    pipeline.open_source(source)
    path = tmp_path / "rec.mp4"
    pipeline.start_recording(path, 10.0)
    shown = newest(qtbot, pipeline)
    for _ in range(3):
        pipeline.record(shown.result, Arrangement("blend"))
    start = time.perf_counter()
    assert pipeline.shutdown()
    assert time.perf_counter() - start < 2.5
    assert source.closed.is_set() and pipeline.worker_thread.isFinished()
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]
    frames, _ = read_video(path)
    assert len(frames) == 3 and frames[0].shape == (96, 128, 3)  # the blend, at the frame's size
    assert pipeline.shutdown()  # again: nothing left to do


def test_shutdown_in_the_middle_of_a_warm_up_is_quick(qtbot, monkeypatch):
    from model.inference.engine import Predictor

    def endless(self, frame_size, progress=None):
        while True:  # a warm-up reports progress as it goes; the pipeline's stop ends it there
            progress(0.5, "measuring")
            time.sleep(0.05)

    monkeypatch.setattr(Predictor, "warmup", endless)
    pipeline = Pipeline()
    started = threading.Event()
    pipeline.worker.progress.connect(lambda fraction, message: message == "measuring" and started.set())
    pipeline.configure(Request(str(REFERENCE_CKPT), "mobilenet_v2", RunSettings("cpu", "fp32", "torch", 64)))
    pipeline.open_source(Released())
    qtbot.waitUntil(started.is_set, timeout=WAIT_MS)
    start = time.perf_counter()
    assert pipeline.shutdown()
    assert time.perf_counter() - start < 2.5
