"""The main window: wires a source's capture thread, the inference worker and the recorder to the views.

Threads: capture (app.capture, plain Python), inference (app.worker, a QThread), recorder (app.recorder).
The GUI thread only draws: a timer takes the newest result from the worker and shows it.
"""
import os
import signal
import sys
import time
import traceback
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from PyQt5.QtCore import QPointF, QRectF, QSettings, Qt, QThread, QTimer, pyqtSignal, qInstallMessageHandler
from PyQt5.QtGui import QColor, QIcon, QKeySequence, QPainter, QPalette, QPixmap, QPolygonF
from PyQt5.QtWidgets import (QAction, QActionGroup, QApplication, QComboBox, QDockWidget, QFileDialog,
                             QInputDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QProgressDialog,
                             QSlider, QStackedWidget, QTableWidget, QTableWidgetItem, QToolBar,
                             QVBoxLayout, QDialog, QHeaderView)

from model import weights as catalogue_weights

from .capture import Capture, FrameSlot
from .compose import side_by_side
from .recorder import Recorder
from .sources import (IMAGE_SUFFIXES, CameraSource, ImageFolderSource, SyntheticSource, VideoSource,
                      list_cameras, source_from_args)
from .views import LAYOUTS, SINGLE_CHOICES, ImageViews, Legend, PerformancePanel, panel_image
from .worker import Config, InferenceWorker, RateMeter, cuda_available
from .networks import BACKBONES

ORGANISATION, APPLICATION = "jointseg", "demo"
TITLE = "Joint segmentation and depth"
REDRAW_MS = 15
READOUT_MS = 250
LEGEND_MS = 200
JOIN_S = 2.0
SIZES = (None, 960, 640, 512, 480, 384, 320, 256)
LAYOUT_TITLES = {"side": "Side by side", "blend": "Blend", "single": "Single"}
CHECKPOINT_SUFFIXES = {".ckpt", ".pth", ".pt"}
STYLE = """
QToolBar { spacing: 4px; padding: 2px; }
QToolBar QToolButton { padding: 3px 7px; border-radius: 3px; }
QToolBar QToolButton:checked { background: #5e81ac; color: white; }
QToolBar QToolButton#record:checked { background: #bf616a; }
QDockWidget::title { padding: 4px 6px; background: #262a31; }
QListWidget { border: none; font-size: 10pt; }
QStatusBar QLabel { padding: 0 4px; }
"""
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg *.wmv);;All files (*)"


