"""The window's semantic 3D: the scene as a labelled point cloud, live, beside the 2D panels (T) or alone (the
single layout's 3D choice), coloured by class, by the image or by depth (Shift+T), with the legend's hidden
classes left out; the camera's intrinsics (the dialog, remembered); and measuring in metres: Shift-click two
pixels in any 2D panel, or two points in the 3D view.

Back-projection runs on the cloud's own thread (``app.cloud3d.builder``) at the point budget, only while the 3D
view is shown: hidden, it costs nothing. The GUI thread only hands the newest arrays to OpenGL.

It follows the window's view state (``app.window.state.ViewState``: the arrangement, beside or not, the colouring)
and asks the window around it only for what ``Hooks`` holds.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QAction, QMenu

from app.panels import readout
from app.panels.readout import map_pixel
from app.panels.table import shows_3d_alone
from model.geometry.pointcloud import DEFAULT_POINT_BUDGET, pixel_point

from .builder import CloudBuilder
from .cloud import COLOURING_TITLES, COLOURINGS, CloudRequest, map_to_frame
from .intrinsics_choice import CameraIntrinsics
from .intrinsics_dialog import ask_intrinsics
from .view import CloudPanel


@dataclass(frozen=True)
class Hooks:
    """What the 3D view asks of the window around it."""

    result: Callable  # () -> the newest Result shown, or None
    report: Callable  # (message, error=False): one line in the status bar
    show_2d: Callable  # (shown): the 2D panels, hidden while the 3D view is alone
    show_measure: Callable  # (pixels, label, metres, text): the measurement in the 2D panels and the status bar
    show_hidden: Callable  # (class indices): the classes left out, struck through in the legend


class Semantic3D:
    def __init__(self, state, host, hooks, intrinsics, budget=DEFAULT_POINT_BUDGET):
        """``state``: the window's ViewState; ``host``: the widget its actions and dialogs belong to;
        ``intrinsics``: the IntrinsicsChoice to start with."""
        self.state, self.host, self.hooks = state, host, hooks
        self.camera = CameraIntrinsics(intrinsics)
        if state.colouring not in COLOURINGS:
            state.set_colouring("class")
        self.budget = budget
        self.hidden = set()  # class indices left out of the 3D view
        self.pixels = []  # the measured frame pixels: none, one or two
        self.showing = False  # whether the 3D view is on screen and drawing
        self.builder = CloudBuilder()
        self.panel = CloudPanel()
        self.panel.picked.connect(self._picked)
        self._camera_key = None  # what the panel's frustum and camera line were drawn for
        self._build_actions()
        state.arrangement_changed.connect(self.arrange)
        state.beside_changed.connect(self.arrange)
        state.colouring_changed.connect(self._colouring_changed)

    # ---- keys and menu ----------------------------------------------------------------------------------------
    def _action(self, text, shortcut, slot, checked=None):
        """A window action with its key; ``checked`` (True or False) makes it a toggle in that state."""
        action = QAction(text, self.host)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{text} ({shortcut})")
        action.setCheckable(checked is not None)
        action.setChecked(bool(checked))
        (action.toggled if checked is not None else action.triggered).connect(slot)
        self.host.addAction(action)
        return action

    def _build_actions(self):
        self.beside_action = self._action("&3D view beside the panels", "T", self.state.set_beside,
                                          checked=self.state.beside)
        self.colouring_action = self._action("Next 3D &colouring: class, image, depth", "Shift+T",
                                             self.next_colouring)
        self.reset_action = self._action("&Reset the 3D view", "Home", self.panel.reset_view)
        self.show_all_action = self._action("&Show every class in 3D", None, self.show_all_classes)
        self.intrinsics_action = self._action("Camera &intrinsics…", "Ctrl+I", self.choose_intrinsics)
        self.clear_measure_action = self._action("Clear the &measurement", "Esc", self.clear_measure)

    def build_menu(self, bar):
        """The 3D menu, before the last menu of ``bar`` (Help)."""
        menu = QMenu("3&D", bar)
        for action in (self.beside_action, self.colouring_action, self.reset_action, self.show_all_action, None,
                       self.intrinsics_action, self.clear_measure_action):
            menu.addAction(action) if action else menu.addSeparator()
        bar.insertMenu(bar.actions()[-1], menu)
        return menu

    # ---- shown or hidden --------------------------------------------------------------------------------------
    def arrange(self):
        """Shows the 3D panel when asked for (beside, or alone in the single layout) and the 2D panels unless it
        is alone; the first showing makes the OpenGL view, or says why it cannot."""
        result = self.hooks.result()
        alone = shows_3d_alone(result, self.state.arrangement)
        self.hooks.show_2d(not alone)
        wanted = self.state.beside or alone
        self.panel.setVisible(wanted)
        if self.beside_action.isChecked() != self.state.beside:
            self.beside_action.setChecked(self.state.beside)
        was_showing = self.showing
        self.showing = wanted and self.panel.activate()
        if wanted and self.panel.problem and not was_showing:
            self.hooks.report(f"3D view unavailable: {self.panel.problem}", error=True)
        for action in (self.colouring_action, self.reset_action):
            action.setEnabled(self.panel.problem is None)
        if self.showing and not was_showing and result is not None:
            self.show_result(result)

    # ---- each result ------------------------------------------------------------------------------------------
    def show_result(self, result):
        """Asks for ``result``'s cloud when the 3D view is showing; keeps the measurement up to date."""
        if self.pixels:
            self._update_measure(result)
        if not self.showing:
            return
        if result.depth is None:
            self.panel.show_message(f"{result.preset.name} has no depth head: nothing to show in 3D.")
            return
        intrinsics = self.camera.for_maps(result)
        self._say_camera_problem()
        key = (intrinsics, result.preset.max_depth)
        if key != self._camera_key:
            self._camera_key = key
            self.panel.set_camera(intrinsics, result.preset.max_depth, f"camera: {self.camera.describe()}")
        self.builder.submit(CloudRequest(result, intrinsics, self.state.colouring, frozenset(self.hidden), self.budget))

    def poll(self):
        """Draws the newest cloud built, if any (the window's timer, and after each result)."""
        frame = self.builder.latest()
        if frame is not None and self.showing:
            self.panel.show_frame(frame)
            self._update_title(frame)
        problem = self.builder.problem()
        if problem:
            self.hooks.report(f"3D: {problem}", error=True)

    def _update_title(self, frame):
        hidden = f" · {len(self.hidden)} class{'es' if len(self.hidden) != 1 else ''} hidden" if self.hidden else ""
        shown = f"{len(frame):,}" if len(frame) == frame.total else f"{len(frame):,} of {frame.total:,}"
        self.panel.title.setText(f"3D · {COLOURING_TITLES[frame.request.colouring]} · {shown} points{hidden}")

    def _refresh(self):
        """The current result again, after a change of colouring, classes or camera (also while paused)."""
        result = self.hooks.result()
        if result is not None:
            self.show_result(result)

    def next_colouring(self):
        colouring = self.state.colouring
        self.state.set_colouring(COLOURINGS[(COLOURINGS.index(colouring) + 1) % len(COLOURINGS)])

    def _colouring_changed(self, colouring):
        self.hooks.report(f"3D coloured {COLOURING_TITLES[colouring]} (Shift+T: next)")
        self._refresh()

    def toggle_class(self, index):
        """Hides a class's points in the 3D view, or shows them again."""
        self.hidden ^= {index}
        self.hooks.show_hidden(self.hidden)
        self._refresh()

    def show_all_classes(self):
        self.hidden.clear()
        self.hooks.show_hidden(self.hidden)
        self._refresh()

    # ---- the camera -------------------------------------------------------------------------------------------
    def map_intrinsics(self, result):
        """The intrinsics for ``result``'s maps, or None before a result."""
        if result is None:
            return None
        intrinsics = self.camera.for_maps(result)
        self._say_camera_problem()
        return intrinsics

    def camera_text(self, result):
        """The intrinsics in use for ``result`` and where they come from; '' before a result."""
        return self.camera.describe() if self.map_intrinsics(result) is not None else ""

    def frame_intrinsics(self, result):
        return self.camera.for_frame(result)

    def choose_intrinsics(self):
        result = self.hooks.result()
        chosen = ask_intrinsics(self.host, self.camera.choice, self.camera.describe() if result else "")
        if chosen is not None:
            self.set_intrinsics(chosen)

    def set_intrinsics(self, choice):
        self.camera.set_choice(choice)
        self._camera_key = None
        result = self.hooks.result()
        if result is not None:
            self.map_intrinsics(result)
            self.hooks.report(f"intrinsics: {self.camera.describe()}")
        self._refresh()

    def _say_camera_problem(self):
        problem = self.camera.problem()
        if problem:
            self.hooks.report(problem, error=True)

    # ---- measuring ------------------------------------------------------------------------------------------
    def add_measure_point(self, pixel):
        """One end of a measurement (a frame pixel); a third click starts a new one."""
        self.pixels = [*self.pixels, tuple(pixel)] if len(self.pixels) < 2 else [tuple(pixel)]
        result = self.hooks.result()
        if result is not None:
            text = self._update_measure(result)
            if len(self.pixels) == 2:
                self.hooks.report(f"distance {text} (Esc clears)")

    def clear_measure(self):
        self.pixels = []
        self.hooks.show_measure([], "", None, "")
        self.panel.show_measure([], "")

    def _update_measure(self, result):
        """Shows the measurement on ``result`` in the 2D panels, the status bar and the 3D view; returns its text
        ('' before the second point)."""
        intrinsics = self.map_intrinsics(result)
        two = len(self.pixels) == 2
        metres = readout.distance(result, intrinsics, *self.pixels) if two else None
        text = readout.distance_text(metres, *self.pixels) if two else ""
        label = f"{metres:.2f} m" if metres is not None else ""
        self.hooks.show_measure(self.pixels, label, metres, text)
        if self.showing and result.depth is not None:
            cells = [map_pixel(p, result.frame.shape, result.depth.shape) for p in self.pixels]
            points = [pixel_point(result.depth, intrinsics, *cell) for cell in cells]
            self.panel.show_measure([p for p in points if p is not None], label)
        return text

    def _picked(self, picked):
        """A point Shift-clicked in the 3D view: the frame pixel at the centre of its map pixel."""
        pixel, frame = picked
        result = frame.request.result
        rows, cols = map_to_frame(np.array([pixel]), result.depth.shape, result.frame.shape[:2])
        self.add_measure_point((int(rows[0]), int(cols[0])))

    # ---- the readout and the end ------------------------------------------------------------------------------
    def costs(self):
        """(build ms, draw ms, points) of the newest cloud drawn while showing; Nones when hidden."""
        frame = self.panel.frame
        if not self.showing or frame is None:
            return None, None, None
        return frame.build_ms, self.panel.draw_ms, len(frame)

    def settings_to_remember(self):
        return {"beside": self.state.beside, "colouring": self.state.colouring}

    def close(self):
        return self.builder.close()
