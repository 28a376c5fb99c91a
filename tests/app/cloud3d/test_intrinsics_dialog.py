"""Setting the camera intrinsics in the window: the dialog refuses wrong text or an unreadable file in one line and
stays open; the choice changes what the window uses, is remembered, and a typed flag wins over it."""
import pytest
from PyQt5.QtWidgets import QDialog

from app.cloud3d import semantic3d
from app.cloud3d.intrinsics_choice import KINDS, IntrinsicsChoice
from app.cloud3d.intrinsics_dialog import IntrinsicsDialog
from app.remembered import Remembered
from tests.app.gui_support import demo_args, feed, known_result, missing_video


def choose(dialog, kind, text=""):
    dialog.buttons.button(KINDS.index(kind)).setChecked(True)
    if kind in dialog.fields:
        dialog.fields[kind].setText(text)
    dialog.accept()


@pytest.mark.parametrize("kind, text, message", [("explicit", "500,500", "expected 4 comma-separated numbers"),
                                                 ("hfov", "0", "between 0 and 180"),
                                                 ("calibration", "/nowhere/camera.yaml", "no such calibration")])
def test_the_dialog_says_what_is_wrong_in_one_line_and_stays_open(qtbot, kind, text, message):
    dialog = IntrinsicsDialog(None, IntrinsicsChoice())
    qtbot.addWidget(dialog)
    choose(dialog, kind, text)
    assert message in dialog.error.text() and "\n" not in dialog.error.text()
    assert dialog.result() != QDialog.Accepted and dialog.chosen is None


def test_the_dialog_gives_the_choice_made(qtbot, tmp_path):
    calibration = tmp_path / "camera.yaml"
    calibration.write_text("%YAML:1.0\nimage_width: 640\nimage_height: 480\ncamera_matrix: !!opencv-matrix\n"
                           "  rows: 3\n  cols: 3\n  dt: d\n  data: [500, 0, 319.5, 0, 500, 239.5, 0, 0, 1]\n")
    for kind, text, expected in (("hfov", "75", IntrinsicsChoice(hfov=75.0)),
                                 ("explicit", "500,500,320,240", IntrinsicsChoice(explicit="500,500,320,240")),
                                 ("calibration", str(calibration), IntrinsicsChoice(calibration=str(calibration))),
                                 ("automatic", "", IntrinsicsChoice())):
        dialog = IntrinsicsDialog(None, IntrinsicsChoice(hfov=60.0), "in use: something")
        qtbot.addWidget(dialog)
        assert dialog.kind() == "hfov" and dialog.fields["hfov"].text() == "60"  # opens on the choice now
        choose(dialog, kind, text)
        assert dialog.result() == QDialog.Accepted and dialog.chosen == expected


def test_the_window_uses_and_remembers_the_intrinsics_chosen(qtbot, make_window, tmp_path, monkeypatch, settings):
    monkeypatch.setattr(semantic3d, "ask_intrinsics", lambda parent, choice, in_use: IntrinsicsChoice(hfov=90.0))
    window = make_window(source=missing_video(tmp_path))
    result = known_result(shape=(96, 128))
    feed(window, result)
    assert window.semantic3d.map_intrinsics(result) == result.preset.intrinsics.scaled_to((96, 128))
    window.semantic3d.intrinsics_action.trigger()  # Ctrl+I
    camera = window.semantic3d.map_intrinsics(result)
    assert camera.fx == pytest.approx(64)  # 90 degrees over 128 pixels
    assert "90 degree field of view" in window.statusBar().currentMessage()
    window.update_readout()
    assert "90 degree" in window.performance.readout.text()
    window.close()
    assert Remembered(demo_args(), settings).intrinsics() == IntrinsicsChoice(hfov=90.0)
    again = make_window(source=missing_video(tmp_path))
    feed(again, result)
    assert again.semantic3d.map_intrinsics(result).fx == pytest.approx(64)
    typed = make_window("--intrinsics", "100,100,63.5,47.5", source=missing_video(tmp_path))
    feed(typed, result)
    assert typed.semantic3d.map_intrinsics(result).fx == 100  # a typed flag wins over the remembered choice


def test_a_remembered_calibration_file_gone_since_is_said_once_and_the_automatic_camera_used(
        qtbot, make_window, tmp_path, settings):
    settings.setValue("camera/kind", "calibration")
    settings.setValue("camera/value", str(tmp_path / "moved.yaml"))
    window = make_window(source=missing_video(tmp_path))
    result = known_result(shape=(96, 128))
    feed(window, result)
    assert window.semantic3d.map_intrinsics(result) == result.preset.intrinsics.scaled_to((96, 128))
    assert "moved.yaml: no such calibration file; using the automatic intrinsics" in \
        window.statusBar().currentMessage()