def painted_icon(kind, size=32, colour="#d8dee9"):
    """Toolbar icons drawn here: the style's own media icons are near-invisible on a dark theme."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(Qt.NoPen)
    p.setBrush(QColor(colour))
    u = size / 16
    if kind == "pause":
        p.drawRoundedRect(QRectF(4 * u, 3 * u, 3 * u, 10 * u), u, u)
        p.drawRoundedRect(QRectF(9 * u, 3 * u, 3 * u, 10 * u), u, u)
    elif kind == "step":
        p.drawPolygon(QPolygonF([QPointF(3 * u, 3 * u), QPointF(10 * u, 8 * u), QPointF(3 * u, 13 * u)]))
        p.drawRoundedRect(QRectF(11 * u, 3 * u, 2.5 * u, 10 * u), u, u)
    elif kind == "record":
        p.setBrush(QColor("#e06c75"))
        p.drawEllipse(QRectF(3 * u, 3 * u, 10 * u, 10 * u))
    elif kind == "snapshot":
        p.drawRoundedRect(QRectF(1.5 * u, 4.5 * u, 13 * u, 9 * u), 1.5 * u, 1.5 * u)
        p.drawRect(QRectF(5.5 * u, 3 * u, 5 * u, 2 * u))
        p.setBrush(QColor("#1f2228"))
        p.drawEllipse(QRectF(5 * u, 6 * u, 6 * u, 6 * u))
        p.setBrush(QColor(colour))
        p.drawEllipse(QRectF(6.5 * u, 7.5 * u, 3 * u, 3 * u))
    p.end()
    return QIcon(pixmap)


def size_label(size):
    return "native" if size is None else f"{size} px"


class MainWindow(QMainWindow):
    configure_worker = pyqtSignal(object)

    def __init__(self, args, settings=None, source=None):
        """``source`` (an unopened Source) replaces the one the flags or the settings name."""
        super().__init__()
        self._syncing = False
        self.settings = settings if settings is not None else QSettings(ORGANISATION, APPLICATION)
        given = getattr(args, "given", None)
        self.given = set(vars(args)) if given is None else given  # flags the user typed (the rest: remembered)
        self.has_cuda = cuda_available()
        self.loop = bool(self._flag(args, "loop", "source/loop", bool))
        self.config = Config(
            weights=args.weights if args.weights or "weights" in self.given
            else self._remembered("model/weights", None),
            backbone=self._flag(args, "backbone", "model/backbone"),
            device=args.device, half=args.half, size=args.size, backend=args.backend,
            download=bool(args.download))
        self.applied = None  # the Config of the network that runs
        self.info = None  # the worker's description of that network
        self.layout_mode = self._flag(args, "overlay", "view/layout")
        self.single = getattr(args, "view", None) or self._remembered("view/single", "segmentation")
        self.opacity = float(self._flag(args, "opacity", "view/opacity", float))
        self.snapshot_folder = Path(getattr(args, "snapshots", None) or
                                    self._remembered("snapshots/folder", str(Path.cwd() / "snapshots")))
        self.record_path = args.record
        self.checkpoints = {}  # backbone -> the last checkpoint path opened for it
        self.result = None
        self.output = None
        self.pixel = None
        self.display_rate = RateMeter()
        self.end_to_end_ms = None
        self.last_legend = 0.0

        self.slot = FrameSlot()
        self.worker = InferenceWorker(self.slot)
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("inference")
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.finished.connect(self.worker.close, Qt.DirectConnection)  # on its own thread
        self.configure_worker.connect(self.worker.configure)
        self.worker.ready.connect(self.on_ready)
        self.worker.failed.connect(self.on_worker_failed)
        self.worker.busy.connect(self.on_busy)
        self.worker.downloading.connect(self.on_downloading)
        self.worker_thread.start()
        self.recorder = Recorder()
        self.recorder.saved.connect(lambda text: self.report(text))
        self.recorder.saved.connect(lambda text: print(text, flush=True), Qt.DirectConnection)  # also at exit
        self.recorder.failed.connect(self.on_recorder_failed)
        self.capture = None
        self.stopped_captures = []
        self.download_dialog = None

        self._build_ui()
        self._restore_window()
        self.configure_worker.emit(self.config)
        self.open_source(source or self._initial_source(args))

        self.redraw_timer = QTimer(self, interval=REDRAW_MS, timeout=self.tick)
        self.readout_timer = QTimer(self, interval=READOUT_MS, timeout=self.update_readout)
        self.redraw_timer.start()
        self.readout_timer.start()

    # ---- settings -------------------------------------------------------------------------------------------
    def _remembered(self, key, default, kind=str):
        value = self.settings.value(key, None)
        if value is None or value == "":
            return default
        if kind is bool:
            return value in (True, "true", "1", 1)
        try:
            return kind(value)
        except (TypeError, ValueError):
            return default

    def _flag(self, args, name, key, kind=str):
        value = getattr(args, name)
        if name in self.given:
            return value
        return self._remembered(key, value, kind)

    def _initial_source(self, args):
        source = source_from_args(args)
        if source is not None:
            return source
        kind, where = self._remembered("source/kind", ""), self._remembered("source/where", "")
        if kind == "video" and Path(where).is_file():
            return VideoSource(where, loop=self.loop)
        if kind == "images" and Path(where).is_dir():
            return ImageFolderSource(where, loop=self.loop)
        if kind == "camera" and where.isdigit():
            return CameraSource(int(where))
        if kind == "synthetic":
            return SyntheticSource()
        return None  # camera 0, else the synthetic scene

    def _save_settings(self):
        s = self.settings
        source = self.capture.source if self.capture else None
        if source is not None:
            s.setValue("source/kind", source.kind)
            where = {"video": "path", "images": "folder", "camera": "index"}.get(source.kind)
            s.setValue("source/where", str(getattr(source, where, "")) if where else "")
        s.setValue("source/loop", self.loop)
        s.setValue("model/weights", (self.applied.weights if self.applied else self.config.weights) or "")
        s.setValue("model/backbone", self.config.backbone)
        s.setValue("view/layout", self.layout_mode)
        s.setValue("view/single", self.single)
        s.setValue("view/opacity", self.opacity)
        s.setValue("view/plots", self.plots_action.isChecked())
        s.setValue("snapshots/folder", str(self.snapshot_folder))
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.sync()

    def _restore_window(self):
        geometry, state = self.settings.value("window/geometry"), self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1480, 880)
        if state is None or not self.restoreState(state):
            self.resizeDocks([self.legend_dock, self.performance_dock], [300, 300], Qt.Horizontal)
            self.resizeDocks([self.legend_dock, self.performance_dock], [300, 460], Qt.Vertical)

    # ---- the window's parts ---------------------------------------------------------------------------------
    def _build_ui(self):
        self.setAcceptDrops(True)
        self.setStyleSheet(STYLE)
        self.views = ImageViews()
        self.views.hovered.connect(self.on_hover)
        self.views.set_layout(self.layout_mode, self.single)
        self.views.set_opacity(self.opacity)
        self.placeholder = QLabel("Starting…")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("QLabel { color: #d8dee9; font-size: 15pt; background: #15171c; }")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.views)
        self.setCentralWidget(self.stack)

        self.legend = Legend()
        self.legend_dock = self._dock("Classes in view", self.legend, "legend")
        self.performance = PerformancePanel()
        self.performance_dock = self._dock("Performance", self.performance, "performance")

        self.hover_label = QLabel("")
        self.hover_label.setMinimumWidth(300)
        self.device_label = QLabel("")
        self.warning_label = QLabel("")
        self.warning_label.setStyleSheet("QLabel { background: #bf616a; color: white; font-weight: bold;"
                                         " padding: 1px 8px; border-radius: 3px; }")
        self.warning_label.hide()
        self.busy_bar = QProgressBar()
        self.busy_bar.setMaximumWidth(90)
        self.busy_bar.setRange(0, 0)
        self.busy_bar.hide()
        self.busy_label = QLabel("")
        self.busy_label.hide()
        bar = self.statusBar()
        bar.addPermanentWidget(self.busy_label)
        bar.addPermanentWidget(self.busy_bar)
        bar.addPermanentWidget(self.hover_label)
        bar.addPermanentWidget(self.warning_label)
        bar.addPermanentWidget(self.device_label)

        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self.sync_controls()

    def _dock(self, title, widget, name):
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable)
        self.addDockWidget(Qt.RightDockWidgetArea, dock)
        return dock

    def _action(self, text, shortcut, slot, checkable=False, tip=None):
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))  # window context: dialogs keep their own keys
        action.setCheckable(checkable)
        action.setToolTip(f"{tip or text} ({shortcut})" if shortcut else tip or text)
        if checkable:  # sync_controls() sets the states; only the user's toggles ask for something
            action.toggled.connect(lambda checked: None if self._syncing else slot(checked))
        else:
            action.triggered.connect(lambda: slot())
        self.addAction(action)  # shortcuts work with the menus and toolbar hidden too
        return action

    def _build_actions(self):
        a = self._action
        self.open_video_action = a("Open &video…", "Ctrl+O", self.choose_video)
        self.open_folder_action = a("Open image &folder…", "Ctrl+Shift+O", self.choose_folder)
        self.open_checkpoint_action = a("Open &checkpoint…", "Ctrl+M", self.choose_checkpoint)
        self.synthetic_action = a("&Synthetic scene", "Ctrl+Shift+Y", lambda: self.open_source(SyntheticSource()))
        self.loop_action = a("&Loop videos and folders", "Ctrl+L", self.set_loop, checkable=True)
        self.snapshot_action = a("Sna&pshot", "P", self.snapshot, tip="Save the view, labels and 16-bit depth PNGs")
        self.record_action = a("&Record", "R", self.set_recording, checkable=True,
                               tip="Record the composed view to MP4")
        self.snapshot_folder_action = a("Snapshot and recording folder…", None, self.choose_snapshot_folder)
        self.quit_action = a("&Quit", "Ctrl+Q", self.close)
        self.camera_index_action = a("Camera by &index…", "Ctrl+K", self.choose_camera_index)
        self.next_camera_action = a("&Next camera", "C", self.next_camera)

        self.layout_group = QActionGroup(self)
        self.layout_actions = {}
        for key, mode in zip("123", LAYOUTS):
            action = a(LAYOUT_TITLES[mode], key, lambda checked, m=mode: checked and self.set_layout(m),
                       checkable=True)
            self.layout_group.addAction(action)
            self.layout_actions[mode] = action
        self.next_view_action = a("Next single &view", "V", self.next_single_view)
        self.opacity_up_action = a("Opacity +10 %", "]", lambda: self.set_opacity(self.opacity + 0.1))
        self.opacity_down_action = a("Opacity −10 %", "[", lambda: self.set_opacity(self.opacity - 0.1))
        self.reset_zoom_action = a("Reset &zoom", "0", lambda: self.views.reset_zoom())
        self.legend_action = self.legend_dock.toggleViewAction()
        self.legend_action.setShortcut(QKeySequence("L"))
        self.addAction(self.legend_action)
        self.plots_action = a("Performance &plots", "G", self.performance.set_plots_visible, checkable=True)
        self.performance_action = self.performance_dock.toggleViewAction()
        self.performance_action.setShortcut(QKeySequence("Shift+G"))
        self.addAction(self.performance_action)
        self.fullscreen_action = a("&Full screen", "F11", self.set_fullscreen, checkable=True)

        self.backbone_group = QActionGroup(self)
        self.backbone_actions = {}
        for name, label in BACKBONES.items():
            action = a(label, None, lambda checked, b=name: checked and self.set_backbone(b), checkable=True)
            self.backbone_group.addAction(action)
            self.backbone_actions[name] = action
        self.next_backbone_action = a("Next &backbone", "B", self.next_backbone)
        self.next_model_action = a("Next &model", "M", self.next_model)
        self.device_action = a("Use CUDA", "D", lambda checked: self.set_device("cuda" if checked else "cpu"),
                               checkable=True)
        self.half_action = a("fp16 (half precision)", "H", self.set_half, checkable=True)
        self.size_action = a("Next input &size", "S", lambda: self.step_size(+1))
        self.size_back_action = a("Previous input size", "Shift+S", lambda: self.step_size(-1))
        self.pause_action = a("&Pause", "Space", self.set_paused, checkable=True)
        self.step_action = a("S&tep one frame", ".", self.step_frame)
        self.shortcuts_action = a("&Keyboard shortcuts", "F1", self.show_shortcuts)
        self.about_action = a("&About", None, self.show_about)
        self.plots_action.setChecked(self._remembered("view/plots", True, bool))
        self.loop_action.setChecked(self.loop)

    def _build_toolbar(self):
        bar = QToolBar("Controls", self)
        bar.setObjectName("controls")
        bar.setMovable(False)
        self.addToolBar(Qt.TopToolBarArea, bar)

        def labelled(text, widget):
            label = QLabel(f" {text} ")
            label.setStyleSheet("QLabel { color: #9aa3b2; }")
            bar.addWidget(label)
            bar.addWidget(widget)
            return widget

        self.model_box = labelled("Model", QComboBox())
        self.model_box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.model_box.setToolTip("Trained weights: the catalogue, or checkpoints you opened (M: next)")
        self._fill_model_box()
        self.model_box.activated.connect(self._model_chosen)
        self.backbone_box = labelled("Backbone", QComboBox())
        for name, label in BACKBONES.items():
            self.backbone_box.addItem(label, name)
        self.backbone_box.setToolTip("Encoder (B: next)")
        self.backbone_box.activated.connect(lambda i: self.set_backbone(self.backbone_box.itemData(i)))
        self.device_box = labelled("Device", QComboBox())
        self.device_box.addItem("CUDA", "cuda")
        self.device_box.addItem("CPU", "cpu")
        if not self.has_cuda:
            self.device_box.model().item(0).setEnabled(False)
            self.device_box.setItemData(0, "no CUDA device on this machine", Qt.ToolTipRole)
        self.device_box.activated.connect(lambda i: self.set_device(self.device_box.itemData(i)))
        self.precision_box = labelled("Precision", QComboBox())
        self.precision_box.addItem("fp16", True)
        self.precision_box.addItem("fp32", False)
        self.precision_box.activated.connect(lambda i: self.set_half(self.precision_box.itemData(i)))
        self.size_box = labelled("Input", QComboBox())
        sizes = [None] + sorted({*SIZES[1:], *([self.config.size] if self.config.size else [])}, reverse=True)
        for size in sizes:
            self.size_box.addItem(size_label(size), size)
        self.size_box.setToolTip("Long side of the image the network sees (S / Shift+S)")
        self.size_box.activated.connect(lambda i: self.set_size(self.size_box.itemData(i)))
        bar.addSeparator()
        for action in self.layout_actions.values():
            bar.addAction(action)
        self.single_box = QComboBox()
        for name in SINGLE_CHOICES:
            self.single_box.addItem(name, name)
        self.single_box.setToolTip("What the single view shows (V: next)")
        self.single_box.activated.connect(lambda i: self.set_single_view(self.single_box.itemData(i)))
        bar.addWidget(self.single_box)
        self.opacity_slider = QSlider(Qt.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setFixedWidth(110)
        self.opacity_slider.setToolTip("Segmentation opacity in the blend ([ and ])")
        self.opacity_slider.valueChanged.connect(lambda v: self.set_opacity(v / 100))
        labelled("Opacity", self.opacity_slider)
        bar.addSeparator()
        icons = {self.pause_action: "pause", self.step_action: "step", self.record_action: "record",
                 self.snapshot_action: "snapshot"}
        for action, icon in icons.items():
            action.setIcon(painted_icon(icon))
            bar.addAction(action)
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for action in icons:
            bar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonIconOnly)
        bar.widgetForAction(self.record_action).setObjectName("record")

    def _build_menus(self):
        menu = self.menuBar()
        file = menu.addMenu("&File")
        for action in (self.open_video_action, self.open_folder_action, self.synthetic_action, self.loop_action,
                       None, self.open_checkpoint_action, None, self.snapshot_action, self.record_action,
                       self.snapshot_folder_action, None, self.quit_action):
            file.addAction(action) if action else file.addSeparator()
        self.camera_menu = menu.addMenu("&Camera")
        self.camera_menu.aboutToShow.connect(self._fill_camera_menu)
        self._fill_camera_menu()
        model = menu.addMenu("&Model")
        model.addAction(self.next_model_action)
        model.addAction(self.open_checkpoint_action)
        backbones = model.addMenu("Backbone")
        backbones.addActions(list(self.backbone_actions.values()))
        backbones.addSeparator()
        backbones.addAction(self.next_backbone_action)
        model.addSeparator()
        for action in (self.device_action, self.half_action, self.size_action, self.size_back_action):
            model.addAction(action)
        view = menu.addMenu("&View")
        view.addActions(list(self.layout_actions.values()))
        for action in (self.next_view_action, self.opacity_up_action, self.opacity_down_action, None,
                       self.reset_zoom_action, self.legend_action, self.performance_action, self.plots_action,
                       self.fullscreen_action, None, self.pause_action, self.step_action):
            view.addAction(action) if action else view.addSeparator()
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.about_action)

    def _fill_camera_menu(self):
        self.camera_menu.clear()
        cameras = list_cameras()
        for index in cameras:
            self.camera_menu.addAction(f"Camera {index}", lambda i=index: self.open_source(CameraSource(i)))
        if not cameras:
            self.camera_menu.addAction("No cameras found").setEnabled(False)
        self.camera_menu.addSeparator()
        self.camera_menu.addAction(self.next_camera_action)
        self.camera_menu.addAction(self.camera_index_action)

    def _fill_model_box(self):
        self.model_box.clear()
        for name, entry in catalogue_weights.catalogue().items():
            installed = catalogue_weights.installed_path(name) is not None
            self.model_box.addItem(name if installed else f"{name} (not installed)", name)
            self.model_box.setItemData(self.model_box.count() - 1,
                                       f"{entry['description']}; {BACKBONES[entry['encoder']]}", Qt.ToolTipRole)
        for path in dict.fromkeys(self.checkpoints.values()):
            self.model_box.addItem(Path(path).name, path)
        self.model_box.addItem("untrained", None)

    # ---- keeping the controls in step with the state -----------------------------------------------------------
    def sync_controls(self):
        config = self.config
        widgets = (self.model_box, self.backbone_box, self.device_box, self.precision_box, self.size_box,
                   self.single_box, self.opacity_slider)
        self._syncing = True
        for widget in widgets:
            widget.blockSignals(True)
        weights = self.info["weights"] if self.info and config == self.applied else config.weights
        index = self.model_box.findData(weights)
        if index < 0 and weights:
            self.model_box.addItem(Path(weights).name, weights)
            index = self.model_box.count() - 1
        self.model_box.setCurrentIndex(index if index >= 0 else self.model_box.findData(None))
        self.backbone_box.setCurrentIndex(self.backbone_box.findData(config.backbone))
        self.backbone_actions[config.backbone].setChecked(True)
        device = self.current_device()
        self.device_box.setCurrentIndex(self.device_box.findData(device))
        self.device_action.setChecked(device == "cuda")
        self.device_action.setEnabled(self.has_cuda)
        half = self.current_half()
        self.precision_box.setCurrentIndex(0 if half else 1)
        self.precision_box.model().item(0).setEnabled(device == "cuda")
        self.half_action.setChecked(half)
        self.half_action.setEnabled(device == "cuda")
        self.size_box.setCurrentIndex(max(0, self.size_box.findData(config.size)))
        self.layout_actions[self.layout_mode].setChecked(True)
        self.single_box.setCurrentIndex(self.single_box.findData(self.single))
        self.single_box.setEnabled(self.layout_mode == "single")
        self.opacity_slider.setValue(round(self.opacity * 100))
        self.opacity_slider.setEnabled(self.layout_mode == "blend")
        for widget in widgets:
            widget.blockSignals(False)
        self._syncing = False

    def current_device(self):
        if self.config.device in ("cuda", "cpu"):
            return self.config.device
        return "cuda" if self.has_cuda else "cpu"

    def current_half(self):
        return self.current_device() == "cuda" if self.config.half is None else bool(self.config.half)

    def request(self, **changes):
        """Asks the worker for another network, device, precision or input size; it answers with ready/failed."""
        config = replace(self.config, **changes)
        if config == self.config:
            return
        self.config = config
        self.sync_controls()
        self.configure_worker.emit(config)

    # ---- toggles ---------------------------------------------------------------------------------------------
    def set_backbone(self, backbone):
        if backbone == self.config.backbone:
            return
        if self.applied and self.info and self.info["weights"] and self.info["backbone"] == self.config.backbone:
            self.checkpoints[self.config.backbone] = self.info["weights"]
        self.request(backbone=backbone, weights=self.checkpoints.get(backbone), download=False)

    def next_backbone(self):
        names = list(BACKBONES)
        self.set_backbone(names[(names.index(self.config.backbone) + 1) % len(names)])

    def set_weights(self, weights):
        """A catalogue name, a checkpoint path, or None for the untrained network of the current backbone."""
        backbone = self.config.backbone
        entry = catalogue_weights.catalogue().get(weights) if weights else None
        if entry is not None:
            backbone = entry["encoder"]
            if catalogue_weights.installed_path(weights) is None and not self.ask_download(weights, entry):
                self.sync_controls()
                return
        self.request(weights=weights, backbone=backbone, download=entry is not None)

    def ask_download(self, name, entry):
        answer = QMessageBox.question(
            self, "Download weights?",
            f"The {name} weights ({entry['file']}: {entry['description']}) are not installed.\n\n"
            f"Download them now from\n{entry['urls'][0]} ?\n\n"
            f"(Offline: fetch the file elsewhere and run  python -m model.weights install PATH)")
        return answer == QMessageBox.Yes

    def _model_chosen(self, index):
        self.set_weights(self.model_box.itemData(index))

    def next_model(self):
        index = (self.model_box.currentIndex() + 1) % self.model_box.count()
        self.set_weights(self.model_box.itemData(index))

    def set_device(self, device):
        if device == "cuda" and not self.has_cuda:
            self.report("no CUDA device on this machine; running on the CPU", error=True)
            self.sync_controls()
            return
        self.request(device=device, half=device == "cuda")

    def set_half(self, half):
        if half and self.current_device() != "cuda":
            self.report("fp16 runs on CUDA only; the CPU runs fp32", error=True)
            self.sync_controls()
            return
        self.request(device=self.current_device(), half=bool(half))

    def set_size(self, size):
        self.request(size=size)

    def step_size(self, direction):
        index = (self.size_box.currentIndex() + direction) % self.size_box.count()
        self.set_size(self.size_box.itemData(index))

    def set_layout(self, mode):
        self.layout_mode = mode
        self.views.set_layout(mode, self.single)
        self.sync_controls()

    def set_single_view(self, name):
        self.single = name
        if self.layout_mode != "single":
            self.layout_mode = "single"
        self.views.set_layout("single", name)
        self.sync_controls()

    def next_single_view(self):
        present = [n for n in SINGLE_CHOICES if self.result is None or panel_image(self.result, n) is not None]
        current = self.single if self.single in present else present[0]
        following = present[(present.index(current) + 1) % len(present)] if self.layout_mode == "single" \
            else current
        self.set_single_view(following)

    def set_opacity(self, opacity):
        self.opacity = min(1.0, max(0.0, round(float(opacity), 2)))
        self.views.set_opacity(self.opacity)
        self.sync_controls()

    def set_paused(self, paused):
        if self.capture:
            self.capture.set_paused(paused)
        self.report("paused (Space resumes, . steps)" if paused else "running")

    def step_frame(self):
        if not self.pause_action.isChecked():
            self.pause_action.setChecked(True)
        if self.capture:
            self.capture.step()

    def set_loop(self, loop):
        self.loop = loop
        source = self.capture.source if self.capture else None
        if source is not None and hasattr(source, "loop"):
            source.loop = loop

    def set_fullscreen(self, on):
        self.showFullScreen() if on else self.showNormal()

    # ---- sources -------------------------------------------------------------------------------------------------
    def open_source(self, source):
        """Stops the running capture (without waiting on it) and starts one for ``source`` (None: the default)."""
        if self.capture is not None:
            self.capture.stop()
            self.stopped_captures.append(self.capture)
        self.stopped_captures = [c for c in self.stopped_captures if c.is_alive()]
        if isinstance(source, (VideoSource, ImageFolderSource)):
            self.loop_action.setChecked(source.loop)  # the toggle shows what this source does
        self.slot.clear()
        self.capture = Capture(source, self.slot, paused=self.pause_action.isChecked())
        self.capture.opened.connect(self.on_source_opened)
        self.capture.failed.connect(self.on_source_failed)
        self.capture.ended.connect(self.on_source_ended)
        self.capture.frame_ready.connect(self.worker.process)
        self.capture.start()
        if self.result is None:
            self.placeholder.setText(f"Opening {self.capture.name}…")

    def open_path(self, path):
        path = Path(path)
        if path.is_dir():
            self.open_source(ImageFolderSource(path, loop=self.loop))
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            self.open_source(ImageFolderSource(path.parent, loop=self.loop))
        elif path.suffix.lower() in CHECKPOINT_SUFFIXES:
            self.open_checkpoint(path)
        else:
            self.open_source(VideoSource(path, loop=self.loop))

    def open_checkpoint(self, path):
        self.request(weights=str(path), download=False)

    def choose_video(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open a video", self._remembered("dialogs/video", ""),
                                              VIDEO_FILTER)
        if path:
            self.settings.setValue("dialogs/video", str(Path(path).parent))
            self.open_source(VideoSource(path, loop=self.loop))

    def choose_folder(self):
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images",
                                                self._remembered("dialogs/folder", ""))
        if path:
            self.settings.setValue("dialogs/folder", path)
            self.open_source(ImageFolderSource(path, loop=self.loop))

    def choose_checkpoint(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open a checkpoint", self._remembered("dialogs/checkpoint", ""),
                                              "Checkpoints (*.ckpt *.pth *.pt);;All files (*)")
        if path:
            self.settings.setValue("dialogs/checkpoint", str(Path(path).parent))
            self.open_checkpoint(path)

    def choose_camera_index(self):
        index, ok = QInputDialog.getInt(self, "Open a camera", "Camera index:", 0, 0, 99)
        if ok:
            self.open_source(CameraSource(index))

    def next_camera(self):
        cameras = list_cameras() or [0]
        source = self.capture.source if self.capture else None
        current = source.index if isinstance(source, CameraSource) else -1
        later = [i for i in cameras if i > current]
        self.open_source(CameraSource(later[0] if later else cameras[0]))

    def choose_snapshot_folder(self):
        path = QFileDialog.getExistingDirectory(self, "Folder for snapshots and recordings",
                                                str(self.snapshot_folder))
        if path:
            self.snapshot_folder = Path(path)

    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(urls[0])
            event.acceptProposedAction()

    def on_source_opened(self, source):
        if self.sender() is not self.capture:
            return
        fps = f" at {source.fps:g} fps" if source.fps else ""
        self.report(f"showing {source.name}{fps}")
        self.placeholder.setText(f"Waiting for the network… ({source.name})")
        self._update_title()

    def on_source_failed(self, message):
        if self.sender() is not self.capture:
            return
        self.report(message, error=True)
        if self.result is None:
            self.placeholder.setText(f"{message}\n\nOpen a video or an image folder (File menu, or drop it "
                                     "here), or pick a camera (Camera menu).")
            self.stack.setCurrentWidget(self.placeholder)

    def on_source_ended(self, name):
        if self.sender() is not self.capture:
            return
        self.report(f"end of {name} (Ctrl+L loops it; File opens another)")

    # ---- the worker's answers --------------------------------------------------------------------------------
    def on_ready(self, info):
        self.info = info
        self.applied = replace(self.config, weights=info["weights"], backbone=info["backbone"],
                               device=info["device"], half=info["half"], download=False)
        self.config = self.applied
        if info["weights"] and Path(str(info["weights"])).suffix in CHECKPOINT_SUFFIXES:
            self.checkpoints[info["backbone"]] = info["weights"]
        preset = info["preset"]
        self.views.set_depth_scale(info["depth_lut"], preset.max_depth)
        self.device_label.setText(f"  {info['description']}  ")
        warning = info["warning"]
        self.warning_label.setText(f"⚠ {warning}")
        self.warning_label.setToolTip(warning or "")
        self.warning_label.setVisible(bool(warning))
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
        self._close_download_dialog()
        self._update_title()
        self.sync_controls()

    def on_worker_failed(self, message):
        self.report(message, error=True)
        self._close_download_dialog()
        if self.applied is not None:
            self.config = self.applied
        self.sync_controls()

    def on_busy(self, text):
        self.busy_bar.setVisible(bool(text))
        self.busy_label.setVisible(bool(text))
        self.busy_label.setText(text + "…" if text else "")

    def on_downloading(self, done, total):
        if self.download_dialog is None:
            self.download_dialog = QProgressDialog("Downloading weights…", "Cancel", 0, 0, self)
            self.download_dialog.setWindowTitle("Downloading")
            self.download_dialog.setMinimumDuration(0)
            self.download_dialog.canceled.connect(self.worker.cancel_download)
        dialog = self.download_dialog
        if total > 0:
            dialog.setRange(0, 1000)
            dialog.setValue(int(1000 * done / total))
            dialog.setLabelText(f"Downloading weights: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            dialog.setLabelText(f"Downloading weights: {done / 1e6:.1f} MB")

    def _close_download_dialog(self):
        if self.download_dialog is not None:
            self.download_dialog.close()
            self.download_dialog.deleteLater()
            self.download_dialog = None

    def on_recorder_failed(self, message):
        self.report(message, error=True)
        if self.record_action.isChecked():
            self.record_action.setChecked(False)

    # ---- drawing -------------------------------------------------------------------------------------------------
    def tick(self):
        output = self.worker.latest()
        if output is None:
            return
        self.show_output(output)

    def show_output(self, output):
        self.output = output
        self.result = result = output.result
        if self.device_label.text().strip() != output.description:
            self.device_label.setText(f"  {output.description}  ")
        if self.stack.currentWidget() is not self.views:
            self.stack.setCurrentWidget(self.views)
        self.views.show_result(result)
        now = time.perf_counter()
        self.display_rate.tick(now)
        self.end_to_end_ms = (now - output.captured) * 1e3
        if now - self.last_legend >= LEGEND_MS / 1000:
            self.legend.update_classes(result.labels, result.preset)
            self.last_legend = now
        if self.pixel is not None:
            self.on_hover(self.pixel)
        if self.record_path and not self.recorder.recording and not self.record_action.isChecked():
            self.record_action.setChecked(True)  # --record starts with the first result
        if self.recorder.recording:
            self.recorder.add_frame(self.composed())

    def composed(self):
        """The composed view as one RGB image: what recordings and snapshots hold."""
        if self.layout_mode == "side":
            return side_by_side(self.result)
        return panel_image(self.result, self.views.names[0], self.opacity)

    def hover_text(self, pixel):
        """'x, y  class  depth' for an image pixel (row, col) of the shown result."""
        result = self.result
        if pixel is None or result is None:
            return ""
        row, col = pixel
        if not (0 <= row < result.labels.shape[0] and 0 <= col < result.labels.shape[1]):
            return ""
        index = int(result.labels[row, col])
        name = result.preset.classes[index] if index < len(result.preset.classes) else f"class {index}"
        text = f"x {col}, y {row}:  {name}"
        if result.depth is not None:
            text += f"  ·  {result.depth[row, col]:.2f} m"
        return text

    def on_hover(self, pixel):
        self.pixel = pixel
        self.views.mark(pixel)
        self.hover_label.setText(self.hover_text(pixel))
        index = None
        if pixel is not None and self.result is not None:
            index = int(self.result.labels[pixel])
        self.legend.highlight(index)

    def update_readout(self):
        capture = self.capture
        frames = capture.frames if capture else 0
        dropped = self.slot.dropped
        display = self.display_rate.rate()
        inference = self.worker.inference_fps()
        rows = [("display", f"{display:5.1f} fps"), ("inference", f"{inference:5.1f} fps")]
        network_ms = end_to_end = None
        if self.output is not None:
            t = self.result.timings
            network_ms = t.get("network", 0.0)
            end_to_end = self.end_to_end_ms
            rows.append(("network", f"{network_ms:5.1f} ms"))
            post = t.get("postprocess", 0) + t.get("download", 0)
            rows.append(("pre / post", f"{t.get('upload', 0):.1f} / {post:.1f} ms"))
            rows.append(("total", f"{t.get('total', 0):5.1f} ms"))
            rows.append(("end to end", f"{end_to_end:5.0f} ms"))
            h, w = self.output.network_hw
            rows.append(("network in", f"{w} × {h}"))
        rows.append(("dropped", f"{dropped} of {frames}"))
        if self.output is not None:
            rows.append(("device", self.output.description))
        elif self.info:
            rows.append(("device", self.info["description"]))
        if self.info:
            rows.append(("model", f"{self.info['name']} · {BACKBONES[self.info['backbone']]}"))
        if self.recorder.recording:
            rows.append(("recording", f"{self.recorder.frames_queued} frames"))
        html = "".join(f"<tr><td style='color:#9aa3b2; padding-right:10px'>{k}</td><td>{v}</td></tr>"
                       for k, v in rows)
        self.performance.readout.setText(f"<table>{html}</table>")
        if self.output is None:
            return  # the plots start with the first result
        self.performance.add_sample(display=display, inference=inference,
                                    **({"network": network_ms} if network_ms is not None else {}),
                                    **({"end to end": end_to_end} if end_to_end is not None else {}))

    def _update_title(self):
        parts = [TITLE]
        if self.info:
            parts.append(f"{self.info['name']} ({BACKBONES[self.info['backbone']]})")
        if self.capture and self.capture.source is not None:
            parts.append(self.capture.source.name)
        title = " — ".join(parts)
        if self.info and self.info["warning"]:
            title += " — UNTRAINED WEIGHTS"
        self.setWindowTitle(title)

    def report(self, message, error=False):
        """One line in the status bar; errors also go to stderr."""
        if error:
            print(f"error: {message}", file=sys.stderr)
        self.statusBar().showMessage(("⚠ " if error else "") + message, 0 if error else 8000)

    # ---- recording and snapshots -------------------------------------------------------------------------------
    def set_recording(self, on):
        if not on:
            self.recorder.stop_recording()
            return
        path = Path(self.record_path) if self.record_path else \
            self.snapshot_folder / f"recording-{datetime.now():%Y%m%d-%H%M%S}.mp4"
        self.record_path = None
        fps = self.worker.inference_fps()
        source = self.capture.source if self.capture else None
        if fps < 1:
            fps = getattr(source, "fps", None) or 15.0
        self.recorder.start_recording(path, round(min(fps, 60.0), 1))
        self.report(f"recording to {path} at {fps:.1f} fps (R stops)")

    def snapshot(self):
        if self.result is None:
            self.report("nothing to save yet", error=True)
            return
        stem = f"{datetime.now():%Y%m%d-%H%M%S}-{self.output.index:06d}"
        self.recorder.snapshot(self.snapshot_folder, stem, self.composed(), self.result)

    # ---- help ------------------------------------------------------------------------------------------------
    def shortcuts(self):
        """(shortcut, what it does) for every action that has one."""
        rows = []
        for action in self.actions():
            key = action.shortcut().toString(QKeySequence.NativeText)
            if key:
                rows.append((key, action.text().replace("&", "").rstrip("…")))
        return rows

    def show_shortcuts(self):
        rows = self.shortcuts()
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        table = QTableWidget(len(rows), 2, dialog)
        table.setHorizontalHeaderLabels(["Key", "Action"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.NoEditTriggers)
        for row, (key, text) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(key))
            table.setItem(row, 1, QTableWidgetItem(text))
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        table.resizeColumnToContents(0)
        layout = QVBoxLayout(dialog)
        layout.addWidget(table)
        dialog.resize(460, 620)
        dialog.show()
        return dialog

    def show_about(self):
        QMessageBox.about(self, "About", "<b>Real-time joint semantic segmentation and depth</b><br>"
                          "Light-Weight RefineNet, Nekrasov et al., ICRA 2019.<br><br>"
                          "Hover any view to read the class and the depth in metres under the pointer.")

    # ---- shutting down -------------------------------------------------------------------------------------------
    def closeEvent(self, event):
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self):
        """Stops every thread and finalises any recording; True when all joined within the time allowed."""
        if not self.worker_thread.isRunning() and self.capture is None:
            return True
        deadline = time.perf_counter() + JOIN_S
        self.redraw_timer.stop()
        self.readout_timer.stop()
        self._save_settings()
        captures = [c for c in (self.capture, *self.stopped_captures) if c is not None]
        for capture in captures:
            capture.stop()
        self.worker.cancel_download()
        self.worker_thread.quit()
        joined = all(c.join(max(0.05, deadline - time.perf_counter())) for c in captures)
        joined &= self.worker_thread.wait(max(50, int(1000 * (deadline - time.perf_counter()))))
        joined &= self.recorder.close(max(0.05, deadline - time.perf_counter()))
        if not self.worker_thread.isFinished():
            print("warning: the inference thread is still busy; waiting for it", file=sys.stderr)
            self.worker_thread.wait()
        self.capture = None
        self.stopped_captures = []
        return joined


def dark_palette(app):
    app.setStyle("Fusion")
    palette = QPalette()
    colours = {QPalette.Window: "#1f2228", QPalette.WindowText: "#d8dee9", QPalette.Base: "#15171c",
               QPalette.AlternateBase: "#262a31", QPalette.ToolTipBase: "#2e3440", QPalette.ToolTipText: "#eceff4",
               QPalette.Text: "#d8dee9", QPalette.Button: "#2b2f37", QPalette.ButtonText: "#d8dee9",
               QPalette.BrightText: "#bf616a", QPalette.Highlight: "#5e81ac", QPalette.HighlightedText: "#ffffff",
               QPalette.Link: "#88c0d0"}
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.Text, QPalette.ButtonText, QPalette.WindowText):
        palette.setColor(QPalette.Disabled, role, QColor("#5c6370"))
    app.setPalette(palette)


QT_NOISE = ("propagateSizeHints", "XDG_RUNTIME_DIR")  # harmless platform-plugin chatter


def quiet_qt_messages(kind, context, message):
    if not any(noise in message for noise in QT_NOISE):
        print(message, file=sys.stderr)


def display_problem():
    """Why no window can open here (a Linux machine without a display), or None. Qt itself would abort."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("no display to open a window on: run it in a desktop session (or under Xvfb), "
            "or process without a window with --no-gui")


def run(args):
    """Opens the window and runs until it is closed; Ctrl-C in the terminal closes it cleanly too."""
    problem = display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    qInstallMessageHandler(quiet_qt_messages)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANISATION)
    dark_palette(app)
    window = MainWindow(args)

    def excepthook(kind, error, tb):  # a bug in a slot: said on stderr and in the status bar, not an abort
        traceback.print_exception(kind, error, tb)
        window.report(f"internal error: {error} (details on stderr)", error=True)

    sys.excepthook = excepthook
    signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer(interval=200, timeout=lambda: None)  # lets Python see Ctrl-C while Qt waits for events
    wake.start()
    window.show()
    app.exec_()
    window.shutdown()
    return 0
