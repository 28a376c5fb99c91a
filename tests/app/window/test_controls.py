"""The controls: choices derived from the backend registry and model.inference.run_settings, the same rules for
every device, menus that mirror the toolbar, keys for every toggle, and controls that follow what runs."""
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QTableWidget

from app.window.choices import backend_choices, device_choices, precision_choices, usable
from model.inference import backends
from model.inference.run_settings import PRECISIONS, cuda_problem
from tests.app.gui_support import WAIT_MS, missing_video, small_synthetic, wait_for_result


def items(box):
    return [(box.itemData(i), box.model().item(i).isEnabled(), box.itemData(i, Qt.ToolTipRole))
            for i in range(box.count())]


def test_the_choices_come_from_the_registry():
    assert [name for name, _, _ in backend_choices("cpu")] == ["auto", *backends.REGISTRY]
    for name, label, why in backend_choices("cpu")[1:]:
        cls = backends.REGISTRY[name]
        assert label == cls.label and (why is None) == (cls.problem() is None and bool(cls.precisions.get("cpu")))
    assert [p for p, _, _ in precision_choices("cpu", "auto")] == list(PRECISIONS)
    for precision, _, why in precision_choices("cpu", "torch")[1:]:
        assert (why is None) == bool(backends.available("cpu", precision, "torch"))
    assert usable(precision_choices("cpu", "torch"), "fp16")  # PyTorch serves fp16 on the CPU: allowed
    assert not usable(precision_choices("cpu", "torch"), "int8")
    assert "int8 is not served on the CPU here by PyTorch" in dict(
        (p, why) for p, _, why in precision_choices("cpu", "torch"))["int8"]
    assert device_choices("no CUDA device")[2] == ("cuda", "CUDA", "no CUDA device")


def test_the_boxes_show_the_choices_greyed_out_with_the_reason(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    controls = window.controls
    assert [value for value, _, _ in items(controls.backend_box)] == ["auto", *backends.REGISTRY]
    cuda = dict((v, (enabled, tip)) for v, enabled, tip in items(controls.device_box))["cuda"]
    assert cuda == ((True, None) if cuda_problem() is None else (False, cuda_problem()))
    precisions = dict((v, enabled) for v, enabled, _ in items(controls.precision_box))
    assert precisions["fp16"] and not precisions["int8"]  # --backend torch: no int8 on the CPU


def test_a_precision_the_backend_lacks_moves_the_backend_to_auto_and_back(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    if not backends.available("cpu", "int8"):
        pytest.skip("no int8 backend installed")
    window.controls.set_precision("int8")
    assert (window.wanted.settings.precision, window.wanted.settings.backend) == ("int8", "auto")
    window.controls.set_backend("torch")
    assert (window.wanted.settings.precision, window.wanted.settings.backend) == ("auto", "torch")


def test_the_model_menu_mirrors_the_boxes(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    model = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Model")
    backend = next(a.menu() for a in model.actions() if a.text() == "Backend")
    backend.aboutToShow.emit()
    entries = [a for a in backend.actions() if a.isCheckable()]
    assert [a.text() for a in entries] == [window.controls.backend_box.itemText(i)
                                           for i in range(window.controls.backend_box.count())]
    assert [a.text() for a in entries if a.isChecked()] == ["PyTorch"]
    entries[0].trigger()  # auto
    assert window.wanted.settings.backend == "auto"


def test_the_controls_follow_what_runs(qtbot, make_window):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    controls = window.controls
    assert controls.model_box.currentText() == "random_nyud_three.ckpt"
    assert controls.precision_box.currentData() == "fp32" and controls.backend_box.currentData() == "torch"
    assert controls.size_box.currentText() == "64 px"
    window.controls.next_backend_action.trigger()  # E: the next backend that can run here
    assert window.wanted.settings.backend != "torch"
    qtbot.waitUntil(lambda: window.running.settings.backend == window.wanted.settings.backend, timeout=WAIT_MS)
    assert controls.backend_box.currentData() == window.running.settings.backend


def test_every_toggle_has_a_key_listed_in_help(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    listed = dict((text, key) for key, text in window.controls.shortcuts())
    for text in ("Pause", "Step one frame", "Side by side", "Blend", "Single", "Next single view",
                 "Next backbone", "Next model", "Next device", "Next precision", "Next backend",
                 "Next input size", "Record", "Snapshot", "Open video", "Performance plots", "Opacity +10 %",
                 "Classes in view", "Performance", "Keyboard shortcuts"):
        assert text in listed, text
    assert len(set(listed.values())) == len(listed)  # no key does two things
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(window.views, Qt.Key_2)  # a real key press reaches the action
    assert window.arrangement.layout == "blend"
    qtbot.keyClick(window.views, Qt.Key_BracketLeft)
    assert window.arrangement.opacity == pytest.approx(0.4)
    window.controls.shortcuts_action.trigger()
    dialog = next(w for w in window.findChildren(QTableWidget))
    assert dialog.rowCount() == len(window.controls.shortcuts())
