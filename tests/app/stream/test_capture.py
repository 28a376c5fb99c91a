"""The capture thread and its one-frame slot: newest frame only, drops counted, pacing, pause and step, ends and
failures said, and a stop that ends the thread."""
import threading
import time

import cv2
import numpy as np

from app.sources import ImageFolderSource, SyntheticSource, VideoSource
from app.stream.capture import Capture, Frame, FrameSlot
from tests.app.gui_support import WAIT_MS


def test_the_slot_keeps_the_newest_frame_and_counts_the_others():
    slot = FrameSlot()
    assert slot.take() is None
    assert slot.put(Frame("a", 0, 0.0))  # was empty: the taker needs a wake-up
    assert not slot.put(Frame("b", 1, 0.0))  # replaces the untaken one
    assert slot.dropped == 1 and slot.take().image == "b" and slot.take() is None
    assert slot.wait_empty(0.01)


def start(source, paused=False):
    slot = FrameSlot()
    capture = Capture(source, slot, paused=paused)
    events = {"opened": [], "ended": [], "failed": []}
    for name, found in events.items():
        getattr(capture, name).connect(found.append)
    capture.start()
    return capture, slot, events


def test_the_synthetic_scene_is_paced_and_the_slow_reader_drops_frames(qtbot):
    capture, slot, events = start(SyntheticSource(width=64, height=48))
    qtbot.waitUntil(lambda: capture.frames >= 15, timeout=WAIT_MS)
    started, frames = time.perf_counter(), capture.frames
    qtbot.waitUntil(lambda: capture.frames >= frames + 15, timeout=WAIT_MS)
    rate = (capture.frames - frames) / (time.perf_counter() - started)
    assert rate < 45  # paced at 30 fps, not as fast as it can
    assert slot.dropped > 0  # nobody took them: all but the newest dropped
    assert events["opened"] and slot.take().image.shape == (48, 64, 3)
    capture.stop()
    assert capture.join(2.0) and not capture.is_alive()


def test_an_image_folder_gives_every_image_once_then_ends(qtbot, tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((40, 50, 3), 80 * i, np.uint8))
    capture, slot, events = start(ImageFolderSource(tmp_path))
    taken = []

    def take():
        frame = slot.take()
        if frame is not None:
            taken.append(int(frame.image[0, 0, 0]))
        return bool(events["ended"])

    qtbot.waitUntil(take, timeout=WAIT_MS)
    take()
    assert taken == [0, 80, 160] and slot.dropped == 0 and events["ended"] == [tmp_path.name]


def test_pause_and_step_read_exactly_one_frame(qtbot):
    capture, slot, _ = start(SyntheticSource(width=64, height=48), paused=True)
    time.sleep(0.3)
    assert capture.frames == 0 and capture.paused
    capture.step()
    qtbot.waitUntil(lambda: capture.frames == 1, timeout=WAIT_MS)
    time.sleep(0.3)
    assert capture.frames == 1 and capture.paused
    capture.set_paused(False)
    qtbot.waitUntil(lambda: capture.frames > 3, timeout=WAIT_MS)
    capture.stop()
    assert capture.join(2.0)


def test_a_source_that_cannot_open_says_why_and_the_thread_ends(qtbot, tmp_path):
    capture, _, events = start(VideoSource(tmp_path / "absent.mp4"))
    qtbot.waitUntil(lambda: bool(events["failed"]), timeout=WAIT_MS)
    assert "no such file" in events["failed"][0] and "\n" not in events["failed"][0]
    assert capture.join(2.0)


def test_stop_ends_a_paused_capture_and_closes_the_source():
    closed = threading.Event()

    class Watched(SyntheticSource):
        def close(self):
            closed.set()

    capture, _, _ = start(Watched(width=64, height=48), paused=True)
    time.sleep(0.1)
    capture.stop()
    assert capture.join(2.0) and closed.is_set()
