"""How the network runs: device, precision, backend and input size, with their defaults and checks, in one place.

The GUI, the headless runner and the benchmark all build a ``RunSettings`` and hand it to ``Predictor``, which
answers with an ``Applied``: what really runs, and why where that differs from what was asked.

The rules of ``auto`` and of the fallback after a device failure are the table in ``rules``. Beyond them:
- ``device="auto"`` falls back to the CPU when the GPU present cannot run the network (kernels missing from this
  torch build, too little free memory), and ``Applied.reason`` says why.
- A reduced precision (fp16, bf16, int8) runs only after it agreed with fp32 on a calibration frame (``Guard``);
  otherwise fp32 runs, with the reason. ``fp32`` forces full precision (and on CUDA turns TF32 off unless
  ``tf32``).
- ``backend="auto"`` is the fastest registered backend that serves the device and precision.
- ``size`` is bounded by the memory free on this machine (``largest_size``): a square frame at that long side
  must fit in it, so that a size too large is refused here, in one line, rather than failing in an allocation.
"""
import argparse
import math
import os
from dataclasses import dataclass, field

import torch

from model.errors import first_line
from model.export.guard import Agreement, Guard

from .backends import names
from .rules import DEVICES, PRECISIONS, auto_device, device_problem, rule

CUDA_MEMORY_NEEDED = 512 << 20  # bytes free on the GPU to even try: the network, its buffers and cuDNN's work space
# Host memory per pixel of the network's input at its peak. Measured: ResNet-50 in fp32 on the CPU adds 924 bytes
# of peak RSS per pixel between 512x512 and 1024x1024 (ResNet-152 and MobileNet-v2 less); twice that, for the
# backend choice runs the fp32 reference beside a candidate. On CUDA the GPU's memory may be the tighter bound:
# running out of it there gives way to the CPU, which this bound keeps able to hold the frame.
BYTES_PER_PIXEL = 2048


class SettingsError(ValueError):
    """Settings that cannot run here; the message is one line."""


@dataclass(frozen=True)
class RunSettings:
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto | fp32 | fp16 | bf16 | int8
    backend: str = "auto"  # auto | a registered backend (model.inference.backends.names())
    size: int | None = None  # the long side the network sees; None: the frame's own
    graphs: bool | None = None  # CUDA graphs; None: on CUDA
    tf32: bool = False  # let fp32 on CUDA use TF32 convolutions (faster, ~1e-3 relative error)
    guard: Guard = field(default_factory=Guard)

    def __post_init__(self):
        if not (0.0 <= self.guard.min_labels <= 1.0 and self.guard.max_depth_error >= 0.0):
            raise SettingsError("the accuracy guard takes a share of labels in 0..1 and a depth error >= 0")
        problem = device_problem(self.device)
        if problem:
            raise SettingsError(problem)
        if self.precision not in PRECISIONS:
            raise SettingsError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        if self.size is not None:
            check_size(self.size)
        if self.backend != "auto" and self.backend not in names():
            raise SettingsError(f"unknown backend {self.backend!r}; choose from auto, {', '.join(names())}")


@dataclass(frozen=True)
class Applied:
    """What runs: the device, precision and backend chosen, and how they were chosen."""

    device: str  # "cpu" | "cuda"
    precision: str
    backend: str
    graphs: bool = False
    agreement: Agreement | None = None  # measured for reduced precisions
    measured: dict = field(default_factory=dict)  # "backend precision" -> median network ms, when measured
    reason: str | None = None  # why this differs from what was asked, or None
    note: str | None = None  # news about a choice that is no fallback (int8 lost the race), or None
    rejected: tuple = ()  # candidates left out, each with why (a failed guard, a failed build)
    int8_fp32: tuple = ()  # lines: what the mixed int8 graph keeps in fp32 and why, when int8 was tried

    @property
    def description(self):
        text = f"{self.device.upper()} {self.precision}, {self.backend}"
        if self.graphs:
            text += ", CUDA graphs"
        if self.agreement is not None:
            text += f" ({self.agreement.describe()})"
        return text


DEVICE_HELP = "auto: CUDA when a usable GPU is present, else the CPU; or cpu, cuda, cuda:N (default: %(default)s)"


