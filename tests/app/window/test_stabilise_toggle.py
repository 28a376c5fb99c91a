"""The stabilisation toggle (toolbar, View menu, I) and the flicker figure of the Performance panel."""
import pytest
from PyQt5.QtCore import Qt

from model.inference.stabiliser import DEFAULT_STRENGTH
from tests.app.gui_support import WAIT_MS, small_synthetic, wait_for_result


def test_i_turns_stabilisation_on_and_the_worker_applies_it(qtbot, make_window):
    window = make_window(source=small_synthetic())
    wait_for_result(qtbot, window)
    controls = window.controls
    assert not controls.stabilise_action.isChecked() and window.running.stabilise == 0.0
    assert controls.stabilise_action in controls.toolbar.actions()
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(window.views, Qt.Key_I)
    assert window.wanted.stabilise == DEFAULT_STRENGTH
    qtbot.waitUntil(lambda: window.running.stabilise == DEFAULT_STRENGTH, timeout=WAIT_MS)
    assert controls.stabilise_action.isChecked()
    qtbot.waitUntil(lambda: "stabilise" in window.result.timings, timeout=WAIT_MS)  # the results are stabilised
    controls.strength_actions[0.5].trigger()
    qtbot.waitUntil(lambda: window.pipeline.worker.predictor.stabilise == 0.5, timeout=WAIT_MS)
    assert controls.strength_actions[0.5].isChecked()
    controls.stabilise_action.trigger()  # off again
    qtbot.waitUntil(lambda: window.running.stabilise == 0.0, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "stabilise" not in window.result.timings, timeout=WAIT_MS)


def test_the_flag_starts_stabilised_and_the_panel_shows_the_flicker(qtbot, make_window):
    window = make_window("--stabilise", "0.9", source=small_synthetic())
    qtbot.waitUntil(lambda: window.output is not None and window.output.flicker is not None, timeout=WAIT_MS)
    assert window.running.stabilise == pytest.approx(0.9)
    assert window.controls.strength_actions[0.9].isChecked()
    window.update_readout()
    text = window.performance.flicker_label.text()
    assert "labels changed/frame" in text and "stabilised 0.9" in text
    assert window.performance.history["labels changed"]
