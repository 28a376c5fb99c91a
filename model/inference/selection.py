"""Choosing how the network runs here: candidates from the backend registry, the accuracy guard for reduced
precisions, and a race between those left, on a real frame at the size that will run.

The reference is the network in fp32 (PyTorch, TF32 off) on the same device. A reduced precision (fp16, bf16,
int8) is kept only when its labels and depth agree with the reference as ``Guard`` asks; the numbers are
measured on the network in use, never assumed.
"""
import torch

from model import processing as pp
from model.errors import first_line
from model.export.guard import agreement

from . import backends
from .rules import asked_precision, rule
from .run_settings import Applied, SettingsError

REDUCED = ("fp16", "bf16", "int8")
TOOLTIP_NODES = 12  # of the mixed int8 graph's nodes in fp32, those named in the readout's tooltip


class NetworkError(RuntimeError):
    """A network whose outputs cannot be shown; the message is one line."""


def check_finite(outputs):
    if not all(bool(torch.isfinite(o).all()) for o in outputs):
        raise NetworkError("the network gives NaN/inf: a corrupt or diverged checkpoint")


def candidates(settings, device):
    """``(backend class, precision)`` pairs to consider: the asked precision, or for ``auto`` those the device's
    rule offers to the automatic choice (``rules``); a ``SettingsError`` when an explicit ask has none."""
    offered = rule(device.type).auto_candidates if settings.precision == "auto" else {}
    pairs = [(cls, p) for cls, p in backends.available(device.type, backend=settings.backend)
             if p == settings.precision or p in offered.get(cls.name, ())]
    if not pairs and (settings.backend != "auto" or settings.precision != "auto"):
        if settings.backend != "auto":
            problem = backends.get(settings.backend).problem()
            if problem:
                raise SettingsError(f"the {settings.backend} backend cannot run here: {problem}")
        what = " ".join(x for x in (settings.backend if settings.backend != "auto" else "",
                                    settings.precision if settings.precision != "auto" else "") if x)
        served = ", ".join(f"{cls.name} {p}" for cls, p in backends.available(device.type))
        raise SettingsError(f"{what} does not run on the {device.type.upper()} here; it runs: {served}")
    return pairs


def choose(exports, settings, device, x, progress=None):
    """Builds, checks and times the candidates on the normalised input ``x`` (fp32, on ``device``) from
    ``exports`` (``model.export.artefacts.Exports``); returns ``(runner, Applied)``. ``progress(fraction,
    message)`` is told along the way."""
    say = progress or (lambda fraction, message: None)
    pairs = candidates(settings, device)
    reference = backends.get("torch")(exports, device, "fp32")
    with torch.inference_mode():
        expected = tuple(o.float() for o in reference(x))
    check_finite(expected)
    passed, rejected = [], []
    for i, (cls, precision) in enumerate(pairs):
        say(0.6 * i / len(pairs), f"preparing {cls.label} {precision}")
        exports.progress = lambda message, fraction=0.6 * i / len(pairs): say(fraction, message)
        if cls.name == "torch" and precision == "fp32":
            passed.append((reference, None))
            continue
        try:
            runner = cls(exports, device, precision)
            with torch.inference_mode():
                outputs = runner(x.to(runner.input_dtype))
        except Exception as e:  # a runtime that fails to build or run here is one candidate fewer, said why
            rejected.append(f"{cls.name} {precision} failed ({first_line(e)})")
            continue
        measured = agreement(expected, outputs, exports.model.tasks) if precision in REDUCED else None
        if measured is not None and not settings.guard.passes(measured):
            rejected.append(f"{cls.name} {precision} failed the accuracy guard ({measured.describe()})")
            runner.close()
            continue
        passed.append((runner, measured))
    if not passed:  # only reduced precisions were asked for and none agreed: full precision instead
        passed = [(reference, None)]
    if reference not in [r for r, _ in passed]:
        reference.close()
    medians = {}
    if len(passed) > 1:
        runner, medians = backends.fastest([r for r, _ in passed], x, progress=lambda f, m: say(0.6 + 0.4 * f, m))
    else:
        runner = passed[0][0]
    for other, _ in passed:
        if other is not runner:
            other.close()
    measured = dict(passed)[runner]
    asked = asked_precision(settings.precision, device.type)
    reason = "; ".join(rejected) if asked and runner.precision != asked else None
    tried_int8 = any(p == "int8" for _, p in pairs)
    lost = tried_int8 and runner.precision != "int8" and not reason
    note = f"no int8 variant beats {runner.precision} inside the accuracy guard here" if lost else None
    applied = Applied(device.type, runner.precision, runner.name, agreement=measured, measured=medians,
                      reason=reason, note=note, rejected=tuple(rejected),
                      int8_fp32=int8_kept_in_fp32(exports) if tried_int8 else ())
    say(1.0, f"chose {runner.key}")
    return runner, applied


def int8_kept_in_fp32(exports):
    """What the mixed int8 graph keeps in fp32 and why, one line each; () when there is none."""
    found = getattr(exports, "_mixed", None)
    if found is None:
        return ()
    lines = found.report()
    shown = lines[:1 + TOOLTIP_NODES]
    return tuple(shown + ([f"  ... {len(lines) - len(shown)} more: python -m model quantize --report"]
                          if len(lines) > len(shown) else []))


def input_for(frame, network_hw, device):
    """The fp32 normalised network input of a uint8 RGB frame on ``device``."""
    return pp.resize(pp.normalise(torch.from_numpy(frame).to(device)), network_hw)
