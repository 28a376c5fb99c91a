"""What the window's controls show and change, in one object with a signal per change: the layout, the network
asked for and the one that runs, paused, recording, looping, where snapshots and recordings go, and the 3D view's
place and colouring.

The window owns it and wires its signals to the pipeline and the views; the toolbar and menus (``controls``) and
the 3D view (``app.cloud3d.semantic3d``) read it, change it, and follow its signals, whoever made the change (a
key, a box, the worker answering). A signal fires once per real change: setting a value it already has is
silent. Read the attributes; change them only through the methods.
"""
from dataclasses import replace
from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal

from model.inference.run_settings import SettingsError

CHECKPOINT_SUFFIXES = {".ckpt", ".pth", ".pt"}


class ViewState(QObject):
    arrangement_changed = pyqtSignal(object)  # app.panels.table.Arrangement
    request_changed = pyqtSignal(object)  # app.stream.worker.Request: another network or settings asked for
    running_changed = pyqtSignal(object)  # app.stream.worker.Running: the worker answered; ``request`` follows it
    refused = pyqtSignal(str)  # why settings asked for cannot run here; the request stays as it was
    paused_changed = pyqtSignal(bool)
    recording_changed = pyqtSignal(bool)
    loop_changed = pyqtSignal(bool)  # whether videos and image folders start again at their end
    snapshot_folder_changed = pyqtSignal(object)  # a Path
    beside_changed = pyqtSignal(bool)  # whether the 3D view is shown beside the 2D panels
    colouring_changed = pyqtSignal(str)  # the 3D view's colouring: one of app.cloud3d.cloud.COLOURINGS

    def __init__(self, request, arrangement, snapshot_folder, loop=False, beside=False, colouring="class",
                 parent=None):
        super().__init__(parent)
        self.request = request  # what the controls show: what was asked for, then what runs once it answered
        self.running = None
        self.checkpoints = {}  # backbone -> the last checkpoint that ran with it
        self.arrangement = arrangement
        self.paused = False
        self.recording = False
        self.loop = loop
        self.snapshot_folder = snapshot_folder
        self.beside = beside
        self.colouring = colouring

    def _change(self, name, value):
        if getattr(self, name) == value:
            return
        setattr(self, name, value)
        getattr(self, f"{name}_changed").emit(value)

    # ---- the network --------------------------------------------------------------------------------------
    def ask(self, request):
        self._change("request", request)

    def choose_network(self, weights, backbone=None, download=False):
        """A catalogue name or checkpoint path (None: the backbone's untrained network)."""
        self.ask(replace(self.request, weights=weights, backbone=backbone or self.request.backbone,
                         download=download))

    def choose_backbone(self, backbone):
        """Another encoder: the checkpoint last run with it, else its installed or untrained network."""
        if backbone != self.request.backbone:
            self.ask(replace(self.request, backbone=backbone, weights=self.checkpoints.get(backbone),
                             download=False))

    def change_settings(self, **changes):
        """Another device, precision, backend or input size (``model.inference.run_settings.RunSettings``
        fields); settings that cannot run here (an input size beyond this machine's memory) are refused."""
        try:
            settings = replace(self.request.settings, **changes)
        except SettingsError as e:
            self.refused.emit(str(e))
            return
        self.ask(replace(self.request, settings=settings))

    def set_running(self, running):
        """What the worker runs now; what is asked for becomes that (without asking again)."""
        self.running, self.request = running, running.request
        if running.weights and Path(running.weights).suffix in CHECKPOINT_SUFFIXES:
            self.checkpoints[running.backbone] = running.weights
        self.running_changed.emit(running)

    # ---- what is shown ------------------------------------------------------------------------------------
    def set_arrangement(self, arrangement):
        self._change("arrangement", arrangement)

    def set_layout(self, layout):
        self.set_arrangement(replace(self.arrangement, layout=layout))

    def set_single_view(self, name):
        self.set_arrangement(replace(self.arrangement, layout="single", single=name))

    def set_opacity(self, opacity):
        """The blend's opacity, kept within 0..1, to the hundredth."""
        self.set_arrangement(replace(self.arrangement, opacity=min(1.0, max(0.0, round(float(opacity), 2)))))

    def set_beside(self, on):
        self._change("beside", bool(on))

    def set_colouring(self, colouring):
        self._change("colouring", colouring)

    # ---- the stream ---------------------------------------------------------------------------------------
    def set_paused(self, paused):
        self._change("paused", bool(paused))

    def set_recording(self, on):
        self._change("recording", bool(on))

    def set_loop(self, loop):
        self._change("loop", bool(loop))

    def set_snapshot_folder(self, folder):
        self._change("snapshot_folder", Path(folder))
