"""The window's controls: actions with their keys, the toolbar (whatever does not fit goes to its » menu), the
menus, and keeping all of them in step with what runs and what is shown.

They read and change the window's ``state.ViewState`` and follow its signals, whoever made the change; what is
not state they ask of the window through ``Commands``. They never see the window itself: ``host`` is the
QMainWindow they add their actions, toolbar and menus to and open their dialogs over. What the boxes offer comes
from ``choices``.
"""
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolBar,
    QToolButton,
    QWidget,
)

from app.panels.table import LAYOUT_TITLES, LAYOUTS, VIEW_CHOICES, VIEW_TITLES
from app.sources import CameraSource, ImageFolderSource, SyntheticSource, VideoSource, list_cameras
from app.stream.network_choice import BACKBONES
from app.theme import painted_icon
from model.inference.rules import auto_device
from model.inference.run_settings import cuda_problem
from model.inference.stabiliser import DEFAULT_STRENGTH
from model.weights import catalogue

from . import dialogs
from .choices import SIZES, backend_choices, device_choices, precision_choices, size_label, usable

STRENGTHS = (0.5, DEFAULT_STRENGTH, 0.9)  # temporal stabilisation: the previous frame's weight on still pixels


def labelled(text, widget):
    """``widget`` after its label, as one toolbar item: they go to the » menu together."""
    pair = QWidget()
    layout = QHBoxLayout(pair)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    layout.addWidget(QLabel(text))
    layout.addWidget(widget)
    pair.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
    return pair


@dataclass(frozen=True)
class Commands:
    """What the controls ask of the window beyond the state."""

    open_source: Callable  # (an unopened app.sources Source)
    open_checkpoint: Callable  # (path)
    source: Callable  # () -> the Source being read, or None
    snapshot: Callable
    step: Callable  # one frame, paused
    next_single_view: Callable
    reset_zoom: Callable
    set_plots: Callable  # (shown): the Performance panel's plots
    set_fullscreen: Callable  # (on)


