"""The predictor: uint8 RGB frames in, labels, metric depth and colour images out. No Qt here."""
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import postprocess as pp


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
    """Runs a loaded network on frames. fp16 and ``cudnn.benchmark`` on CUDA by default; fp32 on the CPU."""

    def __init__(self, model, device="auto", half=None, size=None):
        self.device = resolve_device(device)
        self.half = (self.device.type == "cuda") if half is None else bool(half)
        if self.half and self.device.type != "cuda":
            raise RuntimeError("half precision runs on CUDA only; use fp32 on the CPU")
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.size = size
        self.dtype = torch.float16 if self.half else torch.float32
        self.preset = model.preset
        self.tasks = model.tasks
        self.model = model.to(self.device, self.dtype).to(memory_format=torch.channels_last).eval()
        self.colours = torch.as_tensor(self.preset.colours, device=self.device)
        self.lut = torch.as_tensor(pp.depth_lut(), device=self.device)

    @property
    def description(self):
        return f"{self.device.type.upper()} {'fp16' if self.half else 'fp32'}"

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.inference_mode()
    def __call__(self, frame):
        t0 = time.perf_counter()
        frame = as_rgb_frame(frame)
        size = frame.shape[:2]
        x = torch.from_numpy(frame).to(self.device, non_blocking=True)
        x = pp.normalise(x, self.dtype)
        x = pp.resize(x, network_size(size, self.size)).contiguous(memory_format=torch.channels_last)
        self._sync()
        t1 = time.perf_counter()
        outputs = dict(zip(self.tasks, self.model(x)))
        self._sync()
        t2 = time.perf_counter()
        labels = pp.labels_from_logits(outputs["segm"].float(), size)
        segm_rgb = pp.colour_labels(labels, self.colours)
        depth = depth_rgb = normals_rgb = None
        if "depth" in outputs:
            depth = pp.depth_metres(outputs["depth"].float(), size)
            depth_rgb = pp.colour_depth(depth, self.preset.max_depth, self.lut)
        if "normals" in outputs:
            normals_rgb = pp.colour_normals(pp.resize(outputs["normals"].float(), size))
        self._sync()
        t3 = time.perf_counter()
        result = Result(
            frame=frame,
            labels=labels[0].to(torch.uint8 if self.preset.num_classes <= 256 else torch.int32).cpu().numpy(),
            depth=None if depth is None else depth[0].cpu().numpy(),
            segm_rgb=segm_rgb[0].cpu().numpy(),
            depth_rgb=None if depth_rgb is None else depth_rgb[0].cpu().numpy(),
            normals_rgb=None if normals_rgb is None else normals_rgb[0].cpu().numpy(),
            preset=self.preset,
        )
        t4 = time.perf_counter()
        result.timings = {"upload": (t1 - t0) * 1e3, "network": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3,
                          "download": (t4 - t3) * 1e3, "total": (t4 - t0) * 1e3}
        return result


class AsyncPredictor:
    """Runs a predictor on its own thread: ``submit`` keeps only the newest frame, ``latest`` the newest result."""

    def __init__(self, predictor):
        self.predictor = predictor
        self._frame = None
        self._result = None
        self.error = None
        self.dropped = 0
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="predictor", daemon=True)
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

    def _run(self):
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

    def close(self, timeout=2.0):
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout)
