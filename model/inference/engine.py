"""The predictor: uint8 RGB frames in; labels, metric depth and colour images out. No Qt here.

How it runs (device, precision, backend, input size) is a ``RunSettings`` (``model.inference.run_settings``);
what really runs, and why, comes back as ``Predictor.applied``. The choice is made on the first frame (or in
``warmup``, with progress) by ``model.inference.selection``: measured on this machine, reduced precisions behind
the accuracy guard.

A device that fails (CUDA out of memory, an error that leaves the GPU unusable) at start-up or on a frame gives
way to the device rule's fallback (``rules``: the CPU in fp32 with PyTorch): the frame is redone there, and
``applied.reason`` says why.
"""
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from model import processing as pp
from model.data import examples
from model.errors import first_line
from model.export.artefacts import Exports

from .cuda_graphs import PipelineCache, timings
from .rules import rule
from .run_settings import Applied, RunSettings, pick_device
from .selection import check_finite, choose, input_for
from .stabiliser import Stabiliser


class FrameError(ValueError):
    """A frame that cannot be processed; the message says why in one line."""


@dataclass
class Result:
    frame: np.ndarray  # H x W x 3 uint8 RGB, as given
    labels: np.ndarray  # class indices, uint8 (int32 past 256 classes)
    depth: np.ndarray | None  # float32 metres
    segm_rgb: np.ndarray  # uint8 RGB images of the labels, the depth and the normals
    depth_rgb: np.ndarray | None
    normals_rgb: np.ndarray | None
    preset: object
    network_size: tuple = (0, 0)  # (H, W) the network saw
    applied: Applied | None = None  # how it ran
    timings: dict = field(default_factory=dict)  # milliseconds by stage
    raw: tuple | None = field(default=None, repr=False)  # maps at the network's size: the raw outputs ...
    finish: object = field(default=None, repr=False)  # ... and what turns them into maps of any size

    @property
    def at_frame_size(self):
        """Whether the maps have the frame's size (else the network's: ``at_full_size()`` gives the frame's)."""
        return self.labels.shape == self.frame.shape[:2]

    def at_full_size(self):
        """This result with every map at the frame's size, exactly as ``resolution="frame"`` gives it."""
        if self.raw is None:
            return self
        images = {k: v.cpu().numpy() for k, v in self.finish(self.raw, self.frame.shape[:2]).items()}
        return replace(self, labels=images["labels"], depth=images.get("depth"), segm_rgb=images["segm_rgb"],
                       depth_rgb=images.get("depth_rgb"), normals_rgb=images.get("normals_rgb"), raw=None,
                       finish=None)

    @property
    def description(self):
        return self.applied.description if self.applied else ""


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