class Controls:
    def __init__(self, state, commands, host, remembered, docks):
        """``state``: the window's ViewState; ``remembered``: where the file dialogs start; ``docks``: the
        legend's and the Performance panel's dock widgets, toggled by keys."""
        self.state, self.commands, self.host, self.remembered = state, commands, host, remembered
        self.cuda_trouble = cuda_problem()
        self._syncing = False
        self.strength = state.request.stabilise or DEFAULT_STRENGTH  # what the toggle turns on
        self._build_actions(*docks)
        self._build_toolbar()
        self._build_menus()
        for signal in (state.request_changed, state.running_changed, state.refused, state.arrangement_changed,
                       state.paused_changed, state.recording_changed, state.loop_changed):
            signal.connect(self.sync)

    # ---- actions -----------------------------------------------------------------------------------------
    def _action(self, text, shortcut, slot, checkable=False, tip=None):
        action = QAction(text, self.host)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))  # window context: dialogs keep their own keys
        action.setCheckable(checkable)
        action.setToolTip(f"{tip or text} ({shortcut})" if shortcut else tip or text)
        if checkable:  # sync() sets the states; only the user's toggles ask for something
            action.toggled.connect(lambda checked: None if self._syncing else slot(checked))
        else:
            action.triggered.connect(lambda: slot())
        self.host.addAction(action)  # shortcuts work with the menus and toolbar hidden too
        return action

    def _build_actions(self, legend_dock, performance_dock):
        s, c, host, a = self.state, self.commands, self.host, self._action
        self.open_video_action = a("Open &video…", "Ctrl+O", self.choose_video)
        self.open_folder_action = a("Open image &folder…", "Ctrl+Shift+O", self.choose_folder)
        self.open_checkpoint_action = a("Open &checkpoint…", "Ctrl+M", self.choose_checkpoint)
        self.synthetic_action = a("&Synthetic scene", "Ctrl+Shift+Y", lambda: c.open_source(SyntheticSource()))
        self.loop_action = a("&Loop videos and folders", "Ctrl+L", s.set_loop, checkable=True)
        self.snapshot_action = a("Sna&pshot", "P", c.snapshot,
                                 tip="Save the view, labels and 16-bit depth PNGs at full resolution")
        self.record_action = a("&Record", "R", s.set_recording, checkable=True, tip="Record the view to MP4")
        self.snapshot_folder_action = a("Snapshot and recording folder…", None, self.choose_snapshot_folder)
        self.quit_action = a("&Quit", "Ctrl+Q", host.close)
        self.camera_index_action = a("Camera by &index…", "Ctrl+K", self.choose_camera_index)
        self.next_camera_action = a("&Next camera", "C", self.next_camera)
        self.layout_group = QActionGroup(host)
        self.layout_actions = {}
        for key, mode in zip("123", LAYOUTS):
            action = a(LAYOUT_TITLES[mode], key, lambda checked, m=mode: checked and s.set_layout(m),
                       checkable=True)
            self.layout_group.addAction(action)
            self.layout_actions[mode] = action
        self.next_view_action = a("Next single &view", "V", c.next_single_view)
        self.opacity_up_action = a("Opacity +10 %", "]", lambda: s.set_opacity(s.arrangement.opacity + 0.1))
        self.opacity_down_action = a("Opacity −10 %", "[", lambda: s.set_opacity(s.arrangement.opacity - 0.1))
        self.reset_zoom_action = a("Reset &zoom", "0", c.reset_zoom)
        self.legend_action = self._dock_action(legend_dock, "L")
        self.plots_action = a("Performance &plots", "G", c.set_plots, checkable=True)
        self.performance_action = self._dock_action(performance_dock, "Shift+G")
        self.fullscreen_action = a("&Full screen", "F11", c.set_fullscreen, checkable=True)
        self.backbone_group = QActionGroup(host)
        self.backbone_actions = {}
        for name, label in BACKBONES.items():
            action = a(label, None, lambda checked, b=name: checked and s.choose_backbone(b), checkable=True)
            self.backbone_group.addAction(action)
            self.backbone_actions[name] = action
        self.next_backbone_action = a("Next &backbone", "B", self.next_backbone)
        self.next_model_action = a("Next &model", "M", self.next_model)
        self.next_device_action = a("Next &device", "D", lambda: self._step(self.device_box, self.set_device))
        self.next_precision_action = a("Next &precision", "H",
                                       lambda: self._step(self.precision_box, self.set_precision))
        self.next_backend_action = a("Next back&end", "E", lambda: self._step(self.backend_box, self.set_backend))
        self.size_action = a("Next input &size", "S", lambda: self._step(self.size_box, s.change_settings, "size"))
        self.size_back_action = a("Previous input size", "Shift+S",
                                  lambda: self._step(self.size_box, s.change_settings, "size", -1))
        self.pause_action = a("&Pause", "Space", s.set_paused, checkable=True)
        self.step_action = a("S&tep one frame", ".", c.step)
        self.stabilise_action = a("Stab&ilise", "I", self.set_stabilise, checkable=True,
                                  tip="Steady labels and depth: each frame blended with the last where nothing moved")
        self.strength_group = QActionGroup(self.host)
        self.strength_actions = {}
        for strength in STRENGTHS:
            action = a(f"Strength {strength:g}", None,
                       lambda checked, v=strength: checked and self.set_stabilise(True, v), checkable=True)
            self.strength_group.addAction(action)
            self.strength_actions[strength] = action
        self.shortcuts_action = a("&Keyboard shortcuts", "F1", lambda: dialogs.shortcuts(host, self.shortcuts()))
        self.about_action = a("&About", None, lambda: dialogs.about(host))

    def _dock_action(self, dock, shortcut):
        action = dock.toggleViewAction()
        action.setShortcut(QKeySequence(shortcut))
        self.host.addAction(action)
        return action

    # ---- toolbar -----------------------------------------------------------------------------------------
    def _build_toolbar(self):
        s = self.state
        bar = self.toolbar = QToolBar("Controls", self.host)
        bar.setObjectName("controls")
        bar.setMovable(False)
        self.host.addToolBar(Qt.TopToolBarArea, bar)
        icons = {self.pause_action: "pause", self.step_action: "step", self.record_action: "record",
                 self.snapshot_action: "snapshot"}
        for action, icon in icons.items():
            action.setIcon(painted_icon(icon))
            bar.addAction(action)
        bar.addAction(self.stabilise_action)
        bar.addSeparator()
        for action in self.layout_actions.values():
            bar.addAction(action)
        self.single_box = self._box(None, "What the single view shows (V: next)",
                                    s.set_single_view)
        for name in VIEW_CHOICES:
            self.single_box.addItem(VIEW_TITLES[name], name)
        self.opacity_slider = QSlider(Qt.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setFixedWidth(90)
        self.opacity_slider.setToolTip("Segmentation opacity in the blend ([ and ])")
        self.opacity_slider.valueChanged.connect(lambda v: None if self._syncing else s.set_opacity(v / 100))
        bar.addWidget(labelled("Opacity", self.opacity_slider))
        bar.addSeparator()
        self.model_box = self._box("Model", "Trained weights: the catalogue, or checkpoints you opened (M: next)",
                                   self.choose_weights, width=12)
        self.backbone_box = self._box("Backbone", "Encoder (B: next)", s.choose_backbone)
        for name, label in BACKBONES.items():
            self.backbone_box.addItem(label, name)
        self.device_box = self._box("Device", "Where the network runs (D: next)", self.set_device)
        self.precision_box = self._box("Precision", "Number format; auto: the fastest that agrees with fp32 "
                                       "(H: next)", self.set_precision)
        self.backend_box = self._box("Backend", "The runtime; auto: the fastest measured here (E: next)",
                                     self.set_backend)
        self.size_box = self._box("Input", "Long side of the image the network sees (S / Shift+S)",
                                  lambda value: s.change_settings(size=value))
        for size in SIZES:
            self.size_box.addItem(size_label(size), size)
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for action in icons:
            bar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonIconOnly)
        bar.widgetForAction(self.record_action).setObjectName("record")
        overflow = bar.findChild(QToolButton, "qt_toolbar_ext_button")
        if overflow is not None:  # Fusion's own arrow is near-invisible on a dark theme
            overflow.setIcon(painted_icon("more"))
            overflow.setToolTip("More controls")

    def _box(self, label, tip, choose, width=None):
        box = QComboBox()
        box.setToolTip(tip)
        if width:
            box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(width)
        box.activated.connect(lambda i: choose(box.itemData(i)))
        self.toolbar.addWidget(labelled(label, box) if label else box)
        return box

    # ---- menus -------------------------------------------------------------------------------------------
    def _build_menus(self):
        bar = self.host.menuBar()
        file = bar.addMenu("&File")
        self._add(file, self.open_video_action, self.open_folder_action, self.synthetic_action, self.loop_action,
                  None, self.open_checkpoint_action, None, self.snapshot_action, self.record_action,
                  self.snapshot_folder_action, None, self.quit_action)
        self.camera_menu = bar.addMenu("&Camera")
        self.camera_menu.aboutToShow.connect(self._fill_camera_menu)
        self._fill_camera_menu()
        model = bar.addMenu("&Model")
        self._add(model, self.next_model_action, self.open_checkpoint_action)
        backbones = model.addMenu("Backbone")
        self._add(backbones, *self.backbone_actions.values(), None, self.next_backbone_action)
        model.addSeparator()
        for title, box, step in (("Device", self.device_box, self.next_device_action),
                                 ("Precision", self.precision_box, self.next_precision_action),
                                 ("Backend", self.backend_box, self.next_backend_action),
                                 ("Input size", self.size_box, self.size_action)):
            menu = model.addMenu(title)
            menu.aboutToShow.connect(lambda m=menu, b=box, s=step: self._fill_choice_menu(m, b, s))
        self._add(model, self.size_back_action)
        view = bar.addMenu("&View")
        self._add(view, *self.layout_actions.values(), self.next_view_action, self.opacity_up_action,
                  self.opacity_down_action, None, self.reset_zoom_action, self.legend_action,
                  self.performance_action, self.plots_action, self.fullscreen_action, None, self.pause_action,
                  self.step_action, None, self.stabilise_action)
        self._add(view.addMenu("Stabilisation strength"), *self.strength_actions.values())
        self._add(bar.addMenu("&Help"), self.shortcuts_action, self.about_action)

    @staticmethod
    def _add(menu, *actions):
        for action in actions:
            menu.addAction(action) if action else menu.addSeparator()

    def _fill_choice_menu(self, menu, box, step):
        """A menu of the same choices as ``box``, greyed out with the reason where the box's are."""
        menu.clear()
        group = QActionGroup(menu)
        for i in range(box.count()):
            action = menu.addAction(box.itemText(i))
            action.setCheckable(True)
            action.setChecked(i == box.currentIndex())
            action.setEnabled(box.model().item(i).isEnabled())
            action.setToolTip(box.itemData(i, Qt.ToolTipRole) or "")
            action.triggered.connect(lambda _, i=i: box.activated.emit(i))
            group.addAction(action)
        menu.setToolTipsVisible(True)
        self._add(menu, None, step)

    def _fill_camera_menu(self):
        menu = self.camera_menu
        menu.clear()
        cameras = list_cameras()
        for index in cameras:
            menu.addAction(f"Camera {index}", lambda i=index: self.commands.open_source(CameraSource(i)))
        if not cameras:
            menu.addAction("No cameras found").setEnabled(False)
        self._add(menu, None, self.next_camera_action, self.camera_index_action)

    # ---- choices -----------------------------------------------------------------------------------------
    def device_type(self):
        """The device type the settings lead to: that asked for, else what runs, else what auto would pick."""
        device = self.state.request.settings.device
        if device != "auto":
            return device.split(":")[0]
        running = self.state.running
        if running is not None:
            return running.applied.device
        return auto_device(self.cuda_trouble)

    def set_device(self, device):
        """Another device; the precision and backend asked for stay where they run there, else become auto."""
        settings = self.state.request.settings
        device_type = device.split(":")[0] if device != "auto" else auto_device(self.cuda_trouble)
        backend = settings.backend if usable(backend_choices(device_type), settings.backend) else "auto"
        precision = settings.precision if usable(precision_choices(device_type, backend),
                                                 settings.precision) else "auto"
        self.state.change_settings(device=device, precision=precision, backend=backend)

    def set_precision(self, precision):
        backend = self.state.request.settings.backend
        if not usable(precision_choices(self.device_type(), backend), precision):
            backend = "auto"
        self.state.change_settings(precision=precision, backend=backend)

    def set_backend(self, backend):
        precision = self.state.request.settings.precision
        if not usable(precision_choices(self.device_type(), backend), precision):
            precision = "auto"
        self.state.change_settings(backend=backend, precision=precision)

    def choose_weights(self, weights):
        """A catalogue name (asking before a download), a checkpoint path, or None: untrained."""
        entry = catalogue.catalogue().get(weights) if weights else None
        if entry is not None and catalogue.installed_path(weights) is None:
            if not dialogs.ask_download(self.host, weights, entry):
                self.sync()
                return
        self.state.choose_network(weights, entry["encoder"] if entry else None, download=entry is not None)

    def next_model(self):
        self.choose_weights(self.model_box.itemData((self.model_box.currentIndex() + 1) % self.model_box.count()))

    def next_backbone(self):
        names = list(BACKBONES)
        self.state.choose_backbone(names[(names.index(self.state.request.backbone) + 1) % len(names)])

    def _step(self, box, choose, keyword=None, direction=1):
        """The next item of ``box`` that can be chosen."""
        for k in range(1, box.count()):
            i = (box.currentIndex() + direction * k) % box.count()
            if box.model().item(i).isEnabled():
                value = box.itemData(i)
                choose(**{keyword: value}) if keyword else choose(value)
                return

    # ---- dialogs -----------------------------------------------------------------------------------------
    def choose_video(self):
        path = dialogs.ask_file(self.host, self.remembered, "video")
        if path:
            self.commands.open_source(VideoSource(path, loop=self.state.loop))

    def choose_folder(self):
        path = dialogs.ask_file(self.host, self.remembered, "folder")
        if path:
            self.commands.open_source(ImageFolderSource(path, loop=self.state.loop))

    def choose_checkpoint(self):
        path = dialogs.ask_file(self.host, self.remembered, "checkpoint")
        if path:
            self.commands.open_checkpoint(path)

    def choose_camera_index(self):
        index = dialogs.ask_camera_index(self.host)
        if index is not None:
            self.commands.open_source(CameraSource(index))

    def next_camera(self):
        cameras = list_cameras() or [0]
        source = self.commands.source()
        current = source.index if isinstance(source, CameraSource) else -1
        later = [i for i in cameras if i > current]
        self.commands.open_source(CameraSource(later[0] if later else cameras[0]))

    def choose_snapshot_folder(self):
        path = dialogs.ask_folder(self.host, "Folder for snapshots and recordings", self.state.snapshot_folder)
        if path:
            self.state.set_snapshot_folder(Path(path))

    # ---- in step with the state ----------------------------------------------------------------------------
    def set_stabilise(self, on, strength=None):
        """Temporal stabilisation on (at ``strength``, else the last one chosen) or off."""
        self.strength = strength or self.strength
        s = self.state
        s.ask(replace(s.request, stabilise=self.strength if on else 0.0))

    def sync(self):
        """Every control shows the state: what was asked (what runs, once it answered), the layout, the toggles."""
        s = self.state
        want, running, arrangement = s.request, s.running, s.arrangement
        settings = want.settings
        boxes = (self.model_box, self.backbone_box, self.device_box, self.precision_box, self.backend_box,
                 self.size_box, self.single_box, self.opacity_slider)
        self._syncing = True
        for box in boxes:
            box.blockSignals(True)
        self._fill_models(running.weights if running is not None and want == running.request else want.weights)
        self.backbone_box.setCurrentIndex(self.backbone_box.findData(want.backbone))
        self.backbone_actions[want.backbone].setChecked(True)
        device_type = self.device_type()
        self._fill(self.device_box, device_choices(self.cuda_trouble), settings.device)
        self._fill(self.backend_box, backend_choices(device_type), settings.backend)
        self._fill(self.precision_box, precision_choices(device_type, settings.backend), settings.precision)
        if self.size_box.findData(settings.size) < 0:
            self.size_box.addItem(size_label(settings.size), settings.size)
        self.size_box.setCurrentIndex(self.size_box.findData(settings.size))
        self.layout_actions[arrangement.layout].setChecked(True)
        self.single_box.setCurrentIndex(self.single_box.findData(arrangement.single))
        self.single_box.setEnabled(arrangement.layout == "single")
        self.opacity_slider.setValue(round(arrangement.opacity * 100))
        self.opacity_slider.setEnabled(arrangement.layout == "blend")
        self.loop_action.setChecked(s.loop)
        self.record_action.setChecked(s.recording)
        self.pause_action.setChecked(s.paused)
        self.stabilise_action.setChecked(want.stabilise > 0)
        if want.stabilise in self.strength_actions:
            self.strength_actions[want.stabilise].setChecked(True)
        for box in boxes:
            box.blockSignals(False)
        self._syncing = False

    @staticmethod
    def _fill(box, choices, current):
        if [box.itemData(i) for i in range(box.count())] != [value for value, _, _ in choices]:
            box.clear()
            for value, label, _ in choices:
                box.addItem(label, value)
        for i, (_, _, why) in enumerate(choices):
            box.model().item(i).setEnabled(why is None)
            box.setItemData(i, why, Qt.ToolTipRole)
        box.setCurrentIndex(max(0, box.findData(current)))

    def _fill_models(self, current):
        box = self.model_box
        items = [(f"{name}" if catalogue.installed_path(name) else f"{name} (not installed)", name,
                  f"{entry['description']}; {BACKBONES.get(entry['encoder'], entry['encoder'])}")
                 for name, entry in catalogue.catalogue().items()]
        opened = dict.fromkeys([*self.state.checkpoints.values(), *([current] if current else [])])
        items += [(Path(path).name, path, path) for path in opened if path not in catalogue.catalogue()]
        items.append(("untrained", None, "random weights: the outputs mean nothing"))
        if [box.itemData(i) for i in range(box.count())] != [value for _, value, _ in items]:
            box.clear()
            for label, value, tip in items:
                box.addItem(label, value)
                box.setItemData(box.count() - 1, tip, Qt.ToolTipRole)
        box.setCurrentIndex(box.findData(current))

    def shortcuts(self):
        """(key, what it does) for every action that has a key."""
        rows = []
        for action in self.host.actions():
            key = action.shortcut().toString(QKeySequence.NativeText)
            if key:
                rows.append((key, action.text().replace("&", "").rstrip("…")))
        return rows
