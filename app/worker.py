"""The inference worker: a QObject living on its own QThread that runs the predictor on the newest frame.

Everything slow happens here, off the GUI thread: loading a checkpoint, building a backbone, moving the
network to another device or precision. The GUI polls ``latest()`` on its timer; rare events (a network is
ready, an error, progress) arrive as signals.
"""
import threading
import time
from collections import deque
from dataclasses import dataclass, replace

import torch
from PyQt5.QtCore import QObject, pyqtSignal, pyqtSlot

from model.engine import Predictor, network_size
from model.settings import RunSettings
from model.postprocess import depth_lut

from .networks import BACKBONES, open_network

RATE_WINDOW_S = 8.0


def cuda_available():
    return torch.cuda.is_available()


@dataclass
class Config:
    weights: str | None = None  # catalogue name or path; None: the backbone's installed or untrained network
    backbone: str = "mobilenet_v2"
    device: str = "auto"  # auto | cuda | cpu
    half: bool | None = None  # None: fp16 on CUDA, fp32 on the CPU
    size: int | None = None  # long side the network sees; None: the frame's own
    backend: str = "auto"  # CPU backend: auto | torch | onnxruntime
    download: bool = False


@dataclass
class Output:
    result: object  # model.engine.Result
    index: int  # the frame's position in its stream
    captured: float  # perf_counter() when the frame was read
    network_hw: tuple  # (H, W) the network saw
    description: str  # device, precision and backend that ran it


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


class DownloadCancelled(Exception):
    pass


class InferenceWorker(QObject):
    ready = pyqtSignal(dict)  # a network is loaded: see _describe()
    busy = pyqtSignal(str)  # what is being loaded ("" when done)
    downloading = pyqtSignal(object, object)  # bytes done, bytes in all (-1 while unknown)
    failed = pyqtSignal(str)  # one line; the previous network keeps running

    def __init__(self, slot):
        super().__init__()
        self.slot = slot
        self.config = None
        self.network = None
        self.predictor = None
        self.rate = RateMeter()
        self._latest = None
        self._last_frame = None
        self._lock = threading.Lock()
        self._cancel = threading.Event()

    def cancel_download(self):
        """Called from the GUI thread: the running download stops at its next chunk."""
        self._cancel.set()

    def latest(self):
        """The newest Output not yet taken, or None."""
        with self._lock:
            output, self._latest = self._latest, None
            return output

    def inference_fps(self):
        with self._lock:
            return self.rate.rate()

    @pyqtSlot(object)
    def configure(self, config):
        """Loads what ``config`` asks for, reusing what it can; then reruns the last frame (seen while paused)."""
        old = self.config
        try:
            if self.network is None or old is None or (config.weights, config.backbone) != (old.weights,
                                                                                             old.backbone):
                self.busy.emit(self._loading_text(config))
                self._cancel.clear()
                network = open_network(config.weights, config.backbone, config.download, self._download_progress)
                self._close_predictor()  # the old network's memory goes before the new one moves to a device
                self.network = network
            if self.predictor is None or (config.device, config.half, config.backend) != (
                    old.device, old.half, old.backend):
                self.busy.emit(f"preparing {self.network.name} ({config.device})")
                self._close_predictor()
                self.predictor = Predictor(self.network.model, self._settings(config))
            self.predictor.size = config.size
            if self._last_frame is not None:  # backend choice, cuDNN search, CUDA graph: now, with progress
                self.predictor.warmup(self._last_frame.image.shape[:2], lambda _, text: self.busy.emit(text))
            self.config = config
        except Exception as e:  # CheckpointError, WeightsError, RuntimeError (CUDA absent), out of memory
            self.busy.emit("")
            self.failed.emit(_one_line(e))
            if self.predictor is None:
                self._recover(old, config.backbone)
            return
        self.busy.emit("")
        self.ready.emit(self._describe())
        if self._last_frame is not None:
            self._infer(self._last_frame)

    def _settings(self, config):
        precision = {None: "auto", True: "fp16", False: "fp32"}[config.half]
        backend = config.backend if config.device == "cpu" or not cuda_available() else "auto"
        return RunSettings(config.device, precision, backend, config.size)

    def _close_predictor(self):
        if self.predictor is not None:
            self.predictor.close()
            self.predictor = None

    def close(self):
        """Frees the network now; called on the worker's thread as it stops."""
        self._close_predictor()
        self.network = None

    def _recover(self, old, backbone):
        """After a failure with nothing running: the previous network and settings, else the backbone's own
        (installed or untrained) network on the default device, so that frames keep flowing."""
        old = old or Config(backbone=backbone)
        try:
            if self.network is None:
                self.network = open_network(None, old.backbone)
            self.predictor = Predictor(self.network.model, self._settings(old))
            self.config = replace(old, weights=self.network.weights, backbone=self.network.backbone)
        except Exception as e:
            self.failed.emit(_one_line(e))
            return
        self.ready.emit(self._describe())

    @pyqtSlot()
    def process(self):
        frame = self.slot.take()
        if frame is not None:
            self._last_frame = frame
            self._infer(frame)

    def _infer(self, frame):
        if self.predictor is None:
            return
        try:
            result = self.predictor(frame.image)
        except Exception as e:
            self.failed.emit(f"inference failed: {_one_line(e)}")
            return
        output = Output(result, frame.index, frame.captured,
                        network_size(frame.image.shape[:2], self.predictor.size), self.predictor.description)
        with self._lock:
            self._latest = output
            self.rate.tick()

    def _download_progress(self, done, total):
        if self._cancel.is_set():
            raise DownloadCancelled("download cancelled; nothing partial was kept")
        self.downloading.emit(done, -1 if total is None else total)

    @staticmethod
    def _loading_text(config):
        if config.weights:
            return f"loading {config.weights}"
        return f"building {BACKBONES.get(config.backbone, config.backbone)}"

    def _describe(self):
        network, predictor = self.network, self.predictor
        return {
            "name": network.name,
            "weights": network.weights,
            "backbone": network.backbone,
            "warning": network.warning,
            "preset": network.model.preset,
            "tasks": tuple(network.model.tasks),
            "device": predictor.applied.device,
            "half": predictor.applied.precision == "fp16",
            "description": predictor.description,
            "depth_lut": depth_lut(),
        }


def _one_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