def device_failure(error):
    """Whether ``error`` means the GPU cannot go on (out of memory, kernels missing, a sticky CUDA error)."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    accelerator_error = getattr(torch, "AcceleratorError", ())
    if accelerator_error and isinstance(error, accelerator_error):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and any(s in text for s in ("CUDA", "cuDNN", "CUBLAS", "no kernel"))


def finisher(tasks, preset, colours, lut):
    """Raw outputs -> the results at ``size`` on the outputs' device. A closure over what it needs only, so
    that static pipelines holding it keep no reference to the predictor."""

    def finish(outputs, size):
        outputs = dict(zip(tasks, outputs))
        labels = pp.labels_from_logits(outputs["segm"], size)
        out = {"labels": labels.to(torch.uint8 if preset.num_classes <= 256 else torch.int32),
               "segm_rgb": pp.colour_labels(labels, colours)}
        if "depth" in outputs:
            depth = pp.depth_metres(outputs["depth"].float(), size)
            out["depth"] = depth
            out["depth_rgb"] = pp.colour_depth(depth, preset.max_depth, lut)
        if "normals" in outputs:
            out["normals_rgb"] = pp.colour_normals(pp.resize(outputs["normals"].float(), size))
        return {k: v[0] for k, v in out.items()}

    return finish


class Predictor:
    """Runs a loaded network on frames and returns ``Result``s.

    ``Predictor(model, settings)`` or ``Predictor(model, device="cpu", precision="fp32", ...)`` (the fields of
    ``RunSettings``). ``size`` (the network's long side) may change at any time, from any thread; it is read
    once per frame. ``resolution="network"`` returns the maps at the network's input size (cheaper to
    colour, for display); ``Result.at_full_size()`` then gives them at the frame's size on demand.
    ``calibration``: uint8 RGB frames for int8 calibration (default: the example frames).
    ``stabilise``: temporal stabilisation (``model.inference.stabiliser``): False, True (the default strength)
    or a strength in 0..1; ``stabilise`` may change at any time, ``reset_stabiliser()`` after a source change
    or a seek. A new frame or network size starts afresh by itself.

    CUDA: fp16 by default (``rules``), ``cudnn.benchmark``, channels_last, pre- and post-processing on the GPU (a uint8
    frame goes up; the uint8 images and the depth map come down, through pinned buffers), and each of the last
    few frame sizes captured once as a CUDA graph. ``close`` frees the network (GPU memory too) at once.
    """

    def __init__(self, model, settings=None, resolution="frame", calibration=None, stabilise=False, **overrides):
        self.settings = replace(settings or RunSettings(), **overrides)
        if resolution not in ("frame", "network"):
            raise ValueError(f"resolution must be 'frame' or 'network', not {resolution!r}")
        self.resolution = resolution
        self.preset, self.tasks = model.preset, model.tasks
        self.exports = Exports(model, calibration, guard=self.settings.guard)
        self.size = self.settings.size
        self.device, self._device_reason = pick_device(self.settings.device)
        self.applied = Applied(self.device.type, self.settings.precision, self.settings.backend,
                               reason=self._device_reason)
        self.runner = None
        self.pipelines = None
        self._cpu_reason = None  # why a failed GPU gave way to the CPU
        self._closed = False
        self._checked = False  # whether a frame's raw outputs were seen to be finite
        self.stabiliser = Stabiliser(self.tasks, stabilise)
        self._last_sizes = None  # (frame size, network size) of the last frame: another one resets the stabiliser
        self._prepare_device()

    def _prepare_device(self):
        cuda = self.device.type == "cuda"
        if cuda:
            torch.backends.cudnn.benchmark = True
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = self.settings.tf32
        self.graphs = cuda if self.settings.graphs is None else bool(self.settings.graphs)
        self.colours = torch.as_tensor(self.preset.colours, device=self.device)
        self.lut = torch.as_tensor(pp.depth_lut_with_missing(), device=self.device)
        self.finish = finisher(self.tasks, self.preset, self.colours, self.lut)
        self.stabiliser.clear()

    @property
    def description(self):
        return self.applied.description

    @property
    def chosen(self):
        return self.runner is not None

    @property
    def stabilise(self):
        """The stabilisation strength, 0.0 when off."""
        return self.stabiliser.strength

    @stabilise.setter
    def stabilise(self, value):
        self.stabiliser.set_strength(value)

    def reset_stabiliser(self):
        """The next frame is not blended with the last (a source change, a seek)."""
        self.stabiliser.reset()

    def warmup(self, frame_size, progress=None):
        """Prepares frames of ``frame_size`` (H, W) now: the backend choice (with the guard and the race),
        cuDNN's algorithm search, the CUDA graph. ``progress(fraction, message)`` is told along the way.
        Returns the predictor."""
        say = progress or (lambda fraction, message: None)
        frame = calibration_frame(self.preset, frame_size)
        self._call(frame, self.size, lambda f, m: say(0.9 * f, m))
        self.stabiliser.reset()  # the calibration frame is no part of the stream
        say(1.0, f"ready: {self.description}")
        return self

    def __call__(self, frame):
        return self._call(as_rgb_frame(frame), self.size)

    @torch.inference_mode()
    def _call(self, frame, size, progress=None):
        if self._closed:
            raise RuntimeError("the predictor was closed")
        t0 = time.perf_counter()
        try:
            result = self._run(frame, size, progress)
        except Exception as e:
            if not device_failure(e) or self._cpu_reason is not None:
                raise
            self._fall_back_to_cpu(e)
            result = self._run(frame, size, progress)
        result.timings["total"] = (time.perf_counter() - t0) * 1e3
        return result

    def _run(self, frame, size, progress):
        frame_hw, network_hw = frame.shape[:2], network_size(frame.shape[:2], size)
        if self.runner is None:
            x = input_for(calibration_frame(self.preset, frame_hw), network_hw, self.device)
            self.runner, self.applied = choose(self.exports, self.settings, self.device, x, progress)
            self.applied = replace(self.applied, graphs=self.graphs and self.device.type == "cuda",
                                   reason=self.applied.reason or self._cpu_reason or self._device_reason)
        sizes, on = (frame_hw, network_hw), self.stabiliser.strength > 0
        if on and sizes != self._last_sizes:
            self.stabiliser.reset()
        self._last_sizes = sizes if on else None
        if self.graphs:
            images, stages = self._run_static(frame, network_hw, on)
            out_hw = frame_hw
        else:
            images, stages, out_hw = self._run_eager(frame, network_hw, on)
        raw = images.pop("raw", None)
        return Result(frame=frame, labels=images["labels"], depth=images.get("depth"),
                      segm_rgb=images["segm_rgb"], depth_rgb=images.get("depth_rgb"),
                      normals_rgb=images.get("normals_rgb"), preset=self.preset, network_size=network_hw,
                      applied=self.applied, timings=stages, raw=raw, finish=self.finish if raw is not None else None)

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _run_eager(self, frame, network_hw, stabilise):
        """Frame by frame with fresh tensors (the CPU's path; CUDA without graphs)."""
        t0 = time.perf_counter()
        x = input_for(frame, network_hw, self.device).to(self.runner.input_dtype)
        self._sync()
        t1 = time.perf_counter()
        outputs = self.runner(x)
        self._sync()
        t2 = time.perf_counter()
        if not self._checked:
            check_finite(outputs)
            self._checked = True
        if stabilise:
            t = time.perf_counter()
            outputs = self.stabiliser(x, outputs)
            self._sync()
            stabilised_ms = (time.perf_counter() - t) * 1e3
        low_res = self.resolution == "network" and self.device.type == "cpu"
        out_hw = network_hw if low_res else frame.shape[:2]
        images = self.finish(outputs, out_hw)
        self._sync()
        t3 = time.perf_counter()
        images = {k: v.cpu().numpy() for k, v in images.items()}
        if low_res and out_hw != frame.shape[:2]:
            images["raw"] = outputs
        stages = timings(t0, t1, t2, t3, time.perf_counter())
        if stabilise:  # measured inside the post-processing's time
            stages["stabilise"] = stabilised_ms
        return images, stages, out_hw

    def _run_static(self, frame, network_hw, stabilise):
        if self.pipelines is None:
            self.pipelines = PipelineCache(self.device, capture=self.device.type == "cuda" and self.runner.graphs)
        key = (frame.shape[:2], network_hw, stabilise)
        built = self.pipelines.built
        stabiliser = self.stabiliser if stabilise else None
        pipeline = self.pipelines.get(key, lambda: static_steps(self.runner, self.finish, key, stabiliser))
        if stabilise and self.pipelines.built != built:
            self.stabiliser.reset()  # the capture's runs went through the state
        return pipeline(frame, self._sync)

    def _fall_back_to_cpu(self, error):
        """After a device failure: the device rule's fallback (the CPU in fp32 with PyTorch), once."""
        fallback = rule(self.device.type).fallback
        self._cpu_reason = (f"{self.device.type.upper()} {self.applied.precision} failed ({first_line(error)}); "
                            f"running on the {fallback.device.upper()} in {fallback.precision}")
        self._release()
        self.device = torch.device(fallback.device)
        self.settings = replace(self.settings, **fallback.settings(), graphs=None)
        self._checked = False
        self._prepare_device()
        self.applied = Applied(fallback.device, fallback.precision, fallback.backend, reason=self._cpu_reason)

    def _release(self):
        runner, self.runner, self.pipelines = self.runner, None, None
        if runner is not None:
            runner.close()
        if self.device.type == "cuda":
            try:  # after a sticky CUDA error these raise again; the memory is the driver's to reclaim then
                torch.cuda.synchronize(self.device)
                torch.cuda.empty_cache()
            except Exception:
                pass

    def close(self):
        """Frees the network and every buffer now (and CUDA's cached blocks); the predictor is unusable after.
        Survives a GPU in a failed state."""
        self._closed = True
        self._release()
        self.exports = self.colours = self.lut = self.finish = None


def static_steps(runner, finish, key, stabiliser=None):
    """The device work of one static pipeline: the uint8 frame -> the results at the frame's size, stabilised
    when ``stabiliser`` is given (its state is taken on the first run, before any capture)."""
    frame_hw, network_hw = key[:2]
    state = []

    def steps(frame, check=False):
        x = pp.resize(pp.normalise(frame, runner.input_dtype), network_hw)
        outputs = runner(x)
        if check:
            check_finite(outputs)
        if stabiliser is not None:
            if not state:
                state.append(stabiliser.state_for(x, outputs))
            outputs = stabiliser(x, outputs, state[0])
        return finish(outputs, frame_hw)

    return steps


def calibration_frame(preset, frame_size):
    """A real frame of the preset's kind (KITTI for street presets, else NYUD) resized to ``frame_size``."""
    names = examples.KITTI if preset.name == "kitti" else examples.NYUD[:1]
    return examples.frames(frame_size, names)[0]
