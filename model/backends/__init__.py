"""The runtimes that run the network, as a registry: one class per backend, in one module each.

A backend takes the normalised N x 3 x H x W input on its device (``input_dtype``) and returns the raw outputs,
one per task, as tensors on that device. Each class declares what it needs and serves:

- ``problem()``: why it cannot run here (a missing package), or None;
- ``precisions``: device type -> the precisions it serves there (``serves`` may narrow that by the hardware),
  and ``auto_precisions``: those worth trying when the precision is left to the automatic choice;
- ``graphs``: whether its calls can be captured in a CUDA graph;
- ``__init__(exports, device, precision)``: how it is built, from the shared ``Exports`` of the network (the
  model, its ONNX export and the int8 version, each made once and reused by every backend that needs it).

``Predictor`` (``model.engine``), ``--backend``'s choices, the GUI's menu, the headless runner and
``python -m model.benchmark`` all read this registry; adding a backend is one module here plus its import below.
"""
import time

import torch

REGISTRY = {}


def register(cls):
    REGISTRY[cls.name] = cls
    return cls


class Backend:
    name = ""
    label = ""  # for menus: "ONNX Runtime"
    precisions = {}  # device type -> precisions served there
    auto_precisions = {}  # device type -> those that precision "auto" considers (the rest only when asked for)
    graphs = False  # can be captured in a CUDA graph
    input_dtype = torch.float32

    @classmethod
    def problem(cls):
        """Why this backend cannot run on this machine (one line), or None."""
        return None

    @classmethod
    def serves(cls, device_type, precision):
        return precision in cls.precisions.get(device_type, ())

    def __init__(self, exports, device, precision):
        self.device, self.precision = torch.device(device), precision

    def __call__(self, x):
        raise NotImplementedError

    def close(self):
        """Frees what the backend holds now (sessions, compiled networks)."""

    @property
    def key(self):
        return f"{self.name} {self.precision}"


def names():
    """Registered backend names, in registration order."""
    return list(REGISTRY)


def get(name):
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(REGISTRY)}") from None


def available(device_type, precision=None, backend="auto"):
    """``(class, precision)`` pairs that can run here on ``device_type``: every precision served, or only
    ``precision``; every backend, or only ``backend``."""
    pairs = []
    for cls in REGISTRY.values():
        if backend not in ("auto", cls.name) or cls.problem():
            continue
        for p in cls.precisions.get(device_type, ()):
            if (precision in (None, p)) and cls.serves(device_type, p):
                pairs.append((cls, p))
    return pairs


def fastest(runners, x, repeats=5, progress=None):
    """The runner with the lowest median time on ``x`` (interleaved runs, after one warm-up run each) and
    the medians in ms by ``runner.key``."""
    times = {r.key: [] for r in runners}
    steps, done = len(runners) * (repeats + 1), 0
    with torch.inference_mode():
        for round_ in range(repeats + 1):
            for runner in runners:
                start = time.perf_counter()
                runner(x.to(runner.input_dtype))
                if runner.device.type == "cuda":
                    torch.cuda.synchronize(runner.device)
                if round_:  # the first round warms up
                    times[runner.key].append((time.perf_counter() - start) * 1e3)
                done += 1
                if progress:
                    progress(done / steps, f"measuring {runner.key}")
    medians = {key: sorted(t)[len(t) // 2] for key, t in times.items()}
    return min(runners, key=lambda r: medians[r.key]), medians


class Exports:
    """The network in the forms backends are built from, made on first need and shared by every backend of one
    predictor: the model itself, its ONNX export, and that graph quantized to int8 (``model.quantize``)."""

    def __init__(self, model, calibration=None):
        self.model = model
        self.calibration = calibration  # uint8 RGB frames for int8 calibration; None: the example frames
        self._onnx = None

    def onnx(self):
        if self._onnx is None:
            from ..export import export_onnx

            self._onnx = export_onnx(self.model)
        return self._onnx

    def int8(self):
        from ..quantize import int8_graph

        return int8_graph(self.model, self.onnx(), self.calibration)


# Registration order is the order of menus and of --backend's choices.
from . import pytorch  # noqa: E402,F401,I001
from . import onnx_runtime  # noqa: E402,F401
from . import openvino_runtime  # noqa: E402,F401
