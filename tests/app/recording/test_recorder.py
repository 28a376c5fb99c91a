"""The recorder: results at the network's size become full-resolution files on the writer thread, atomically;
failures are said in one line and the recorder goes on; a killed recorder leaves a playable part file."""
import subprocess
import sys
import threading

import cv2
import numpy as np

from app.panels.compose import side_by_side
from app.panels.table import Arrangement
from app.recording.recorder import Recorder
from model.geometry.intrinsics import Intrinsics
from tests.app.gui_support import WAIT_MS, low_resolution_result
from tests.conftest import ROOT, read_video


def watched(result):
    """``result`` noting the threads its full-size maps are made on."""
    threads, finish = [], result.finish

    def noting(raw, size):
        threads.append(threading.current_thread().name)
        return finish(raw, size)

    result.finish = noting
    return result, threads


def test_a_recording_holds_full_resolution_views_made_on_the_writer_thread(tmp_path):
    recorder = Recorder()
    result, threads = watched(low_resolution_result())
    path = tmp_path / "out" / "rec.mp4"
    recorder.start_recording(path, 12.0)
    for _ in range(5):
        recorder.add_frame(result, Arrangement("side"))
    recorder.stop_recording()
    assert recorder.close()
    frames, fps = read_video(path)
    assert len(frames) == 5 and frames[0].shape == (96, 4 * 128, 3) and fps == 12.0
    expected = cv2.cvtColor(side_by_side(result.at_full_size()), cv2.COLOR_RGB2BGR)
    assert np.abs(frames[0].astype(int) - expected).mean() < 8  # MPEG-4's loss only
    assert set(threads[:5]) == {"recorder"}
    assert not list(path.parent.glob("*part*"))


def test_a_snapshot_saves_the_view_labels_and_depth_at_the_frame_size(qtbot, tmp_path):
    recorder = Recorder()
    saved = []
    recorder.saved.connect(saved.append)
    result, threads = watched(low_resolution_result())
    recorder.snapshot(tmp_path, "shot", result, Arrangement("blend", opacity=0.5))
    assert recorder.close()
    full = result.at_full_size()
    labels = cv2.imread(str(tmp_path / "shot_labels.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(labels, full.labels)
    depth = cv2.imread(str(tmp_path / "shot_depth_mm.png"), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.shape == (96, 128) and depth[0, 0] == 2500 and depth[0, -1] == 6000
    assert cv2.imread(str(tmp_path / "shot_view.png")).shape == (96, 128, 3)
    assert threads[0] == "recorder"
    qtbot.waitUntil(lambda: bool(saved), timeout=WAIT_MS)
    assert "shot_view.png" in saved[0]
    assert not (tmp_path / "shot_cloud.ply").exists()  # no intrinsics given: no point cloud


def test_a_snapshot_with_intrinsics_also_writes_the_full_resolution_cloud(qtbot, tmp_path):
    from plyfile import PlyData

    recorder = Recorder()
    saved = []
    recorder.saved.connect(saved.append)
    result, threads = watched(low_resolution_result())
    recorder.snapshot(tmp_path, "shot", result, Arrangement(), Intrinsics.from_hfov(60, (96, 128)))
    assert recorder.close()
    vertex = PlyData.read(str(tmp_path / "shot_cloud.ply"))["vertex"]
    assert vertex.count == 96 * 128 and set(vertex["z"]) == {2.5, 6.0}
    assert threads == ["recorder"] and not list(tmp_path.glob("*part*"))
    qtbot.waitUntil(lambda: bool(saved), timeout=WAIT_MS)
    assert "shot_cloud.ply" in saved[0]


def test_failures_are_said_in_one_line_and_the_recorder_goes_on(qtbot, tmp_path):
    recorder = Recorder()
    failed = []
    recorder.failed.connect(failed.append)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    recorder.snapshot(blocker / "inside", "shot", low_resolution_result(), Arrangement())
    recorder.start_recording(tmp_path / "empty.mp4", 10.0)
    recorder.stop_recording()  # no frames: nothing to keep
    recorder.snapshot(tmp_path, "after", low_resolution_result(), Arrangement())
    assert recorder.close()
    qtbot.waitUntil(lambda: len(failed) == 2, timeout=WAIT_MS)
    assert failed[0].startswith("snapshot failed") and "nothing recorded" in failed[1]
    assert all("\n" not in message for message in failed)
    assert (tmp_path / "after_view.png").is_file() and not (tmp_path / "empty.mp4").exists()


def test_a_full_queue_drops_frames_rather_than_wait(tmp_path):
    recorder = Recorder()
    release = threading.Event()
    result = low_resolution_result()
    finish = result.finish
    result.finish = lambda raw, size: release.wait(10) and finish(raw, size)  # a writer that falls behind
    recorder.start_recording(tmp_path / "rec.mp4", 10.0)
    for _ in range(20):
        recorder.add_frame(result, Arrangement())
    assert recorder.dropped > 0 and recorder.frames_queued + recorder.dropped == 20
    release.set()
    assert recorder.close(10.0)


RECORDING_UNTIL_KILLED = """
import sys, time
from app.panels.table import Arrangement
from app.recording.recorder import Recorder
from tests.app.gui_support import low_resolution_result
recorder, result = Recorder(), low_resolution_result()
recorder.start_recording(sys.argv[1], 10.0)
while True:
    queued = recorder.frames_queued
    recorder.add_frame(result, Arrangement("side"))
    if recorder.frames_queued > queued:
        print(recorder.frames_queued, flush=True)
    else:
        time.sleep(0.01)  # the queue is full: the writer is behind
"""


def test_a_recording_killed_by_sigkill_keeps_its_frames_in_a_playable_part_file(tmp_path):
    path = tmp_path / "rec.mp4"
    process = subprocess.Popen([sys.executable, "-c", RECORDING_UNTIL_KILLED, str(path)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    queued = 0
    try:
        while queued < 30 and (line := process.stdout.readline()):
            queued = int(line)
        process.kill()  # SIGKILL: nothing is finalised
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert queued >= 30, process.stderr.read()
    frames, fps = read_video(tmp_path / "rec.part.mp4")
    # at most QUEUE_FRAMES wait in the queue, one is being written and the last written awaits the next to be flushed
    assert len(frames) >= queued / 2 and frames[0].shape == (96, 4 * 128, 3) and fps == 10.0
    assert not path.exists()
