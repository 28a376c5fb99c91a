"""The device, precision and backend rules, as one table: what ``auto`` means on each device type, where the
predictor goes after a device fails, and which backends serve what there.

The predictor (``engine``), the choice (``selection``), the GUI's worker and toolbar and every command's
``--device`` (``run_settings.add_arguments``) read it. What each backend serves is declared by the backend
itself (``backends``); the table only gathers it per device type.

- ``device="auto"``: CUDA when a usable GPU is present (``run_settings.cuda_problem`` finds nothing against
  it), else the CPU.
- ``precision="auto"``: on CUDA fp16; on the CPU measured: the fastest among the precisions each backend
  offers to the automatic choice (``Backend.auto_precisions``) that pass the accuracy guard.
- After a device failure (out of memory, a broken GPU, a runtime that fails on a frame), and when nothing else
  can run in the GUI: the CPU in fp32 with PyTorch. It needs nothing but torch, and recovering neither exports
  the network nor races backends while the user waits.
"""
from dataclasses import asdict, dataclass

from . import backends

DEVICES = ("auto", "cpu", "cuda")  # and cuda:N
PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")


@dataclass(frozen=True)
class Fallback:
    device: str
    precision: str
    backend: str

    def settings(self):
        """As ``RunSettings`` fields."""
        return asdict(self)


@dataclass(frozen=True)
class DeviceRule:
    device: str  # a device type
    auto_precision: str | None  # what precision "auto" runs here; None: measured among the backends' offers
    fallback: Fallback  # where the predictor goes when this device fails

    @property
    def served(self):
        """Backend name -> the precisions it serves on this device type, as declared (a missing package or the
        hardware may narrow what runs on this machine: ``backends.available``)."""
        return {name: cls.precisions[self.device] for name, cls in backends.REGISTRY.items()
                if cls.precisions.get(self.device)}

    @property
    def auto_candidates(self):
        """Backend name -> the precisions that precision "auto" considers on this device type."""
        if self.auto_precision:
            return {name: (self.auto_precision,) for name, served in self.served.items()
                    if self.auto_precision in served}
        return {name: backends.get(name).auto_precisions.get(self.device, ()) for name in self.served}


SAFE = Fallback("cpu", "fp32", "torch")
RULES = {"cuda": DeviceRule("cuda", auto_precision="fp16", fallback=SAFE),
         "cpu": DeviceRule("cpu", auto_precision=None, fallback=SAFE)}


def rule(device_type):
    return RULES[device_type]


def auto_device(cuda_trouble):
    """The device type ``auto`` leads to, given why CUDA cannot run here (None: it can)."""
    return "cpu" if cuda_trouble else "cuda"


def asked_precision(precision, device_type):
    """The precision asked for, reading ``auto`` by the device's rule; None where auto is measured."""
    return precision if precision != "auto" else rule(device_type).auto_precision


def device_problem(device):
    """Why ``device`` is not a device name (one line), or None."""
    device = str(device)
    if device not in DEVICES and not (device.startswith("cuda:") and device[5:].isdigit()):
        return f"unknown device {device!r}; choose from {', '.join(DEVICES)} (or cuda:N)"
    return None
