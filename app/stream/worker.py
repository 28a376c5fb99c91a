"""The inference worker: a QObject on its own QThread that runs the predictor on the newest frame.

Everything slow happens here, off the GUI thread: opening a checkpoint, building a network, preparing a
predictor (the backend race, int8 calibration, the warm-up). A requested change is built and warmed up while
the running predictor stays in place, and replaces it only once it has worked: when it fails, what ran before
goes on, and ``running`` says so again, so that the window shows the settings that really run.
"""
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

import torch
from PyQt5.QtCore import QObject, pyqtSignal, pyqtSlot

from model.errors import first_line
from model.inference.engine import Predictor
from model.inference.flicker import FlickerMeter
from model.inference.rules import SAFE as FALLBACK
from model.inference.run_settings import Applied, RunSettings
from model.network.encoders import DEFAULT_ENCODER

from .network_choice import BACKBONES, open_network

RATE_WINDOW_S = 8.0
SAFE = FALLBACK.settings()  # what runs when nothing else could: needs nothing but torch, on the CPU


@dataclass(frozen=True)
class Request:
    """A network and how to run it, as the user asks for them."""

    weights: str | None = None  # catalogue name or checkpoint path; None: the backbone's installed, or untrained
    backbone: str = DEFAULT_ENCODER
    settings: RunSettings = field(default_factory=RunSettings)
    download: bool = False  # fetch missing catalogue weights
    stabilise: float = 0.0  # temporal stabilisation strength (model.inference.stabiliser); 0: off


@dataclass(frozen=True)
class Running:
    """The network that runs, and how."""

    name: str  # a catalogue name, a checkpoint's file name, or "untrained"
    weights: str | None  # what opens it again; None when untrained
    backbone: str
    warning: str | None  # set when its outputs mean nothing (untrained)
    preset: object
    tasks: tuple
    applied: Applied  # what the predictor runs (it changes once, when the first frame chooses)
    settings: RunSettings  # what was asked for
    chosen: bool = False  # whether ``applied`` is the choice made (else what was asked, until the first frame)
    notice: str | None = None  # why what runs differs from what was asked, when that is news to the user
    stabilise: float = 0.0  # the stabilisation strength applied

    @property
    def request(self):
        return Request(self.weights, self.backbone, self.settings, stabilise=self.stabilise)


@dataclass
class Output:
    result: object  # model.inference.engine.Result
    index: int  # the frame's position in its stream
    captured: float  # perf_counter() when the frame was read
    warmed: bool = False  # the predictor was prepared for this frame: its latency includes that
    flicker: object = None  # model.inference.flicker.Flicker over the last frames, None before two


class RateMeter:
    """Events per second over the last ``count`` events, looking back at most ``window`` seconds: quick to
    follow a fast stream, and still a number (not 0) for one that gives a frame every few seconds."""

    def __init__(self, count=30, window=RATE_WINDOW_S):
        self.window = window
        self.times = deque(maxlen=count)

    def tick(self, now=None):
        self.times.append(time.perf_counter() if now is None else now)

    def rate(self, now=None):
        now = time.perf_counter() if now is None else now
        recent = [t for t in self.times if t >= now - self.window]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)


class Stopped(Exception):
    """Raised from a progress callback to abandon a download or a warm-up."""


