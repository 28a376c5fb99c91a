"""The main window, offscreen: frames flow to every view, toggles change what is shown and what runs, hover,
files, errors, the first run's progress, the plots, fitting the screen and shutting down."""
import threading
import time
from dataclasses import replace

import cv2
import numpy as np
import pytest
from PyQt5.QtCore import QPoint, QPointF, QRect, QRectF, QSize
from PyQt5.QtWidgets import QToolButton

from app.panels.compose import blend, composed_view, side_by_side
from app.panels.table import Arrangement
from app.sources import CameraSource, SourceError, SyntheticSource, VideoSource
from app.window.screen_fit import SMALLEST, initial_size
from model.inference import run_settings
from model.inference.engine import Predictor
from tests.app.gui_support import (
    WAIT_MS,
    feed,
    hover,
    known_result,
    low_resolution_result,
    missing_video,
    small_synthetic,
    wait_for_result,
)
from tests.conftest import REFERENCE_CKPT, read_video


def test_frames_flow_to_every_view_at_the_network_resolution(qtbot, make_window):
    window = make_window(source=small_synthetic())
    result = wait_for_result(qtbot, window)
    assert result.frame.shape == (96, 128, 3) and result.labels.shape == (48, 64)  # --size 64: maps at 64 x 48
    assert window.views.names == ["input", "segmentation", "depth", "normals"]  # nyud-three has normals
    for name, field in (("input", "frame"), ("segmentation", "segm_rgb"), ("depth", "depth_rgb"),
                        ("normals", "normals_rgb")):
        np.testing.assert_array_equal(window.views.shown_image(name), getattr(window.result, field))
        bounds = window.views.panels[name].image.mapRectToParent(window.views.panels[name].image.boundingRect())
        assert bounds == QRectF(0, 0, 128, 96)  # every map stretched over the frame's rectangle
    first = window.output.index
    qtbot.waitUntil(lambda: window.output.index > first + 2, timeout=WAIT_MS)  # it keeps streaming
    window.update_readout()
    text = window.performance.readout.text()
    assert "CPU fp32, torch" in text and "64×48 of 128×96" in text
    assert "display" in text and "end&nbsp;to&nbsp;end" in text and "drawing" in text
    assert "random_nyud_three.ckpt" in window.windowTitle()
    assert window.legend.count() > 0
    assert not window.views.banner.isVisible() and not window.status.untrained.isVisibleTo(window)


