"""The window's controls: actions with their keys, the toolbar (whatever does not fit goes to its » menu), the
menus, and keeping all of them in step with what runs and what is shown.

Given the window, they read its state (``wanted``, ``running``, ``arrangement``...) and call its methods; the
choices of device, precision and backend come from ``model.backends``' registry and ``model.settings``.
"""
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
from model.inference import backends
from model.inference.run_settings import PRECISIONS, cuda_problem
from model.weights import catalogue

from . import dialogs

SIZES = (None, 960, 640, 512, 480, 384, 320, 256)
DEVICES = (("auto", "auto"), ("cpu", "CPU"), ("cuda", "CUDA"))


def size_label(size):
    return "native" if size is None else f"{size} px"


def device_choices(cuda_trouble):
    """(value, label, why it cannot be chosen or None) for each device."""
    return [(value, label, cuda_trouble if value == "cuda" else None) for value, label in DEVICES]


def backend_choices(device_type):
    """(name, label, why not or None): auto and every registered backend, for ``device_type``."""
    rows = [("auto", "auto (fastest here)", None)]
    for name, cls in backends.REGISTRY.items():
        why = cls.problem() or (None if cls.precisions.get(device_type) else
                                f"{cls.label} does not run on the {device_type.upper()}")
        rows.append((name, cls.label, why))
    return rows


def precision_choices(device_type, backend):
    """(precision, label, why not or None): auto and each precision, served or not by ``backend`` (or any)."""
    rows = [("auto", "auto", None)]
    for precision in PRECISIONS[1:]:
        served = backends.available(device_type, precision, backend)
        who = f" by {backends.get(backend).label}" if backend != "auto" else ""
        rows.append((precision, precision, None if served else
                     f"{precision} is not served on the {device_type.upper()} here{who}"))
    return rows


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


def usable(choices, value):
    return any(v == value and why is None for v, _, why in choices)


