"""The window's view state: one signal per real change; the toolbar, the menus and the 3D view built on it alone
(no window), following changes made elsewhere and changing it themselves."""
from pathlib import Path

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QDockWidget, QMainWindow, QWidget

from app.cloud3d.intrinsics_choice import IntrinsicsChoice
from app.cloud3d.semantic3d import Hooks, Semantic3D
from app.panels.table import Arrangement
from app.stream.worker import Request, Running
from app.window.controls import Commands, Controls
from app.window.state import ViewState
from model.inference.run_settings import Applied, RunSettings
from model.presets import get_preset
from tests.app.gui_support import missing_video

SIGNALS = ("arrangement_changed", "request_changed", "running_changed", "refused", "paused_changed",
           "recording_changed", "loop_changed", "snapshot_folder_changed", "beside_changed", "colouring_changed")


def new_state():
    return ViewState(Request(settings=RunSettings(size=64)), Arrangement(), Path("snapshots"))


def listen(state):
    """{signal name: [what it carried, each time it fired]}"""
    heard = {name: [] for name in SIGNALS}
    for name in SIGNALS:
        getattr(state, name).connect(heard[name].append)
    return heard


def fired(heard):
    return {name: values for name, values in heard.items() if values}


def running(weights, backbone="mobilenet_v2"):
    return Running(name=Path(weights).name if weights else "untrained", weights=weights, backbone=backbone,
                   warning=None, preset=get_preset("nyud"), tasks=("segm", "depth"),
                   applied=Applied("cpu", "fp32", "torch"), settings=RunSettings(size=64))


def test_each_signal_fires_once_per_real_change(qapp):
    state = new_state()
    heard = listen(state)
    state.set_layout("blend")
    state.set_layout("blend")
    state.set_opacity(0.5)  # the opacity it has
    state.set_opacity(1.7)  # kept within 0..1
    state.set_single_view("depth")
    assert heard["arrangement_changed"] == [Arrangement("blend"), Arrangement("blend", opacity=1.0),
                                            Arrangement("single", "depth", 1.0)]
    for setter, name, value in ((state.set_paused, "paused_changed", True),
                                (state.set_recording, "recording_changed", True),
                                (state.set_loop, "loop_changed", True),
                                (state.set_beside, "beside_changed", True),
                                (state.set_colouring, "colouring_changed", "depth"),
                                (state.set_snapshot_folder, "snapshot_folder_changed", Path("elsewhere"))):
        setter(value)
        setter(value)
        assert heard[name] == [value], name
    state.set_paused(False)
    assert heard["paused_changed"] == [True, False] and state.paused is False
    assert set(fired(heard)) == {"arrangement_changed", "paused_changed", "recording_changed", "loop_changed",
                                 "beside_changed", "colouring_changed", "snapshot_folder_changed"}


def test_asking_for_settings_it_has_or_cannot_run_changes_nothing(qapp):
    state = new_state()
    heard = listen(state)
    state.change_settings(size=64)
    state.choose_backbone("mobilenet_v2")
    assert fired(heard) == {}
    state.change_settings(size=3)
    assert heard["refused"] == ["input size 3 must be a whole number of pixels, 32 at least"]
    assert state.request.settings.size == 64 and heard["request_changed"] == []
    state.change_settings(size=128)
    assert [r.settings.size for r in heard["request_changed"]] == [128]


def test_what_runs_becomes_what_is_asked_without_asking_again(qapp):
    state = new_state()
    heard = listen(state)
    answer = running("/checkpoints/chairs.ckpt")
    state.set_running(answer)
    assert heard["running_changed"] == [answer] and heard["request_changed"] == []
    assert state.request == answer.request and state.checkpoints == {"mobilenet_v2": "/checkpoints/chairs.ckpt"}
    state.choose_backbone("resnet50")
    assert heard["request_changed"][-1].weights is None  # nothing ran with it: its installed or untrained one
    state.set_running(running(None, "resnet50"))
    assert state.checkpoints == {"mobilenet_v2": "/checkpoints/chairs.ckpt"}  # untrained: nothing to go back to
    state.choose_backbone("mobilenet_v2")
    assert heard["request_changed"][-1].weights == "/checkpoints/chairs.ckpt"


