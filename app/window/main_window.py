"""The main window: the image views and the 3D view (``app.cloud3d.semantic3d``) side by side in a splitter, the
class legend and the Performance panel beside them, the controls (``controls``); what they show and change is the
window's ``state.ViewState``, wired here to the pipeline (``app.stream.pipeline``) and the views. Each result is
drawn as soon as the worker has it."""
import sys
import time
from datetime import datetime
from pathlib import Path

from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import QDockWidget, QMainWindow, QScrollArea, QSplitter, QStackedWidget

from app.cloud3d.semantic3d import Hooks, Semantic3D
from app.panels import readout
from app.panels.table import VIEW_CHOICES, view_available
from app.panels.views import ImageViews
from app.remembered import Remembered
from app.sources import IMAGE_SUFFIXES, ImageFolderSource, VideoSource
from app.stream.network_choice import BACKBONES
from app.stream.pipeline import Pipeline
from app.stream.worker import RateMeter
from app.theme import STYLE

from .controls import Commands, Controls
from .dialogs import DownloadProgress
from .legend import Legend
from .performance import PerformancePanel
from .screen_fit import fit_to_screen
from .startup import StartupPanel
from .state import CHECKPOINT_SUFFIXES, ViewState
from .status import StatusLine

TITLE = "Joint segmentation and depth"
CLOUD_POLL_MS = 15  # how often the 3D view looks for a cloud its thread has built
READOUT_MS = 250


