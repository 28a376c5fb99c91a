"""What the window remembers, and how typed flags win over it."""
import pytest
from PyQt5.QtCore import QSettings

from app.panels.table import Arrangement
from app.remembered import Remembered
from app.sources import source_for_input
from app.stream.worker import Request
from model.inference.run_settings import RunSettings
from tests.app.gui_support import demo_args, small_synthetic, wait_for_result
from tests.conftest import REFERENCE_CKPT


def save(remembered, **changes):
    values = dict(source=None, request=Request("nyud", "resnet50", RunSettings("cpu", "int8", "onnxruntime", 320)),
                  arrangement=Arrangement("single", "depth", 0.3), loop=True, plots=False, snapshot_folder="/x",
                  geometry=b"", state=b"")
    values.update(changes)
    remembered.save(**values)


def test_remembered_values_fill_in_what_was_not_typed(settings):
    save(Remembered(demo_args(), settings))
    remembered = Remembered(demo_args(), settings)
    request = remembered.request()
    assert (request.weights, request.backbone) == ("nyud", "resnet50")
    assert request.settings == RunSettings("cpu", "int8", "onnxruntime", 320)
    assert remembered.arrangement() == Arrangement("single", "depth", 0.3)
    assert remembered.loop() and str(remembered.snapshot_folder()) == "/x"


def test_typed_flags_win_over_remembered_values(settings):
    save(Remembered(demo_args(), settings))
    args = demo_args("--precision", "fp32", "--size", "64", "--overlay", "blend", "-w", str(REFERENCE_CKPT),
                     "--opacity", "0.9", "--snapshots", "/y")
    remembered = Remembered(args, settings)
    request = remembered.request()
    assert request.weights == str(REFERENCE_CKPT) and request.backbone == "resnet50"  # backbone: remembered
    assert request.settings == RunSettings("cpu", "fp32", "onnxruntime", 64)
    assert remembered.arrangement() == Arrangement("blend", "depth", 0.9)
    assert str(remembered.snapshot_folder()) == "/y"


def test_remembered_settings_that_no_longer_run_give_way_to_the_flags(settings):
    settings.setValue("run/backend", "a-backend-uninstalled-since")
    settings.setValue("view/layout", "mosaic")
    settings.setValue("view/opacity", "lots")
    remembered = Remembered(demo_args(), settings)
    assert remembered.request().settings == RunSettings()
    assert remembered.arrangement() == Arrangement()


def test_without_given_every_flag_counts_as_typed(settings):
    save(Remembered(demo_args(), settings))
    args = demo_args()
    del args.given
    assert Remembered(args, settings).request().settings == RunSettings()


def test_the_window_remembers_source_model_layout_and_run_settings(qtbot, make_window):
    first = make_window(source=small_synthetic())
    wait_for_result(qtbot, first)
    first.controls.layout_actions["blend"].trigger()
    first.controls.opacity_slider.setValue(30)
    first.close()
    second = make_window(weights=None, fast=False)  # no flags: what was used last
    assert second.arrangement.layout == "blend" and second.arrangement.opacity == pytest.approx(0.3)
    assert second.wanted.weights == str(REFERENCE_CKPT)
    assert second.wanted.settings == RunSettings("auto", "fp32", "torch", 64)
    assert second.pipeline.source.kind == "synthetic"
    third = make_window("--overlay", "side", weights=None, fast=False)  # a typed flag wins
    assert third.arrangement.layout == "side"


@pytest.mark.parametrize("kind", ["camera", "video", "images", "glob", "stream", "synthetic"])
def test_every_kind_of_source_is_restored_as_it_was_remembered(kind, settings, tmp_path):
    video, folder = tmp_path / "clip.avi", tmp_path / "frames"
    video.write_bytes(b"any file: restoring does not open it")
    folder.mkdir()
    source = source_for_input({"camera": "2", "video": str(video), "images": str(folder),
                               "glob": str(folder / "*.png"), "stream": "rtsp://user:secret@10.0.0.2:554/live",
                               "synthetic": "synthetic"}[kind], loop=True)
    save(Remembered(demo_args(), settings), source=source, loop=source.loop)
    settings.sync()
    restored = Remembered(demo_args(), QSettings(settings.fileName(), QSettings.IniFormat)).source()
    assert type(restored) is type(source) and restored.spec() == source.spec() and restored.loop == source.loop
