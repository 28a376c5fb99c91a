"""The backend interface and the registry of backends by name (filled by the modules beside this one)."""
import time

import torch

REGISTRY = {}


def register(cls):
    if cls.name in REGISTRY:
        raise ValueError(f"a backend named {cls.name!r} is registered already ({REGISTRY[cls.name].__qualname__})")
    REGISTRY[cls.name] = cls
    return cls


class Backend:
    name = ""
    label = ""  # for menus: "ONNX Runtime"
    precisions = {}  # device type -> precisions served there
    auto_precisions = {}  # device type -> those that a measured precision "auto" considers (model.inference.rules)
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