class MainWindow(QMainWindow):
    def __init__(self, args, settings=None, source=None):
        """``args``: the parsed flags of ``run_demo.py``; ``settings``: a QSettings (default: the user's);
        ``source``: an unopened Source replacing the one the flags or the settings name."""
        super().__init__()
        remembered = self.remembered = Remembered(args, settings)
        self.state = ViewState(remembered.request(), remembered.arrangement(), remembered.snapshot_folder(),
                               loop=remembered.loop(), beside=remembered.value("cloud/beside", False, bool),
                               colouring=remembered.value("cloud/colouring", "class"), parent=self)
        self.record_path = getattr(args, "record", None)
        self.output = None  # the newest worker.Output shown
        self.pixel = None  # the hovered frame pixel
        self.display_rate = RateMeter()
        self.display_ms = self.end_to_end_ms = None
        self.legend_result = None  # the result the legend lists the classes of
        self.told_notice = None  # the last Running.notice said in the status bar
        self.told_note = None  # the last Applied.note said there
        self.told_warning = None
        self.closed = False
        self.joined = True  # whether shutting down joined every thread in time
        self.download_dialog = None

        self.pipeline = Pipeline()
        worker = self.pipeline.worker
        worker.running.connect(self.on_running)
        worker.failed.connect(self.on_failed)
        worker.progress.connect(self.on_progress)
        worker.downloading.connect(self.on_downloading)
        worker.produced.connect(self.redraw)
        self.pipeline.source_opened.connect(self.on_source_opened)
        self.pipeline.source_failed.connect(self.on_source_failed)
        self.pipeline.source_ended.connect(lambda name: self.report(f"end of {name} (Ctrl+L loops it; File opens "
                                                                    "another)"))
        self.pipeline.recorder.saved.connect(self.report)
        self.pipeline.recorder.saved.connect(lambda text: print(text, flush=True), Qt.DirectConnection)
        self.pipeline.recorder.failed.connect(self.on_recorder_failed)

        self._build()
        state = self.state
        state.request_changed.connect(self.pipeline.configure)
        state.refused.connect(lambda message: self.report(message, error=True))
        state.paused_changed.connect(self.on_paused)
        state.recording_changed.connect(self.on_recording)
        state.loop_changed.connect(self.on_loop)
        commands = Commands(open_source=self.open_source, open_checkpoint=self.open_checkpoint,
                            source=lambda: self.pipeline.source, snapshot=self.snapshot, step=self.step_frame,
                            next_single_view=self.next_single_view, reset_zoom=self.views.reset_zoom,
                            set_plots=self.performance.set_plots_visible, set_fullscreen=self.set_fullscreen)
        self.controls = Controls(state, commands, self, self.remembered, (self.legend_dock, self.performance_dock))
        self.controls.plots_action.setChecked(self.remembered.value("view/plots", True, bool))
        self.semantic3d.build_menu(self.menuBar())
        self.controls.sync()
        self.semantic3d.arrange()
        fit_to_screen(self, self.remembered, self.legend_dock, self.performance_dock)
        self.pipeline.configure(self.wanted)
        self.open_source(source or self.remembered.source())
        self.cloud_timer = QTimer(self, interval=CLOUD_POLL_MS, timeout=self.semantic3d.poll)
        self.readout_timer = QTimer(self, interval=READOUT_MS, timeout=self.update_readout)
        self.cloud_timer.start()
        self.readout_timer.start()

    @property
    def result(self):
        return self.output.result if self.output is not None else None

    @property
    def wanted(self):
        """The worker.Request the controls show: what was asked for, then what runs."""
        return self.state.request

    @property
    def running(self):
        """The worker.Running, once the worker answered."""
        return self.state.running

    @property
    def arrangement(self):
        return self.state.arrangement

    # ---- the window's parts ---------------------------------------------------------------------------------
    def _build(self):
        self.setAcceptDrops(True)
        self.setStyleSheet(STYLE)
        self.views = ImageViews()
        self.views.hovered.connect(self.on_hover)
        self.views.set_arrangement(self.arrangement)
        self.state.arrangement_changed.connect(self.views.set_arrangement)  # before the 3D view follows it
        self.startup = StartupPanel()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.startup)
        self.setCentralWidget(self.stack)
        self.legend = Legend()
        self.legend_dock = self._dock("Classes in view", self.legend, "legend")
        self.performance = PerformancePanel()
        scroll = QScrollArea()  # a short dock scrolls instead of cutting the readout
        scroll.setWidget(self.performance)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        self.performance_dock = self._dock("Performance", scroll, "performance")

        self.status = StatusLine(self.statusBar())
        hooks = Hooks(result=lambda: self.result, report=self.report, show_2d=self.views.setVisible,
                      show_measure=self._show_measure, show_hidden=self.legend.set_hidden)
        self.semantic3d = Semantic3D(self.state, self, hooks, self.remembered.intrinsics())
        self.legend.toggled.connect(self.semantic3d.toggle_class)
        self.views.measured.connect(self.semantic3d.add_measure_point)
        self.splitter = QSplitter(Qt.Horizontal)  # the 2D scene, then the 3D view (shown or not)
        self.splitter.addWidget(self.views)
        self.splitter.addWidget(self.semantic3d.panel)
        self.splitter.setChildrenCollapsible(False)
        splitter = self.remembered.raw("cloud/splitter")
        if splitter is None or not self.splitter.restoreState(splitter):
            self.splitter.setSizes([600, 400])
        self.stack.addWidget(self.splitter)

    def _dock(self, title, widget, name):
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable |
                         QDockWidget.DockWidgetFloatable)
        self.addDockWidget(Qt.RightDockWidgetArea, dock)
        return dock

    # ---- what runs --------------------------------------------------------------------------------------------
    def open_checkpoint(self, path):
        self.state.choose_network(str(path))

    def on_running(self, running):
        self.state.set_running(running)
        self.views.set_depth_scale(running.preset.max_depth)
        warning = running.warning
        self.views.set_warning(f"⚠ {warning}" if warning else "")
        self.status.show_running(running)
        if warning and warning != self.told_warning:
            print(f"warning: {warning}", file=sys.stderr)
        self.told_warning = warning
        if running.notice and running.notice != self.told_notice:
            self.report(running.notice, error=True)
        self.told_notice = running.notice
        note = running.applied.note if running.chosen else None
        if note and note != self.told_note:  # news, not a fault: a plain message that fades
            self.report(note)
        self.told_note = note
        self._close_download_dialog()
        self._update_title()

    def on_failed(self, message):
        self.report(message, error=True)
        self._close_download_dialog()

    def on_progress(self, fraction, message):
        """The worker's steps: in the view until the first result, then in the status bar."""
        if self.output is None:
            self.startup.set_progress(fraction, message)
            if message:
                self.startup.set_heading("Preparing the network…")
            return
        self.status.show_progress(fraction, message)

    def on_downloading(self, done, total):
        if self.download_dialog is None:
            self.download_dialog = DownloadProgress(self, self.pipeline.worker.cancel_download)
        self.download_dialog.report(done, total)

    def _close_download_dialog(self):
        if self.download_dialog is not None:
            self.download_dialog.close()
            self.download_dialog.deleteLater()
            self.download_dialog = None

    # ---- sources ------------------------------------------------------------------------------------------
    def open_source(self, source):
        """Reads ``source`` (an unopened Source; None: camera 0, else the synthetic scene) from now on."""
        capture = self.pipeline.open_source(source, paused=self.state.paused)
        if isinstance(source, (VideoSource, ImageFolderSource)):
            self.state.set_loop(source.loop)  # the toggle shows what this source does
        if self.output is None:
            self.startup.set_heading(f"Opening {capture.name}…")

    def open_path(self, path):
        """A dropped or given path: an image folder (or an image in one), a checkpoint, else a video."""
        path = Path(path)
        loop = self.state.loop
        if path.is_dir():
            self.open_source(ImageFolderSource(path, loop=loop))
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            self.open_source(ImageFolderSource(path.parent, loop=loop))
        elif path.suffix.lower() in CHECKPOINT_SUFFIXES:
            self.open_checkpoint(path)
        else:
            self.open_source(VideoSource(path, loop=loop))

    def on_source_opened(self, source):
        fps = f" at {source.fps:g} fps" if source.fps else ""
        self.report(f"showing {source.name}{fps}")
        if self.output is None:
            self.startup.set_heading(f"Preparing the network for {source.name}…")
        self._update_title()

    def on_source_failed(self, message):
        self.report(message, error=True)
        if self.output is None:
            self.startup.set_heading(message)
            self.startup.set_progress(0.0, "Open a video or an image folder (File menu, or drop it here), "
                                           "or pick a camera (Camera menu).")
            self.startup.bar.hide()

    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(urls[0])
            event.acceptProposedAction()

    # ---- what is shown --------------------------------------------------------------------------------------
    def next_single_view(self):
        """In the single layout the next panel the model has; in the others, the single layout."""
        present = [n for n in VIEW_CHOICES if view_available(self.result, n)]
        current = self.arrangement.single if self.arrangement.single in present else present[0]
        if self.arrangement.layout == "single":
            current = present[(present.index(current) + 1) % len(present)]
        self.state.set_single_view(current)

    def on_paused(self, paused):
        self.pipeline.set_paused(paused)
        self.report("paused (Space resumes, . steps)" if paused else "running")

    def step_frame(self):
        self.state.set_paused(True)
        self.pipeline.step()

    def on_loop(self, loop):
        source = self.pipeline.source
        if source is not None and hasattr(source, "loop"):
            source.loop = loop

    def set_fullscreen(self, on):
        self.showFullScreen() if on else self.showNormal()

    def redraw(self):
        output = self.pipeline.latest()
        if output is not None:
            self.show_output(output)
        self.semantic3d.poll()

    def show_output(self, output):
        first = self.output is None
        if first:
            self.stack.setCurrentWidget(self.splitter)
            self.on_progress(1.0, "")
        self.output = output
        start = time.perf_counter()
        self.views.show_result(output.result)
        if first:
            self.semantic3d.arrange()  # the 3D view alone needs a model with depth: known now
        self.semantic3d.show_result(output.result)
        now = time.perf_counter()
        self.display_ms = (now - start) * 1e3
        self.display_rate.tick(now)
        self.end_to_end_ms = (now - output.captured) * 1e3
        if self.pixel is not None:
            self.on_hover(self.pixel)
        if self.record_path and not self.state.recording:
            self.state.set_recording(True)  # --record starts with the first result
        if self.state.recording:
            self.pipeline.record(output.result, self.arrangement)

    def _show_measure(self, pixels, label, metres, text):
        self.views.show_measure(pixels, label)
        self.status.show_measure(metres, text)

    def on_hover(self, pixel):
        self.pixel = pixel
        self.views.mark(pixel)
        text = readout.hover_text(self.result, pixel, self.semantic3d.map_intrinsics(self.result))
        self.status.show_hover(text)
        inside = bool(text)
        self.legend.highlight(readout.class_at(self.result, pixel) if inside else None)

    def update_readout(self):
        """The Performance panel, its plots and the legend, a few times a second."""
        output = self.output
        result = output.result if output is not None else None
        if result is not None and result is not self.legend_result:
            self.legend.update_classes(result.labels, result.preset)
            self.legend_result = result
        cloud_ms, cloud_draw_ms, cloud_points = self.semantic3d.costs()
        measurements = readout.Measurements(
            display_fps=self.display_rate.rate(), inference_fps=self.pipeline.inference_fps(),
            frames=self.pipeline.frames, dropped=self.pipeline.dropped,
            timings=result.timings if result is not None else None, display_ms=self.display_ms,
            end_to_end_ms=self.end_to_end_ms, network_hw=result.network_size if result is not None else None,
            frame_hw=result.frame.shape[:2] if result is not None else None,
            recording=self.pipeline.recorder.frames_queued if self.state.recording else None,
            cloud_ms=cloud_ms, cloud_draw_ms=cloud_draw_ms, cloud_points=cloud_points,
            camera=self.semantic3d.camera_text(result))
        applied = self.running.applied if self.running is not None else None
        self.performance.show_rows(readout.performance_rows(measurements, self.running),
                                   readout.backend_details(applied))
        self.performance.show_flicker(output.flicker if output is not None else None,
                                      self.running.stabilise if self.running is not None else 0.0)
        if output is None:
            return  # the plots start with the first result (rates once measured), without the warm-up's latency
        rates = {name: rate for name, rate in (("display", measurements.display_fps),
                                                ("inference", measurements.inference_fps)) if rate > 0}
        latency = {} if output.warmed else {"network": result.timings.get("network", 0.0),
                                             "end to end": self.end_to_end_ms}
        self.performance.add_sample(**rates, **latency, **self.performance.flicker_sample(output.flicker))

    def _update_title(self):
        parts = [TITLE]
        if self.running is not None:
            parts.append(f"{self.running.name} ({BACKBONES.get(self.running.backbone, self.running.backbone)})")
        if self.pipeline.source is not None:
            parts.append(self.pipeline.source.name)
        title = " — ".join(parts)
        if self.running is not None and self.running.warning:
            title += " — UNTRAINED WEIGHTS"
        self.setWindowTitle(title)

    def report(self, message, error=False):
        """One line in the status bar; errors also go to stderr."""
        self.status.report(message, error)

    # ---- files --------------------------------------------------------------------------------------------
    def on_recording(self, on):
        if not on:
            self.pipeline.stop_recording()
            return
        path = Path(self.record_path) if self.record_path else \
            self.state.snapshot_folder / f"recording-{datetime.now():%Y%m%d-%H%M%S}.mp4"
        self.record_path = None
        fps = self.pipeline.inference_fps()
        if fps < 1:
            fps = getattr(self.pipeline.source, "fps", None) or 15.0
        self.pipeline.start_recording(path, round(min(fps, 60.0), 1))
        self.report(f"recording to {path} at {fps:.1f} fps (R stops)")

    def on_recorder_failed(self, message):
        self.report(message, error=True)
        self.state.set_recording(False)

    def snapshot(self):
        if self.output is None:
            self.report("nothing to save yet", error=True)
            return
        stem = f"{datetime.now():%Y%m%d-%H%M%S}-{self.output.index:06d}"
        result = self.output.result
        intrinsics = self.semantic3d.frame_intrinsics(result) if result.depth is not None else None
        self.pipeline.snapshot(self.state.snapshot_folder, stem, result, self.arrangement, intrinsics)

    # ---- the end ------------------------------------------------------------------------------------------
    def closeEvent(self, event):
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self):
        """Remembers the session, then stops every thread and finalises any recording; True when all joined
        in time (again when called again)."""
        if self.closed:
            return self.joined
        self.closed = True
        self.cloud_timer.stop()
        self.readout_timer.stop()
        self.remembered.save(source=self.pipeline.source,
                             request=self.running.request if self.running is not None else self.wanted,
                             arrangement=self.arrangement, loop=self.state.loop,
                             plots=self.controls.plots_action.isChecked(),
                             snapshot_folder=self.state.snapshot_folder,
                             geometry=self.saveGeometry(), state=self.saveState(),
                             intrinsics=self.semantic3d.camera.choice,
                             cloud={**self.semantic3d.settings_to_remember(), "splitter": self.splitter.saveState()})
        self.joined = self.semantic3d.close()
        self.joined &= self.pipeline.shutdown()
        return self.joined
