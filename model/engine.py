"""The predictor: uint8 RGB frames in, labels, metric depth and colour images out. No Qt here."""
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import postprocess as pp
from .backends import BACKENDS, OnnxRunner, TorchRunner, fastest, onnxruntime_available


class FrameError(ValueError):
    """A frame that cannot be processed; the message says why in one line."""


@dataclass
class Result:
    frame: np.ndarray  # H x W x 3 uint8 RGB, as given
    labels: np.ndarray  # H x W uint8 class indices
    depth: np.ndarray | None  # H x W float32 metres
    segm_rgb: np.ndarray  # H x W x 3 uint8
    depth_rgb: np.ndarray | None
    normals_rgb: np.ndarray | None
    preset: object
    timings: dict = field(default_factory=dict)  # milliseconds by stage


def as_rgb_frame(frame):
    """Accepts H x W x 3 RGB, H x W grey, H x W x 4 RGBA (numpy or torch, uint8); returns H x W x 3 uint8."""
    if torch.is_tensor(frame):
        frame = frame.detach().cpu().numpy()
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        raise FrameError(f"frame must be uint8, got {frame.dtype}")
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    elif frame.ndim == 3 and frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        frame = frame[:, :, :3]
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise FrameError(f"frame must be H x W x 3 RGB, grey or RGBA, got shape {frame.shape}")
    if min(frame.shape[:2]) < 32:
        raise FrameError(f"frame of {frame.shape[1]}x{frame.shape[0]} is too small (32x32 at least)")
    return np.ascontiguousarray(frame)


def network_size(frame_size, long_side):
    """(H, W) the network sees: the long side scaled to ``long_side`` (None keeps the frame's), aspect kept."""
    h, w = frame_size
    if not long_side:
        return h, w
    scale = long_side / max(h, w)
    return max(32, round(h * scale)), max(32, round(w * scale))


def resolve_device(device):
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA was asked for but no CUDA device is available")
    return device


