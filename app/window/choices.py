"""The choices the toolbar's boxes offer (no Qt): devices, backends and precisions, each with why it cannot be chosen
here, if it cannot; and the input sizes. From ``model.inference.backends``' registry and
``model.inference.run_settings``."""
from model.inference import backends
from model.inference.run_settings import PRECISIONS

SIZES = (None, 960, 640, 512, 480, 384, 320, 256)
DEVICES = (("auto", "auto"), ("cpu", "CPU"), ("cuda", "CUDA"))


def size_label(size):
    return "native" if size is None else f"{size} px"


def device_choices(cuda_trouble):
    """(value, label, why it cannot be chosen or None) for each device."""
    return [(value, label, cuda_trouble if value == "cuda" else None) for value, label in DEVICES]


def backend_choices(device_type):
    """(name, label, why not or None): auto and every registered backend, for ``device_type``."""
    rows = [("auto", "auto (fastest here)", None)]
    for name, cls in backends.REGISTRY.items():
        why = cls.problem() or (None if cls.precisions.get(device_type) else
                                f"{cls.label} does not run on the {device_type.upper()}")
        rows.append((name, cls.label, why))
    return rows


def precision_choices(device_type, backend):
    """(precision, label, why not or None): auto and each precision, served or not by ``backend`` (or any)."""
    rows = [("auto", "auto", None)]
    for precision in PRECISIONS[1:]:
        served = backends.available(device_type, precision, backend)
        who = f" by {backends.get(backend).label}" if backend != "auto" else ""
        rows.append((precision, precision, None if served else
                     f"{precision} is not served on the {device_type.upper()} here{who}"))
    return rows


def usable(choices, value):
    return any(v == value and why is None for v, _, why in choices)
