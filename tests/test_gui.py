"""The desktop window, offscreen: frames flow, toggles change what is shown, hover, recording, errors, shutdown."""
import threading
import time

import cv2
import numpy as np
import pytest
from PyQt5.QtCore import QPointF, QSettings, Qt
from PyQt5.QtWidgets import QTableWidget

from app.compose import blend, side_by_side
from app.sources import CameraSource, SourceError, SyntheticSource, VideoSource
from app.window import MainWindow, run
from app.worker import Output
from model.engine import Result
from model.presets import get_preset
from run_demo import build_parser, given_flags

from .conftest import REFERENCE_CKPT, read_video

SIZE = "64"  # long side the network sees: tiny, so that CPU inference takes milliseconds
WAIT_MS = 60000  # generous: a shared, loaded CPU can stall a tiny network for seconds


@pytest.fixture(autouse=True)
def no_installed_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("JOINTSEG_WEIGHTS", str(tmp_path / "weights"))


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def make_window(qtbot, settings, tmp_path):
    windows = []

    def make(*flags, source=None, weights=str(REFERENCE_CKPT)):
        argv = ["--size", SIZE, "--backend", "torch", "--snapshots", str(tmp_path / "snaps"), *flags]
        if weights:
            argv += ["--weights", weights]
        parser = build_parser()
        args = parser.parse_args(argv)
        args.given = given_flags(parser, argv)
        window = MainWindow(args, settings=settings, source=source)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        assert window.shutdown()


def small_synthetic():
    return SyntheticSource(width=128, height=96)


def missing_video(tmp_path):
    return VideoSource(tmp_path / "absent.avi")  # fails to open: no frames interfere with a fed result


def wait_for_result(qtbot, window, condition=lambda w: True):
    qtbot.waitUntil(lambda: window.result is not None and condition(window), timeout=WAIT_MS)
    return window.result


def known_result(preset_name="nyud-three", shape=(96, 128)):
    """Left 80 columns 'chair' at 2.5 m, the rest 'floor' at 6.0 m."""
    preset = get_preset(preset_name)
    h, w = shape
    labels = np.full((h, w), preset.classes.index("floor"), np.uint8)
    labels[:, :80] = preset.classes.index("chair")
    depth = np.where(labels == preset.classes.index("chair"), 2.5, 6.0).astype(np.float32)
    frame = np.zeros((h, w, 3), np.uint8)
    frame[:, :, 1] = np.linspace(0, 255, w, dtype=np.uint8)[None]
    segm = preset.colours[labels]
    depth_rgb = np.dstack([(depth * 30).astype(np.uint8)] * 3)
    normals = np.full((h, w, 3), 128, np.uint8)
    return Result(frame, labels, depth, segm, depth_rgb, normals, preset,
                  {"upload": 1.0, "network": 2.0, "postprocess": 1.0, "download": 0.5, "total": 4.5})


def feed(window, result, index=0):
    window.show_output(Output(result, index, time.perf_counter(), result.frame.shape[:2], "CPU fp32, test"))


def hover(window, qtbot, row, col):
    """Moves the pointer over pixel (row, col) of the first panel, through the scene like a real mouse move."""
    qtbot.wait(50)  # the views settle their ranges on the event loop, as on screen
    panel = window.views.panels[window.views.names[0]]
    scene_pos = panel.view.mapViewToScene(QPointF(col + 0.5, row + 0.5))
    window.views.scene().sigMouseMoved.emit(scene_pos)


def test_frames_flow_to_every_view(qtbot, make_window):
    window = make_window(source=small_synthetic())
    result = wait_for_result(qtbot, window)
    assert result.frame.shape == (96, 128, 3)
    assert window.views.names == ["input", "segmentation", "depth", "normals"]  # nyud-three has normals
    for name, field in (("input", "frame"), ("segmentation", "segm_rgb"), ("depth", "depth_rgb"),
                        ("normals", "normals_rgb")):
        np.testing.assert_array_equal(window.views.shown_image(name), getattr(window.result, field))
    first = window.output.index
    qtbot.waitUntil(lambda: window.output.index > first + 2, timeout=WAIT_MS)  # it keeps streaming
    window.update_readout()
    text = window.performance.readout.text()
    assert "CPU fp32" in text and "random_nyud_three.ckpt" in text
    assert window.legend.count() > 0
    assert not window.warning_label.isVisibleTo(window)