class Predictor:
    """Runs a loaded network on frames and returns a ``Result`` at the frame's size.

    CUDA: fp16 by default, ``cudnn.benchmark``, channels_last, pre- and post-processing on the GPU (a uint8
    frame goes up; the uint8 images and the depth map come down, through pinned buffers), and each frame size
    captured once as a CUDA graph (``graphs``). The CPU: fp32 with ``backend`` ``auto`` (the faster of torch
    and ONNX Runtime, measured on the first frame), ``torch`` or ``onnxruntime``. ``half`` also runs on the
    CPU, through the same code as on CUDA (for tests: most CPUs run fp16 convolutions slowly).

    ``size`` scales the frame's long side for the network (None: the frame's own size); it may be changed at
    any time. A new frame or network size is prepared on its first frame; ``warmup`` does that ahead, with
    progress. ``close`` frees the network (GPU memory too) at once, e.g. when the user swaps models.
    """

    def __init__(self, model, device="auto", half=None, size=None, backend="auto", graphs=None):
        self.device = resolve_device(device)
        cuda = self.device.type == "cuda"
        self.half = cuda if half is None else bool(half)
        self.dtype = torch.float16 if self.half else torch.float32
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
        if backend == "onnxruntime" and (cuda or self.half):
            raise ValueError("the onnxruntime backend runs on the CPU in fp32 only")
        if backend == "onnxruntime" and not onnxruntime_available():
            raise RuntimeError("the onnxruntime backend needs the onnxruntime package (pip install onnxruntime)")
        # Static buffers and a graph per frame size: the CUDA default. On the CPU, graphs=True runs the same
        # static-buffer code without capture, which is how the tests reach it.
        self.graphs = cuda if graphs is None else bool(graphs)
        if cuda:
            torch.backends.cudnn.benchmark = True
        self.size = size
        self.preset = model.preset
        self.tasks = model.tasks
        self.runner = TorchRunner(model, self.device, self.dtype)
        # auto: ONNX Runtime is a candidate only on the CPU in fp32; measured on the first frame.
        self._candidates = backend == "auto" and not cuda and not self.half and onnxruntime_available()
        if backend == "onnxruntime":
            self.runner = OnnxRunner(self.runner.net)
        self.measured = {}  # backend -> median network ms, from the automatic choice
        self.colours = torch.as_tensor(self.preset.colours, device=self.device)
        self.lut = torch.as_tensor(pp.depth_lut(), device=self.device)
        self._static = None  # _StaticPipeline of the latest frame and network size

    @property
    def backend(self):
        """The runner's name; ``auto`` until the first frame (or ``warmup``) has chosen."""
        if self._candidates:
            return "auto"
        return self.runner.name if self.runner else None

    @property
    def description(self):
        precision = "fp16" if self.half else "fp32"
        extra = ", CUDA graphs" if self.graphs and self.device.type == "cuda" else ""
        backend = "" if self.device.type == "cuda" else f", {self.backend}"
        return f"{self.device.type.upper()} {precision}{backend}{extra}"

    def warmup(self, frame_size, progress=None):
        """Prepares frames of ``frame_size`` (H, W): the backend choice, cuDNN's algorithm search, the CUDA
        graph. ``progress(fraction, message)`` is called along the way. Returns the predictor."""
        frame = np.full((*frame_size, 3), 127, np.uint8)
        start = 0.0
        if self._candidates:
            self._choose(frame, lambda f, m: progress and progress(0.8 * f, m))
            start = 0.8
        if progress:
            progress(start, f"warming up {self.description}")
        self(frame)
        if progress:
            progress(1.0, f"ready: {self.description}")
        return self

    def close(self):
        """Frees the network and every buffer now (and CUDA's cached blocks); the predictor is unusable after."""
        self.runner = self._static = self.colours = self.lut = None
        self._candidates = False
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()

    def _choose(self, frame, progress=None):
        self._candidates = False
        with torch.inference_mode():
            x = self._prepare(torch.from_numpy(frame))
        candidates = [self.runner, OnnxRunner(self.runner.net)]
        self.runner, self.measured = fastest(candidates, x, progress=progress)

    def _prepare(self, frame):
        """Device uint8 H x W x 3 -> the normalised network input at the network size."""
        x = pp.normalise(frame, self.dtype)
        return pp.resize(x, network_size(frame.shape[:2], self.size))

    def _finish(self, outputs, size):
        """Raw outputs -> the frame-size results on the device: labels, depth and the uint8 images."""
        outputs = dict(zip(self.tasks, outputs))
        labels = pp.labels_from_logits(outputs["segm"], size)
        out = {"labels": labels.to(torch.uint8 if self.preset.num_classes <= 256 else torch.int32),
               "segm_rgb": pp.colour_labels(labels, self.colours)}
        if "depth" in outputs:
            depth = pp.depth_metres(outputs["depth"].float(), size)
            out["depth"] = depth
            out["depth_rgb"] = pp.colour_depth(depth, self.preset.max_depth, self.lut)
        if "normals" in outputs:
            out["normals_rgb"] = pp.colour_normals(pp.resize(outputs["normals"].float(), size))
        return {k: v[0] for k, v in out.items()}

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.inference_mode()
    def __call__(self, frame):
        if self.runner is None:
            raise RuntimeError("the predictor was closed")
        t0 = time.perf_counter()
        frame = as_rgb_frame(frame)
        if self._candidates:
            self._choose(frame)
        if self.graphs:
            images, timings = self._run_static(frame)
        else:
            images, timings = self._run(frame)
        result = Result(frame=frame, labels=images["labels"], depth=images.get("depth"),
                        segm_rgb=images["segm_rgb"], depth_rgb=images.get("depth_rgb"),
                        normals_rgb=images.get("normals_rgb"), preset=self.preset)
        timings["total"] = (time.perf_counter() - t0) * 1e3
        result.timings = timings
        return result

    def _run(self, frame):
        """Frame by frame: fresh tensors each time (the CPU's path; CUDA without graphs)."""
        size = frame.shape[:2]
        t0 = time.perf_counter()
        x = self._prepare(torch.from_numpy(frame).to(self.device, non_blocking=True))
        self._sync()
        t1 = time.perf_counter()
        outputs = self.runner(x)
        self._sync()
        t2 = time.perf_counter()
        images = self._finish(outputs, size)
        self._sync()
        t3 = time.perf_counter()
        images = {k: v.cpu().numpy() for k, v in images.items()}
        t4 = time.perf_counter()
        return images, _timings(t0, t1, t2, t3, t4)

    def _run_static(self, frame):
        key = (frame.shape[:2], network_size(frame.shape[:2], self.size))
        if self._static is None or self._static.key != key:
            self._static = None  # the old size's buffers and graph go first
            self._static = _StaticPipeline(self, key)
        return self._static(self, frame)