@pytest.fixture
def bare_controls(qtbot):
    """Controls on a plain QMainWindow: the state, what they may ask for (recorded), nothing of the window."""
    host = QMainWindow()
    qtbot.addWidget(host)
    asked = []
    commands = Commands(**{name: (lambda *args, n=name: asked.append((n, *args)))
                           for name in Commands.__dataclass_fields__})
    state = new_state()
    controls = Controls(state, commands, host, None, (QDockWidget("legend", host), QDockWidget("perf", host)))
    controls.sync()
    return state, controls, asked


def test_the_controls_follow_the_state_whoever_changes_it(bare_controls):
    state, controls, _ = bare_controls
    assert controls.layout_actions["side"].isChecked() and not controls.opacity_slider.isEnabled()
    state.set_layout("blend")
    assert controls.layout_actions["blend"].isChecked() and controls.opacity_slider.isEnabled()
    state.set_opacity(0.3)
    assert controls.opacity_slider.value() == 30
    state.set_single_view("3d")
    assert controls.single_box.currentText() == "3D" and controls.single_box.isEnabled()
    state.set_paused(True)
    state.set_loop(True)
    assert controls.pause_action.isChecked() and controls.loop_action.isChecked()
    state.change_settings(size=320)
    assert controls.size_box.currentText() == "320 px"
    state.set_running(running("/checkpoints/chairs.ckpt"))
    assert controls.model_box.currentText() == "chairs.ckpt"


def test_the_controls_change_the_state_and_ask_for_the_rest(bare_controls):
    state, controls, asked = bare_controls
    heard = listen(state)
    controls.layout_actions["single"].trigger()
    controls.opacity_up_action.trigger()
    assert heard["arrangement_changed"] == [Arrangement("single"), Arrangement("single", opacity=0.6)]
    controls.pause_action.trigger()
    assert heard["paused_changed"] == [True]
    controls.size_action.trigger()  # S: the next size in the box after 64, not in it: the first one
    assert [r.settings.size for r in heard["request_changed"]] == [None]
    controls.step_action.trigger()
    controls.next_view_action.trigger()
    controls.reset_zoom_action.trigger()
    assert asked == [("step",), ("next_single_view",), ("reset_zoom",)]


def test_the_3d_view_follows_the_state_and_asks_the_window_only_through_its_hooks(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    said, hidden = [], []
    hooks = Hooks(result=lambda: None, report=lambda message, error=False: said.append(message),
                  show_2d=lambda shown: None, show_measure=lambda *args: None, show_hidden=hidden.append)
    state = new_state()
    state.set_colouring("no such colouring")  # as a hand-edited settings file could say
    three_d = Semantic3D(state, host, hooks, IntrinsicsChoice())
    assert state.colouring == "class"
    three_d.colouring_action.trigger()  # Shift+T
    state.set_colouring("depth")  # elsewhere
    assert state.colouring == "depth"
    assert said == ["3D coloured by image (Shift+T: next)", "3D coloured by depth (Shift+T: next)"]
    three_d.toggle_class(3)
    assert hidden == [{3}] and three_d.settings_to_remember() == {"beside": False, "colouring": "depth"}
    three_d.close()


def test_a_key_changes_the_state_once_and_every_control_follows(qtbot, make_window, tmp_path):
    window = make_window(source=missing_video(tmp_path))
    heard = listen(window.state)
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(window.views, Qt.Key_Space)  # pause
    qtbot.keyClick(window.views, Qt.Key_T, Qt.ShiftModifier)  # the 3D colouring
    assert heard["paused_changed"] == [True] and window.controls.pause_action.isChecked()
    assert heard["colouring_changed"] == ["image"]
    window.state.set_layout("single")  # not a control: the state, as a remembered layout or a script would
    assert window.controls.layout_actions["single"].isChecked() and window.controls.single_box.isEnabled()
    assert window.views.arrangement.layout == "single"