def test_layout_and_opacity_toggles_change_what_is_shown(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    result = known_result()
    feed(window, result)
    window.layout_actions["blend"].trigger()
    assert window.views.names == ["blend"]
    np.testing.assert_array_equal(window.views.shown_image("blend"), blend(result.frame, result.segm_rgb, 0.5))
    window.opacity_slider.setValue(80)
    assert window.opacity == pytest.approx(0.8)
    np.testing.assert_array_equal(window.views.shown_image("blend"), blend(result.frame, result.segm_rgb, 0.8))
    window.opacity_down_action.trigger()
    assert window.opacity == pytest.approx(0.7)
    window.layout_actions["single"].trigger()
    shown = []
    for _ in range(4):
        shown.append(window.views.names[0])
        window.next_view_action.trigger()
    assert sorted(shown) == ["depth", "input", "normals", "segmentation"]
    window.set_single_view("depth")
    np.testing.assert_array_equal(window.views.shown_image("depth"), result.depth_rgb)
    assert window.views.colour_bar.scene() is not None  # the depth scale stands beside a depth view
    window.layout_actions["side"].trigger()
    assert window.views.names == ["input", "segmentation", "depth", "normals"]
    np.testing.assert_array_equal(window.composed(), side_by_side(result))


def test_device_precision_and_size_toggles(qtbot, make_window):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    if not window.has_cuda:
        assert not window.device_box.model().item(0).isEnabled()  # CUDA greyed out
        assert not window.precision_box.model().item(0).isEnabled()  # fp16 needs CUDA
        window.set_half(True)
        assert "fp16 runs on CUDA only" in window.statusBar().currentMessage()
        assert window.info["description"].startswith("CPU fp32")
    window.size_box.setCurrentIndex(window.size_box.findData(256))
    window.size_box.activated.emit(window.size_box.currentIndex())
    qtbot.waitUntil(lambda: window.output.network_hw == (192, 256), timeout=WAIT_MS)
    window.size_action.trigger()  # S: the next smaller size
    assert window.config.size == 64 and window.size_box.currentText() == "64 px"


def test_backbone_switch_keeps_the_stream_running(qtbot, make_window):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    window.backbone_box.setCurrentIndex(window.backbone_box.findData("resnet50"))
    window.backbone_box.activated.emit(window.backbone_box.currentIndex())
    qtbot.waitUntil(lambda: window.info["backbone"] == "resnet50", timeout=WAIT_MS)
    assert window.warning_label.isVisibleTo(window)  # no trained ResNet-50 here: said, not hidden
    assert "untrained ResNet-50" in window.warning_label.toolTip()
    assert "UNTRAINED" in window.windowTitle()
    seen = window.output.index
    qtbot.waitUntil(lambda: window.output.index > seen + 1, timeout=WAIT_MS)
    window.set_backbone("mobilenet_v2")  # back to the checkpoint that was open for this backbone
    qtbot.waitUntil(lambda: window.info["backbone"] == "mobilenet_v2", timeout=WAIT_MS)
    assert window.info["name"] == "random_nyud_three.ckpt" and not window.warning_label.isVisibleTo(window)


def test_hover_reports_class_and_metres_of_a_known_frame(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    feed(window, known_result())
    hover(window, qtbot, 40, 10)
    assert window.hover_label.text() == "x 10, y 40:  chair  ·  2.50 m"
    assert window.legend.class_names == ["chair", "floor"]
    chair_row = window.legend.class_names.index("chair")
    assert window.legend.item(chair_row).font().bold()
    hover(window, qtbot, 5, 120)
    assert "floor" in window.hover_label.text() and "6.00 m" in window.hover_label.text()
    window.views.scene().sigMouseMoved.emit(QPointF(-500, -500))
    assert window.hover_label.text() == ""


def test_hover_end_to_end_with_the_real_network(qtbot, make_window):
    window = make_window(source=small_synthetic())
    result = wait_for_result(qtbot, window)
    window.pause_action.setChecked(True)
    result = window.result
    hover(window, qtbot, 50, 70)
    name = result.preset.classes[int(result.labels[50, 70])]
    assert window.hover_label.text() == f"x 70, y 50:  {name}  ·  {result.depth[50, 70]:.2f} m"


def test_pause_and_single_step(qtbot, make_window):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    window.pause_action.trigger()
    qtbot.wait(300)
    frames = window.capture.frames
    qtbot.wait(300)
    assert window.capture.frames == frames
    window.step_action.trigger()
    qtbot.waitUntil(lambda: window.capture.frames == frames + 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.output.index == frames, timeout=WAIT_MS)


def test_recording_and_snapshot(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    result = known_result()
    path = tmp_path / "out" / "rec.mp4"
    window.record_path = str(path)
    window.record_action.trigger()
    for i in range(7):
        feed(window, result, i)
    window.record_action.trigger()
    window.snapshot_action.trigger()
    assert window.recorder.close()
    frames, _ = read_video(path)
    assert len(frames) == 7 and frames[0].shape == (96, 4 * 128, 3)
    assert not list(path.parent.glob(".*part*"))  # no temporary file left
    snaps = tmp_path / "snaps"
    depth = cv2.imread(str(next(snaps.glob("*_depth_mm.png"))), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth[0, 0] == 2500 and depth[0, -1] == 6000
    labels = cv2.imread(str(next(snaps.glob("*_labels.png"))), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(labels, result.labels)
    view = cv2.imread(str(next(snaps.glob("*_view.png"))))
    assert view.shape == (96, 4 * 128, 3)


def test_missing_camera_says_so_and_keeps_running(qtbot, make_window, capsys):
    window = make_window(source=CameraSource(7))
    qtbot.waitUntil(lambda: "camera 7" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    assert "cannot be opened" in window.statusBar().currentMessage()
    assert "camera 7" in window.placeholder.text()
    assert "error: camera 7: cannot be opened" in capsys.readouterr().err
    window.open_source(small_synthetic())  # the window still works
    wait_for_result(qtbot, window)


def test_broken_video_says_so(qtbot, make_window, tmp_path, capsys):
    broken = tmp_path / "clip.avi"
    broken.write_bytes(b"RIFF not really a video" * 50)
    window = make_window(source=VideoSource(broken))
    qtbot.waitUntil(lambda: "not a video" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    assert f"error: {broken}: not a video that OpenCV can read" in capsys.readouterr().err


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
    assert window.info["name"] == "untrained" and window.warning_label.isVisibleTo(window)


def test_missing_catalogue_weights_say_how_to_get_them(qtbot, make_window, tmp_path, capsys):
    window = make_window(source=missing_video(tmp_path), weights="nyud")
    qtbot.waitUntil(lambda: window.info is not None, timeout=WAIT_MS)
    err = capsys.readouterr().err
    assert "nyud: weights not installed" in err and "python -m model.weights download nyud" in err


def test_untrained_default_is_labelled(qtbot, make_window):
    window = make_window(source=small_synthetic(), weights=None)
    wait_for_result(qtbot, window)
    assert window.info["name"] == "untrained"
    assert "python -m model.weights download nyud" in window.warning_label.toolTip()


def test_close_joins_every_thread(qtbot, make_window):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    window.record_path = None
    window.record_action.trigger()
    window.close()
    assert window.shutdown()
    assert window.worker_thread.isFinished()
    assert not window.recorder._thread.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "capture"]


def test_settings_remember_source_model_and_layout(qtbot, make_window, tmp_path):
    first = make_window(source=small_synthetic())
    wait_for_result(qtbot, first)
    first.layout_actions["blend"].trigger()
    first.opacity_slider.setValue(30)
    first.close()
    second = make_window(weights=None)  # no flags: what was used last
    assert second.layout_mode == "blend" and second.opacity == pytest.approx(0.3)
    assert second.config.weights == str(REFERENCE_CKPT)
    assert second.capture.source.kind == "synthetic"
    third = make_window("--overlay", "side", weights=None)  # a typed flag wins
    assert third.layout_mode == "side"


def test_dropped_paths_open_as_source_or_model(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((96, 128, 3), np.uint8))
    window.open_path(folder)
    assert window.capture.source.kind == "images"
    window.open_path(tmp_path / "clip.mp4")
    assert window.capture.source.kind == "video"
    window.open_path(REFERENCE_CKPT)
    assert window.config.weights == str(REFERENCE_CKPT)


def test_every_toggle_has_a_shortcut_listed_in_help(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    listed = dict((text, key) for key, text in window.shortcuts())
    for text in ("Pause", "Step one frame", "Side by side", "Blend", "Single", "Next single view",
                 "Next backbone", "Next model", "Use CUDA", "fp16 (half precision)", "Next input size",
                 "Record", "Snapshot", "Open video", "Performance plots", "Opacity +10 %"):
        assert text in listed, text
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(window.views, Qt.Key_2)  # a real key press reaches the action
    assert window.layout_mode == "blend"
    qtbot.keyClick(window.views, Qt.Key_BracketLeft)
    assert window.opacity == pytest.approx(0.4)
    dialog = window.show_shortcuts()
    assert dialog.findChild(QTableWidget).rowCount() == len(window.shortcuts())
    dialog.close()


def test_without_a_display_the_demo_says_so_instead_of_aborting(monkeypatch, capsys):
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert run(build_parser().parse_args([])) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no display") and "--no-gui" in err and "\n" not in err