def _timings(t0, t1, t2, t3, t4):
    ms = [(b - a) * 1e3 for a, b in zip((t0, t1, t2, t3), (t1, t2, t3, t4))]
    return dict(zip(("upload", "network", "postprocess", "download"), ms))


class _StaticPipeline:
    """One frame and network size with fixed buffers: a pinned host frame -> the device frame -> (a CUDA graph
    of pre-processing, network and post-processing) -> fixed device results -> pinned host results.

    On CUDA the graph replays all device work with one launch. On the CPU the same code runs without capture:
    the pinned buffers are plain and ``replay`` calls the steps.
    """

    def __init__(self, predictor, key):
        # No reference to the predictor is kept: dropping the predictor frees everything without the cyclic GC.
        self.key = key
        device = predictor.device
        self.cuda = device.type == "cuda"
        (h, w), _ = key
        self.host_frame = torch.empty((h, w, 3), dtype=torch.uint8, pin_memory=self.cuda)
        self.frame = torch.empty((h, w, 3), dtype=torch.uint8, device=device)
        self.frame.fill_(127)
        self.graph = None
        if self.cuda:
            self._capture(predictor)
        else:
            self.results = self._steps(predictor)
        self.host_results = {k: torch.empty(v.shape, dtype=v.dtype, pin_memory=self.cuda)
                             for k, v in self.results.items()}

    def _steps(self, p):
        return p._finish(p.runner(p._prepare(self.frame)), self.key[0])

    def _capture(self, p):
        # Warm-up runs on a side stream first (cuDNN's algorithm search, lazy allocations), as CUDA graphs need.
        stream = torch.cuda.Stream(self.frame.device)
        stream.wait_stream(torch.cuda.current_stream(self.frame.device))
        with torch.cuda.stream(stream):
            for _ in range(3):
                self._steps(p)
        torch.cuda.current_stream(self.frame.device).wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.results = self._steps(p)

    def __call__(self, p, frame):
        t0 = time.perf_counter()
        self.host_frame.numpy()[...] = frame
        self.frame.copy_(self.host_frame, non_blocking=True)
        p._sync()
        t1 = time.perf_counter()
        if self.graph is not None:
            self.graph.replay()
            p._sync()
            t2 = t3 = time.perf_counter()  # one launch: the network and post-processing are not told apart
        else:
            outputs = p.runner(p._prepare(self.frame))
            p._sync()
            t2 = time.perf_counter()
            for k, v in p._finish(outputs, self.key[0]).items():
                self.results[k].copy_(v)
            p._sync()
            t3 = time.perf_counter()
        for k, v in self.results.items():
            self.host_results[k].copy_(v, non_blocking=True)
        p._sync()
        images = {k: v.numpy().copy() for k, v in self.host_results.items()}  # the buffers serve the next frame
        return images, _timings(t0, t1, t2, t3, time.perf_counter())


class AsyncPredictor:
    """Runs a predictor on its own thread: ``submit`` keeps only the newest frame, ``latest`` the newest result.

    With ``warmup_size`` (H, W) the thread first prepares that frame size (``Predictor.warmup``), so that a slow
    first frame happens before any is shown; ``progress`` (fraction, message) tells how far it is, and is also
    passed to ``on_progress`` when given (called on the predictor's thread).
    """

    def __init__(self, predictor, warmup_size=None, on_progress=None):
        self.predictor = predictor
        self._frame = None
        self._result = None
        self.error = None
        self.dropped = 0
        self.progress = (0.0, "starting") if warmup_size else (1.0, "ready")
        self._on_progress = on_progress
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(warmup_size,), name="predictor", daemon=True)
        self._thread.start()

    def submit(self, frame):
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify()

    def latest(self):
        with self._cond:
            result, self._result = self._result, None
            return result

    def _report(self, fraction, message):
        self.progress = (fraction, message)
        if self._on_progress:
            self._on_progress(fraction, message)

    def _run(self, warmup_size):
        if warmup_size:
            try:
                self.predictor.warmup(warmup_size, self._report)
            except Exception as e:  # reported to the caller; frames still get their own attempt
                with self._cond:
                    self.error = e
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._frame is not None or self._stop)
                if self._stop:
                    return
                frame, self._frame = self._frame, None
            try:
                result = self.predictor(frame)
            except Exception as e:  # reported to the caller, the thread goes on
                with self._cond:
                    self.error = e
                continue
            with self._cond:
                self._result = result

    def close(self, timeout=None):
        """Stops the thread after the frame in hand and joins it."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout)