class Controls:
    def __init__(self, window):
        self.window = window
        self.cuda_trouble = cuda_problem()
        self._syncing = False
        self._build_actions()
        self._build_toolbar()
        self._build_menus()

    # ---- actions -----------------------------------------------------------------------------------------
    def _action(self, text, shortcut, slot, checkable=False, tip=None):
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))  # window context: dialogs keep their own keys
        action.setCheckable(checkable)
        action.setToolTip(f"{tip or text} ({shortcut})" if shortcut else tip or text)
        if checkable:  # sync() sets the states; only the user's toggles ask for something
            action.toggled.connect(lambda checked: None if self._syncing else slot(checked))
        else:
            action.triggered.connect(lambda: slot())
        self.window.addAction(action)  # shortcuts work with the menus and toolbar hidden too
        return action

    def _build_actions(self):
        w, a = self.window, self._action
        self.open_video_action = a("Open &video…", "Ctrl+O", self.choose_video)
        self.open_folder_action = a("Open image &folder…", "Ctrl+Shift+O", self.choose_folder)
        self.open_checkpoint_action = a("Open &checkpoint…", "Ctrl+M", self.choose_checkpoint)
        self.synthetic_action = a("&Synthetic scene", "Ctrl+Shift+Y", lambda: w.open_source(SyntheticSource()))
        self.loop_action = a("&Loop videos and folders", "Ctrl+L", w.set_loop, checkable=True)
        self.snapshot_action = a("Sna&pshot", "P", w.snapshot,
                                 tip="Save the view, labels and 16-bit depth PNGs at full resolution")
        self.record_action = a("&Record", "R", w.set_recording, checkable=True, tip="Record the view to MP4")
        self.snapshot_folder_action = a("Snapshot and recording folder…", None, self.choose_snapshot_folder)
        self.quit_action = a("&Quit", "Ctrl+Q", w.close)
        self.camera_index_action = a("Camera by &index…", "Ctrl+K", self.choose_camera_index)
        self.next_camera_action = a("&Next camera", "C", self.next_camera)
        self.layout_group = QActionGroup(w)
        self.layout_actions = {}
        for key, mode in zip("123", LAYOUTS):
            action = a(LAYOUT_TITLES[mode], key, lambda checked, m=mode: checked and w.set_layout(m),
                       checkable=True)
            self.layout_group.addAction(action)
            self.layout_actions[mode] = action
        self.next_view_action = a("Next single &view", "V", w.next_single_view)
        self.opacity_up_action = a("Opacity +10 %", "]", lambda: w.set_opacity(w.arrangement.opacity + 0.1))
        self.opacity_down_action = a("Opacity −10 %", "[", lambda: w.set_opacity(w.arrangement.opacity - 0.1))
        self.reset_zoom_action = a("Reset &zoom", "0", w.views.reset_zoom)
        self.legend_action = self._dock_action(w.legend_dock, "L")
        self.plots_action = a("Performance &plots", "G", w.performance.set_plots_visible, checkable=True)
        self.performance_action = self._dock_action(w.performance_dock, "Shift+G")
        self.fullscreen_action = a("&Full screen", "F11", w.set_fullscreen, checkable=True)
        self.backbone_group = QActionGroup(w)
        self.backbone_actions = {}
        for name, label in BACKBONES.items():
            action = a(label, None, lambda checked, b=name: checked and w.choose_backbone(b), checkable=True)
            self.backbone_group.addAction(action)
            self.backbone_actions[name] = action
        self.next_backbone_action = a("Next &backbone", "B", self.next_backbone)
        self.next_model_action = a("Next &model", "M", self.next_model)
        self.next_device_action = a("Next &device", "D", lambda: self._step(self.device_box, self.set_device))
        self.next_precision_action = a("Next &precision", "H",
                                       lambda: self._step(self.precision_box, self.set_precision))
        self.next_backend_action = a("Next back&end", "E", lambda: self._step(self.backend_box, self.set_backend))
        self.size_action = a("Next input &size", "S", lambda: self._step(self.size_box, w.change_settings, "size"))
        self.size_back_action = a("Previous input size", "Shift+S",
                                  lambda: self._step(self.size_box, w.change_settings, "size", -1))
        self.pause_action = a("&Pause", "Space", w.set_paused, checkable=True)
        self.step_action = a("S&tep one frame", ".", w.step_frame)
        self.shortcuts_action = a("&Keyboard shortcuts", "F1", lambda: dialogs.shortcuts(w, self.shortcuts()))
        self.about_action = a("&About", None, lambda: dialogs.about(w))

    def _dock_action(self, dock, shortcut):
        action = dock.toggleViewAction()
        action.setShortcut(QKeySequence(shortcut))
        self.window.addAction(action)
        return action

    # ---- toolbar -----------------------------------------------------------------------------------------
    def _build_toolbar(self):
        w = self.window
        bar = self.toolbar = QToolBar("Controls", w)
        bar.setObjectName("controls")
        bar.setMovable(False)
        w.addToolBar(Qt.TopToolBarArea, bar)
        icons = {self.pause_action: "pause", self.step_action: "step", self.record_action: "record",
                 self.snapshot_action: "snapshot"}
        for action, icon in icons.items():
            action.setIcon(painted_icon(icon))
            bar.addAction(action)
        bar.addSeparator()
        for action in self.layout_actions.values():
            bar.addAction(action)
        self.single_box = self._box(None, "What the single view shows (V: next)",
                                    lambda value: w.set_single_view(value))
        for name in VIEW_CHOICES:
            self.single_box.addItem(VIEW_TITLES[name], name)
        self.opacity_slider = QSlider(Qt.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setFixedWidth(90)
        self.opacity_slider.setToolTip("Segmentation opacity in the blend ([ and ])")
        self.opacity_slider.valueChanged.connect(lambda v: None if self._syncing else w.set_opacity(v / 100))
        bar.addWidget(labelled("Opacity", self.opacity_slider))
        bar.addSeparator()
        self.model_box = self._box("Model", "Trained weights: the catalogue, or checkpoints you opened (M: next)",
                                   self.choose_weights, width=12)
        self.backbone_box = self._box("Backbone", "Encoder (B: next)", w.choose_backbone)
        for name, label in BACKBONES.items():
            self.backbone_box.addItem(label, name)
        self.device_box = self._box("Device", "Where the network runs (D: next)", self.set_device)
        self.precision_box = self._box("Precision", "Number format; auto: the fastest that agrees with fp32 "
                                       "(H: next)", self.set_precision)
        self.backend_box = self._box("Backend", "The runtime; auto: the fastest measured here (E: next)",
                                     self.set_backend)
        self.size_box = self._box("Input", "Long side of the image the network sees (S / Shift+S)",
                                  lambda value: w.change_settings(size=value))
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
        bar = self.window.menuBar()
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
                  self.step_action)
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
        menu, w = self.camera_menu, self.window
        menu.clear()
        cameras = list_cameras()
        for index in cameras:
            menu.addAction(f"Camera {index}", lambda i=index: w.open_source(CameraSource(i)))
        if not cameras:
            menu.addAction("No cameras found").setEnabled(False)
        self._add(menu, None, self.next_camera_action, self.camera_index_action)

    # ---- choices -----------------------------------------------------------------------------------------
    def device_type(self):
        """The device type the settings lead to: that asked for, else what runs, else what auto would pick."""
        device = self.window.wanted.settings.device
        if device != "auto":
            return device.split(":")[0]
        running = self.window.running
        if running is not None:
            return running.applied.device
        return "cpu" if self.cuda_trouble else "cuda"

    def set_device(self, device):
        """Another device; the precision and backend asked for stay where they run there, else become auto."""
        settings = self.window.wanted.settings
        device_type = device.split(":")[0] if device != "auto" else ("cpu" if self.cuda_trouble else "cuda")
        backend = settings.backend if usable(backend_choices(device_type), settings.backend) else "auto"
        precision = settings.precision if usable(precision_choices(device_type, backend),
                                                 settings.precision) else "auto"
        self.window.change_settings(device=device, precision=precision, backend=backend)

    def set_precision(self, precision):
        backend = self.window.wanted.settings.backend
        if not usable(precision_choices(self.device_type(), backend), precision):
            backend = "auto"
        self.window.change_settings(precision=precision, backend=backend)

    def set_backend(self, backend):
        precision = self.window.wanted.settings.precision
        if not usable(precision_choices(self.device_type(), backend), precision):
            precision = "auto"
        self.window.change_settings(backend=backend, precision=precision)

    def choose_weights(self, weights):
        """A catalogue name (asking before a download), a checkpoint path, or None: untrained."""
        w = self.window
        entry = catalogue.catalogue().get(weights) if weights else None
        if entry is not None and catalogue.installed_path(weights) is None:
            if not dialogs.ask_download(w, weights, entry):
                self.sync()
                return
        w.choose_network(weights, entry["encoder"] if entry else None, download=entry is not None)

    def next_model(self):
        self.choose_weights(self.model_box.itemData((self.model_box.currentIndex() + 1) % self.model_box.count()))

    def next_backbone(self):
        names = list(BACKBONES)
        self.window.choose_backbone(names[(names.index(self.window.wanted.backbone) + 1) % len(names)])

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
        path = dialogs.ask_file(self.window, self.window.remembered, "video")
        if path:
            self.window.open_source(VideoSource(path, loop=self.window.loop))

    def choose_folder(self):
        path = dialogs.ask_file(self.window, self.window.remembered, "folder")
        if path:
            self.window.open_source(ImageFolderSource(path, loop=self.window.loop))

    def choose_checkpoint(self):
        path = dialogs.ask_file(self.window, self.window.remembered, "checkpoint")
        if path:
            self.window.open_checkpoint(path)

    def choose_camera_index(self):
        index = dialogs.ask_camera_index(self.window)
        if index is not None:
            self.window.open_source(CameraSource(index))

    def next_camera(self):
        cameras = list_cameras() or [0]
        source = self.window.pipeline.source
        current = source.index if isinstance(source, CameraSource) else -1
        later = [i for i in cameras if i > current]
        self.window.open_source(CameraSource(later[0] if later else cameras[0]))

    def choose_snapshot_folder(self):
        path = dialogs.ask_folder(self.window, "Folder for snapshots and recordings", self.window.snapshot_folder)
        if path:
            self.window.snapshot_folder = Path(path)

    # ---- in step with the state ----------------------------------------------------------------------------
    def sync(self):
        """Every control shows the window's state: what was asked (what runs, once it answered), the layout."""
        w = self.window
        want, running, arrangement = w.wanted, w.running, w.arrangement
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
        self.loop_action.setChecked(w.loop)
        self.record_action.setChecked(w.recording)
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
        opened = dict.fromkeys([*self.window.checkpoints.values(), *([current] if current else [])])
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
        for action in self.window.actions():
            key = action.shortcut().toString(QKeySequence.NativeText)
            if key:
                rows.append((key, action.text().replace("&", "").rstrip("…")))
        return rows