def test_layout_and_opacity_toggles_change_what_is_shown(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    result = known_result()
    feed(window, result)
    window.controls.layout_actions["blend"].trigger()
    assert window.views.names == ["blend"]
    np.testing.assert_array_equal(window.views.shown_image("blend"), blend(result.frame, result.segm_rgb, 0.5))
    window.controls.opacity_slider.setValue(80)
    assert window.arrangement.opacity == pytest.approx(0.8)
    np.testing.assert_array_equal(window.views.shown_image("blend"), blend(result.frame, result.segm_rgb, 0.8))
    window.controls.opacity_down_action.trigger()
    assert window.arrangement.opacity == pytest.approx(0.7)
    window.controls.layout_actions["single"].trigger()
    shown = []
    for _ in range(5):
        shown.append(window.views.names[0] if window.views.names else window.arrangement.single)
        window.controls.next_view_action.trigger()
    assert sorted(shown) == ["3d", "depth", "input", "normals", "segmentation"]  # 3d: the 3D view alone
    window.state.set_single_view("depth")
    np.testing.assert_array_equal(window.views.shown_image("depth"), result.depth_rgb)
    assert window.views.depth_scale.isVisible()  # the depth scale stands under a depth view
    window.controls.layout_actions["side"].trigger()
    assert window.views.names == ["input", "segmentation", "depth", "normals"]
    np.testing.assert_array_equal(composed_view(result, window.arrangement), side_by_side(result))


def test_precision_and_size_toggles_change_what_runs(qtbot, make_window):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    controls = window.controls
    fp16 = controls.precision_box.findData("fp16")
    assert controls.precision_box.model().item(fp16).isEnabled()  # PyTorch serves fp16 on the CPU: not refused
    controls.precision_box.activated.emit(fp16)
    qtbot.waitUntil(lambda: window.running.applied.precision == "fp16", timeout=WAIT_MS)
    assert window.status.device.text().strip().startswith("CPU fp16, torch")
    qtbot.waitUntil(lambda: window.result.applied.precision == "fp16", timeout=WAIT_MS)
    controls.size_box.setCurrentIndex(controls.size_box.findData(256))
    controls.size_box.activated.emit(controls.size_box.currentIndex())
    qtbot.waitUntil(lambda: window.result.network_size == (192, 256), timeout=WAIT_MS)
    controls.size_action.trigger()  # S: the next smaller size
    assert window.wanted.settings.size == 64 and controls.size_box.currentText() == "64 px"


def test_a_change_that_fails_keeps_what_runs_and_shows_it(qtbot, make_window, monkeypatch):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    warmup = Predictor.warmup

    def failing(self, *args, **kwargs):
        if self.settings.precision == "bf16":
            raise RuntimeError("CUDA error: out of memory\nmore lines")
        return warmup(self, *args, **kwargs)

    monkeypatch.setattr(Predictor, "warmup", failing)
    window.controls.set_precision("bf16")
    assert window.controls.precision_box.currentData() == "bf16"  # asked for ...
    qtbot.waitUntil(lambda: "out of memory" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.controls.precision_box.currentData() == "fp32", timeout=WAIT_MS)  # ... back
    assert window.wanted.settings.precision == "fp32" and window.running.applied.precision == "fp32"
    seen = window.output.index
    qtbot.waitUntil(lambda: window.output.index > seen + 1, timeout=WAIT_MS)  # the old predictor still runs
    assert window.result.applied.precision == "fp32"


def test_a_size_beyond_memory_is_refused_in_one_line_and_what_runs_stays(qtbot, make_window, monkeypatch):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    monkeypatch.setattr(run_settings, "free_memory", lambda: run_settings.BYTES_PER_PIXEL * 500 ** 2)
    controls, asked = window.controls, window.wanted
    controls.size_box.setCurrentIndex(controls.size_box.findData(640))
    controls.size_box.activated.emit(controls.size_box.currentIndex())
    assert window.statusBar().currentMessage() == ("⚠ input size 640 is more than this machine can hold: 500 pixels "
                                                   "at most with 0.5 GiB of memory free")
    assert window.wanted is asked and controls.size_box.currentData() == asked.settings.size  # the box goes back
    controls.size_box.setCurrentIndex(controls.size_box.findData(320))
    controls.size_box.activated.emit(controls.size_box.currentIndex())
    assert window.wanted.settings.size == 320


def test_backbone_switch_keeps_the_stream_running(qtbot, make_window):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    box = window.controls.backbone_box
    box.setCurrentIndex(box.findData("resnet50"))
    box.activated.emit(box.currentIndex())
    qtbot.waitUntil(lambda: window.running.backbone == "resnet50", timeout=WAIT_MS)
    assert window.status.untrained.isVisibleTo(window)  # no trained ResNet-50 here: said, not hidden
    assert window.views.banner.isVisible() and "untrained ResNet-50" in window.views.banner.text
    assert "UNTRAINED" in window.windowTitle()
    seen = window.output.index
    qtbot.waitUntil(lambda: window.output.index > seen + 1, timeout=WAIT_MS)
    window.state.choose_backbone("mobilenet_v2")  # back to the checkpoint that was open for this backbone
    qtbot.waitUntil(lambda: window.running.backbone == "mobilenet_v2", timeout=WAIT_MS)
    assert window.running.name == "random_nyud_three.ckpt" and not window.views.banner.isVisible()


def test_hover_reports_class_and_metres_of_a_known_frame(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    feed(window, known_result())
    window.update_readout()  # the legend follows the readout's timer
    hover(window, qtbot, 40, 10)
    camera = window.result.preset.intrinsics.scaled_to((96, 128))  # the preset's Kinect, scaled to the maps
    x, y = (10 - camera.cx) * 2.5 / camera.fx, (40 - camera.cy) * 2.5 / camera.fy
    assert window.status.hover.text() == f"x 10, y 40:  chair  ·  2.50 m  ·  ({x:+.2f}, {y:+.2f}, 2.50) m"
    assert window.status.hover.isVisible()
    assert window.legend.class_names == ["chair", "floor"]
    assert window.legend.item(window.legend.class_names.index("chair")).font().bold()
    hover(window, qtbot, 5, 120)
    assert "floor" in window.status.hover.text() and "6.00 m" in window.status.hover.text()
    window.views.scene().sigMouseMoved.emit(QPointF(-500, -500))
    assert window.status.hover.text() == "" and window.status.hover.isHidden()  # the messages have its room


def test_hover_reads_maps_at_the_network_resolution_at_the_matching_pixel(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    feed(window, low_resolution_result(shape=(96, 128), network_shape=(48, 64)))  # chair: map columns < 40
    hover(window, qtbot, 90, 78)  # frame column 78 -> map column 39: chair
    assert window.status.hover.text().startswith("x 78, y 90:  chair  ·  2.50 m  ·  (")
    hover(window, qtbot, 90, 80)  # -> map column 40: floor
    assert window.status.hover.text().startswith("x 80, y 90:  floor  ·  6.00 m  ·  (")


def test_hover_end_to_end_with_the_real_network(qtbot, make_window):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    window.controls.pause_action.setChecked(True)
    qtbot.wait(200)
    window.redraw()
    result = window.result
    hover(window, qtbot, 50, 70)
    row, col = 50 * result.labels.shape[0] // 96, 70 * result.labels.shape[1] // 128
    name = result.preset.classes[int(result.labels[row, col])]
    assert window.status.hover.text().startswith(f"x 70, y 50:  {name}  ·  {result.depth[row, col]:.2f} m")


def test_pause_and_single_step(qtbot, make_window):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    window.controls.pause_action.trigger()
    qtbot.wait(300)
    frames = window.pipeline.frames
    qtbot.wait(300)
    assert window.pipeline.frames == frames
    window.controls.step_action.trigger()
    qtbot.waitUntil(lambda: window.pipeline.frames == frames + 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.output.index == frames, timeout=WAIT_MS)


def test_recording_and_snapshot_hold_the_full_resolution(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    result = low_resolution_result()
    full = result.at_full_size()
    path = tmp_path / "out" / "rec.mp4"
    window.record_path = str(path)
    window.controls.record_action.trigger()
    for i in range(7):
        feed(window, result, i)
    window.controls.record_action.trigger()
    window.controls.snapshot_action.trigger()
    assert window.pipeline.recorder.close()
    frames, _ = read_video(path)
    assert len(frames) == 7 and frames[0].shape == (96, 4 * 128, 3)
    assert not list(path.parent.glob(".*part*"))  # no temporary file left
    snaps = tmp_path / "snaps"
    depth = cv2.imread(str(next(snaps.glob("*_depth_mm.png"))), cv2.IMREAD_UNCHANGED)
    assert depth.shape == (96, 128) and depth[0, 0] == 2500 and depth[0, -1] == 6000
    labels = cv2.imread(str(next(snaps.glob("*_labels.png"))), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(labels, full.labels)
    view = cv2.imread(str(next(snaps.glob("*_view.png"))))
    assert view.shape == (96, 4 * 128, 3)


def test_missing_camera_says_so_and_keeps_running(qtbot, make_window, capsys):
    window = make_window(source=CameraSource(7))
    qtbot.waitUntil(lambda: "camera 7" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    assert "cannot be opened" in window.statusBar().currentMessage()
    assert "camera 7" in window.startup.heading.text()
    assert "error: camera 7: cannot be opened" in capsys.readouterr().err
    window.open_source(small_synthetic())  # the window still works
    wait_for_result(qtbot, window)


def test_broken_video_says_so(qtbot, make_window, tmp_path, capsys):
    broken = tmp_path / "clip.avi"
    broken.write_bytes(b"RIFF not really a video" * 50)
    window = make_window(source=VideoSource(broken))
    qtbot.waitUntil(lambda: "not a video" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    assert f"error: {broken}: not a video that OpenCV can read" in capsys.readouterr().err


def test_a_fallback_is_an_error_and_news_of_the_automatic_choice_a_plain_line(qtbot, make_window, tmp_path, capsys):
    window = make_window(source=missing_video(tmp_path))
    qtbot.waitUntil(lambda: window.running is not None, timeout=WAIT_MS)
    capsys.readouterr()
    running, note = window.running, "no int8 variant beats bf16 inside the accuracy guard here"
    window.on_running(replace(running, chosen=True, applied=replace(running.applied, note=note)))
    assert window.statusBar().currentMessage() == note and "error" not in capsys.readouterr().err
    reason = "CUDA fp16 failed (CUDA error: out of memory); running on the CPU in fp32"
    window.on_running(replace(running, chosen=True, notice=reason, applied=replace(running.applied, reason=reason)))
    assert window.statusBar().currentMessage() == f"⚠ {reason}"
    assert capsys.readouterr().err == f"error: {reason}\n"


class UnpluggedCamera(SyntheticSource):
    kind = "camera"
    name = "camera 3"
    index = 3

    def read(self):
        if self.position >= 3:
            raise SourceError("camera 3: stopped delivering frames (unplugged?)")
        return super().read()


def test_camera_unplugged_mid_stream(qtbot, make_window):
    window = make_window(source=UnpluggedCamera(width=128, height=96))
    qtbot.waitUntil(lambda: "unplugged" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    wait_for_result(qtbot, window)  # the frames before it are still shown


def test_bad_checkpoint_falls_back_to_a_labelled_untrained_network(qtbot, make_window, tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    window = make_window(source=small_synthetic(), weights=str(bad))
    wait_for_result(qtbot, window)
    assert "not a PyTorch checkpoint" in capsys.readouterr().err
    assert window.running.name == "untrained" and window.views.banner.isVisible()


def test_missing_catalogue_weights_say_how_to_get_them(qtbot, make_window, tmp_path, capsys):
    window = make_window(source=missing_video(tmp_path), weights="nyud")
    qtbot.waitUntil(lambda: window.running is not None, timeout=WAIT_MS)
    err = capsys.readouterr().err
    assert "nyud: weights not installed" in err and "python -m model weights download nyud" in err


def test_untrained_default_is_labelled_over_the_segmentation(qtbot, make_window):
    window = make_window(source=small_synthetic(), weights=None)
    wait_for_result(qtbot, window)
    assert window.running.name == "untrained"
    banner, panel = window.views.banner, window.views.panels["segmentation"].view
    assert banner.isVisible() and "python -m model weights download nyud" in banner.text
    assert panel.sceneBoundingRect().contains(banner.sceneBoundingRect().topLeft())
    assert "python -m model weights download nyud" in window.status.untrained.toolTip()


def test_the_first_run_shows_its_progress_and_stays_responsive(qtbot, make_window, monkeypatch):
    warmup = Predictor.warmup

    def slow(self, frame_size, progress=None):
        for step in range(5):  # a slow machine's stages, each reported
            progress(step / 5, f"stage {step}")
            time.sleep(0.2)
        return warmup(self, frame_size, progress)

    monkeypatch.setattr(Predictor, "warmup", slow)
    window = make_window(source=small_synthetic())
    seen = []
    window.pipeline.worker.progress.connect(lambda fraction, message: seen.append(
        (fraction, message, window.stack.currentWidget() is window.startup, window.startup.bar.isVisible(),
         window.startup.step.text())))
    qtbot.waitUntil(lambda: any(m == "stage 2" for _, m, *_ in seen), timeout=WAIT_MS)
    timer = qtbot.waitSignal(window.readout_timer.timeout, timeout=2000)  # the GUI thread is free meanwhile
    with timer:
        pass
    wait_for_result(qtbot, window)
    stages = [(f, m) for f, m, shown, bar, text in seen if shown and bar and text == m and m]
    assert [m for _, m in stages if m.startswith("stage")] == [f"stage {i}" for i in range(5)]
    assert any(m.startswith("ready: CPU fp32, torch") for _, m in stages)
    fractions = [f for f, m in stages if f >= 0 and not m.startswith("stage")]  # the predictor's own stages
    assert len(fractions) >= 2 and fractions == sorted(fractions)
    assert window.stack.currentWidget() is window.splitter and window.views.isVisible()


def test_plots_leave_the_warm_up_out(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    window.update_readout()
    assert not any(window.performance.history.values())  # no samples before the first result
    slow = known_result()
    feed(window, slow, warmed=True)
    window.end_to_end_ms = 20000.0  # the first frame waited for the warm-up
    window.update_readout()
    assert not any(window.performance.history.values())  # one frame: no rate yet, and no latency
    feed(window, known_result(), index=1)
    window.update_readout()
    assert len(window.performance.history["display"]) == 1 and window.performance.history["display"][0][1] > 0
    assert max(v for _, v in window.performance.history["end to end"]) < 20000.0


def test_close_joins_every_thread(qtbot, make_window):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    window.record_path = None
    window.controls.record_action.trigger()
    window.close()
    assert window.shutdown()
    assert window.pipeline.worker_thread.isFinished()
    assert not window.pipeline.recorder._thread.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "capture"]


def test_dropped_paths_open_as_source_or_model(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((96, 128, 3), np.uint8))
    window.open_path(folder)
    assert window.pipeline.source.kind == "images"
    window.open_path(tmp_path / "clip.mp4")
    assert window.pipeline.source.kind == "video"
    window.open_path(REFERENCE_CKPT)
    assert window.wanted.weights == str(REFERENCE_CKPT)


@pytest.mark.parametrize("size", [QSize(1280, 720), QSize(1366, 768), QSize(1920, 1080)])
def test_the_window_fits_the_screen_and_every_toolbar_action_is_reachable(qtbot, make_window, tmp_path, size):
    assert initial_size(size).width() <= size.width() and initial_size(size).height() <= size.height()
    window = make_window(source=missing_video(tmp_path))
    feed(window, known_result(shape=(480, 640)))
    window.resize(initial_size(size))
    qtbot.wait(100)
    assert window.width() <= size.width() and window.height() <= size.height()
    bar = window.controls.toolbar
    extension = bar.findChild(QToolButton, "qt_toolbar_ext_button")
    for action in bar.actions():
        widget = bar.widgetForAction(action)
        if action.isSeparator() or widget is None:
            continue
        shown = widget.isVisible() and bar.rect().contains(widget.geometry())
        assert shown or extension.isVisible(), action.text() or widget  # on the bar, or behind its » button
    for widget in (window.statusBar(), window.views, window.performance_dock, window.legend_dock):
        assert widget.isVisible() and window.rect().contains(QRect(widget.mapTo(window, QPoint(0, 0)),
                                                                   widget.size()))
    views = window.views
    image = views.panels["input"].view.sceneBoundingRect()
    assert image.width() / image.height() == pytest.approx(640 / 480, rel=0.02)  # the aspect ratio kept
    used = max(image.width() * 2 / views.width(), (image.height() * 2 + 2 * 22 + 40) / views.height())
    assert used > 0.85  # the panels fill the view in one direction
    depth, key = views.panels["depth"].view.sceneBoundingRect(), views.depth_scale.sceneBoundingRect()
    assert key.top() == pytest.approx(depth.bottom(), abs=1) and key.width() == pytest.approx(depth.width(), abs=1)


def test_the_window_shrinks_to_the_smallest_size(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    feed(window, known_result(shape=(480, 640)))
    window.resize(SMALLEST)
    qtbot.wait(100)
    assert window.width() <= SMALLEST.width() and window.height() <= SMALLEST.height()


def test_panels_follow_the_layout_at_every_size(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    feed(window, known_result(shape=(480, 640)))
    window.state.set_single_view("segmentation")
    for size in (QSize(1024, 640), QSize(1366, 768)):
        window.resize(size)
        qtbot.wait(100)
        image, views = window.views.panels["segmentation"].view.sceneBoundingRect(), window.views
        assert image.width() > 0.9 * views.width() or image.height() > 0.85 * views.height()
    assert composed_view(window.result, Arrangement("single", "segmentation")).shape == (480, 640, 3)