def device_name(text):
    """``--device``'s type: a device name ``RunSettings`` takes."""
    problem = device_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def add_arguments(parser, title="how the network runs", device_only=False, device_default="auto"):
    """The flags of ``RunSettings`` (``--device --precision --backend --size --tf32 --guard-labels
    --guard-depth``), the same for the demo, the headless runner and the benchmark; ``from_args`` reads them.
    ``device_only``: ``--device`` alone, for the commands that only choose where the network runs (evaluate,
    distill, benchmark); ``device_default`` is its default."""
    group = parser.add_argument_group(title)
    group.add_argument("-d", "--device", default=device_default, type=device_name,
                       metavar="{" + ",".join(DEVICES) + ",cuda:N}", help=DEVICE_HELP)
    if device_only:
        return group
    group.add_argument("--precision", default="auto", choices=PRECISIONS,
                       help=f"auto: {rule('cuda').auto_precision} on CUDA; on the CPU the fastest that passes the "
                            "accuracy guard; fp32 forces full precision (default: %(default)s)")
    group.add_argument("--backend", default="auto", choices=("auto", *names()),
                       help="auto: the fastest measured here (default: %(default)s)")
    group.add_argument("-s", "--size", type=int, metavar="PIXELS",
                       help="scale the frame's long side to PIXELS for the network, 32 to what this machine's "
                            "free memory holds (default: the frame's own)")
    group.add_argument("--tf32", action="store_true", help="allow TF32 convolutions in CUDA fp32")
    guard = Guard()
    group.add_argument("--guard-labels", type=float, default=guard.min_labels, metavar="SHARE",
                       help="accuracy guard: share of labels a reduced precision must keep identical to fp32 "
                            "(default: %(default)s)")
    group.add_argument("--guard-depth", type=float, default=guard.max_depth_error, metavar="ERROR",
                       help="accuracy guard: largest median relative depth error against fp32 "
                            "(default: %(default)s)")
    return group


def from_args(args):
    """The ``RunSettings`` of flags added by ``add_arguments``."""
    return RunSettings(device=args.device, precision=args.precision, backend=args.backend, size=args.size,
                       tf32=args.tf32, guard=Guard(args.guard_labels, args.guard_depth))


def free_memory():
    """Bytes of host memory available now (Linux's MemAvailable), else the machine's physical memory; None
    where neither is known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) << 10
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def largest_size(memory):
    """The largest long side, in pixels, of a network input that ``memory`` bytes hold (a square frame, the
    worst case for a long side)."""
    return math.isqrt(memory // BYTES_PER_PIXEL)


def check_size(size, memory=None):
    """A ``SettingsError`` (one line) unless ``size`` is a whole number of pixels from 32 to what ``memory``
    bytes (default: ``free_memory()``) hold."""
    if not (isinstance(size, int) and size >= 32):
        raise SettingsError(f"input size {size!r} must be a whole number of pixels, 32 at least")
    memory = free_memory() if memory is None else memory
    if memory is not None and size > largest_size(memory):
        raise SettingsError(f"input size {size} is more than this machine can hold: {largest_size(memory)} pixels "
                            f"at most with {memory / 2**30:.1f} GiB of memory free")


def cuda_problem(device=None):
    """Why CUDA cannot run this network here (one line), or None when it can."""
    if not torch.cuda.is_available():
        return "no CUDA device"
    device = torch.device(device if device not in (None, "auto") else "cuda")
    try:
        major, minor = torch.cuda.get_device_capability(device)
        name = torch.cuda.get_device_name(device)
        built = torch.cuda.get_arch_list()
    except (RuntimeError, AssertionError) as e:
        return f"CUDA unusable ({first_line(e)})"
    if built and not kernels_for(major, minor, built):
        return (f"{name} (sm_{major}{minor}) is not among this torch build's GPUs "
                f"({', '.join(a for a in built if a.startswith('sm_'))})")
    try:
        free, _ = torch.cuda.mem_get_info(device)
    except RuntimeError as e:
        return f"CUDA unusable ({first_line(e)})"
    if free < CUDA_MEMORY_NEEDED:
        return f"{name} has only {free >> 20} MiB free"
    return None


def kernels_for(major, minor, arch_list):
    """Whether a build for ``arch_list`` (``torch.cuda.get_arch_list()``) runs on compute capability
    major.minor: a cubin runs on its own major version at an equal or newer minor; PTX (``compute_XY``) is
    compiled for any equal or newer GPU."""
    for arch in arch_list:
        kind, _, version = arch.partition("_")
        if not version.isdigit():
            continue
        a_major, a_minor = int(version[:-1]), int(version[-1])
        if kind == "sm" and a_major == major and a_minor <= minor:
            return True
        if kind == "compute" and (a_major, a_minor) <= (major, minor):
            return True
    return False


def pick_device(device="auto"):
    """``(torch.device, reason)``: for ``auto`` CUDA when ``cuda_problem`` finds none, else the CPU and why (a
    GPU that is there but cannot run this network).
    Asking for ``cuda`` where it cannot run is a ``SettingsError``."""
    if device in (None, "auto"):
        if not torch.cuda.is_available():
            return torch.device("cpu"), None  # the CPU is what auto means here: nothing to explain
        problem = cuda_problem()
        return torch.device(auto_device(problem)), problem
    device = torch.device(device)
    if device.type == "cuda":
        problem = cuda_problem(device)
        if problem:
            raise SettingsError(f"CUDA was asked for but cannot run here: {problem}")
    return device, None


def resolve_device(device="auto"):
    """The torch device ``pick_device`` chooses."""
    return pick_device(device)[0]