class InferenceWorker(QObject):
    running = pyqtSignal(object)  # Running: after each change, after a failed one, and when the predictor moved
    progress = pyqtSignal(float, str)  # fraction done (negative: unknown) and what is happening; "" when done
    downloading = pyqtSignal(object, object)  # bytes done, bytes in all (-1 while unknown)
    failed = pyqtSignal(str)  # one line
    produced = pyqtSignal()  # a new Output waits in latest() (sent when there was none: one wake-up per wait)
    _requested = pyqtSignal()  # queued to this object's thread

    def __init__(self, slot):
        super().__init__()
        self.slot = slot
        self.network = self.predictor = self.current = None
        self.rate = RateMeter()
        self.flicker = FlickerMeter()
        self._stabilise = 0.0  # the strength asked for
        self._network_key = None  # the (weights, backbone) asked for that gave self.network
        self._pending = None
        self._latest = None
        self._last_frame = None
        self._last_error = None
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._stopping = threading.Event()
        self._requested.connect(self._apply_pending)

    # ---- from any thread ------------------------------------------------------------------------------------
    def request(self, request):
        """Asks for another network or settings; of the requests not yet started, only the newest is applied."""
        with self._lock:
            self._pending = request
        self._requested.emit()

    def cancel_download(self):
        self._cancel.set()

    def stop(self):
        """Abandons a download or warm-up under way (at its next progress report) and every later one."""
        self._stopping.set()
        self._cancel.set()

    def latest(self):
        """The newest Output not yet taken, or None."""
        with self._lock:
            output, self._latest = self._latest, None
            return output

    def inference_fps(self):
        with self._lock:
            return self.rate.rate()

    # ---- on the worker's thread -----------------------------------------------------------------------------
    @pyqtSlot()
    def _apply_pending(self):
        with self._lock:
            request, self._pending = self._pending, None
        if request is not None:
            self.apply(request)

    def apply(self, request):
        """Builds and warms up what ``request`` asks for, then puts it in place of what runs."""
        current, key = self.current, (request.weights, request.backbone)
        self._last_error = None
        self._stabilise = request.stabilise
        network = None
        try:
            network = self._network_for(request)
            if network is self.network and current is not None and same_predictor(request.settings,
                                                                                   current.settings):
                self.predictor.size = request.settings.size  # read per frame: nothing to rebuild
                self._install(network, key, self.predictor, request.settings)
            else:
                self._install(network, key, self._prepared(network, request.settings), request.settings)
        except Exception as e:  # CheckpointError, WeightsError, SettingsError, NetworkError, out of memory...
            if self._stopping.is_set():
                return
            self._say_failed(first_line(e))
            if self.predictor is None:
                self._recover(request, network)
            else:
                self.progress.emit(1.0, "")
                self.running.emit(self.current)  # what runs is unchanged: the controls go back to it
            return
        self.progress.emit(1.0, "")
        self.running.emit(self.current)
        self._rerun_last_frame()

    def _network_for(self, request):
        """The network ``request`` names: the one loaded when it is that one, else opened now."""
        key = (request.weights, request.backbone)
        if self.network is not None and key in (self._network_key, (self.network.weights, self.network.backbone)):
            return self.network
        self.progress.emit(-1.0, f"loading {request.weights}" if request.weights
                           else f"building {BACKBONES.get(request.backbone, request.backbone)}")
        self._cancel.clear()
        return open_network(request.weights, request.backbone, request.download, self._download_progress)

    def _prepared(self, network, settings):
        """A predictor for ``network``, warmed up for the frames that come (when one was seen)."""
        self.progress.emit(-1.0, f"preparing {network.name}")
        predictor = Predictor(network.model, settings, resolution="network")
        if self._last_frame is not None:
            try:
                self._warm_up(predictor, self._last_frame.image.shape[:2])
            except BaseException:
                predictor.close()
                raise
        return predictor

    def _warm_up(self, predictor, frame_size):
        def report(fraction, message):
            if self._stopping.is_set():
                raise Stopped("stopped")
            self.progress.emit(fraction, message)

        predictor.warmup(frame_size, report)

    def _install(self, network, key, predictor, settings):
        old, self.predictor = self.predictor, predictor
        if old is not None and old is not predictor:
            old.close()
            self.flicker.reset()  # another model: its results are not compared with the last one's
        predictor.stabilise = self._stabilise
        self.network, self._network_key = network, key
        self.current = Running(network.name, network.weights, network.backbone, network.warning,
                               network.model.preset, tuple(network.model.tasks), predictor.applied, settings,
                               predictor.chosen, notice(predictor.applied, predictor.chosen),
                               predictor.stabilise)

    def _recover(self, request, network=None):
        """With nothing running after a failure: the requested ``network`` (when it opened) on the CPU in fp32
        with PyTorch, else the backbone's untrained network, so that frames keep flowing and the window says
        what runs."""
        settings = replace(request.settings, **SAFE)
        options = [((None, request.backbone), lambda: open_network(None, request.backbone))]
        if network is not None:
            options.insert(0, ((request.weights, request.backbone), lambda: network))
        for key, make in options:
            try:
                network = make()
                self._install(network, key, self._prepared(network, settings), settings)
            except Exception as e:
                if self._stopping.is_set():
                    return
                self._say_failed(first_line(e))
                continue
            self.progress.emit(1.0, "")
            self.running.emit(self.current)
            self._rerun_last_frame()
            return
        self.progress.emit(1.0, "")

    @pyqtSlot()
    def process(self):
        frame = self.slot.take()
        if frame is None or self.predictor is None:
            if frame is not None:
                self._last_frame = frame
            return
        if self._last_frame is not None and frame.index <= self._last_frame.index:  # another source (from 0)
            self.predictor.reset_stabiliser()
            self.flicker.reset()
        self._last_frame = frame
        warmed = not self.predictor.chosen
        if warmed:  # the first frame: the backend race, int8 calibration, warm-up, reported as they go
            try:
                self._warm_up(self.predictor, frame.image.shape[:2])
            except Exception as e:
                if self._stopping.is_set():
                    return
                self._say_failed(first_line(e))
                request = self.current.request
                self.predictor.close()
                self.predictor = self.current = None
                self._recover(request, self.network)
                return
            self.progress.emit(1.0, "")
        self._infer(frame, warmed)

    def _infer(self, frame, warmed=False, captured=None):
        try:
            result = self.predictor(frame.image)
        except Exception as e:  # FrameError, NetworkError: said once, the stream goes on
            self._say_failed(f"inference failed: {first_line(e)}")
            return
        self._last_error = None
        if not self.current.chosen or result.applied != self.current.applied:  # chosen now, or moved
            self.current = replace(self.current, applied=result.applied, chosen=True,
                                   notice=notice(result.applied, True))
            self.running.emit(self.current)
        self.flicker.update(result)
        output = Output(result, frame.index, frame.captured if captured is None else captured, warmed,
                        self.flicker.figure)
        with self._lock:
            waiting = self._latest is not None
            self._latest = output
            if not warmed:
                self.rate.tick()
        if not waiting:
            self.produced.emit()

    def _rerun_last_frame(self):
        """After a change, the last frame again: a paused view shows the new network's answer."""
        if self._last_frame is not None and self.predictor is not None and self.predictor.chosen:
            self._infer(self._last_frame, warmed=True, captured=time.perf_counter())

    def _say_failed(self, message):
        if message != self._last_error:
            self._last_error = message
            self.failed.emit(message)

    def _download_progress(self, done, total):
        if self._cancel.is_set():
            raise Stopped("download cancelled; nothing partial was kept")
        self.downloading.emit(done, -1 if total is None else total)

    def close(self):
        """Frees the network now; called on the worker's thread as it stops."""
        if self.predictor is not None:
            self.predictor.close()
        self.predictor = self.network = None


def notice(applied, chosen):
    """``applied.reason`` when worth telling: before the choice it is only ever that the automatic device is
    the CPU, which needs no word on a machine without a GPU."""
    return applied.reason if chosen or torch.cuda.is_available() else None


def same_predictor(a, b):
    """Whether settings ``a`` and ``b`` need the same predictor: they differ in the input size at most."""
    return replace(a, size=None) == replace(b, size=None)
