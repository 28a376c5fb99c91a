"""The runtimes that run the network, as a registry: one class per backend, in one module each.

A backend takes the normalised N x 3 x H x W input on its device (``input_dtype``) and returns the raw outputs,
one per task, as tensors on that device. Each class declares what it needs and serves:

- ``problem()``: why it cannot run here (a missing package), or None;
- ``precisions``: device type -> the precisions it serves there (``serves`` may narrow that by the hardware),
  and ``auto_precisions``: those worth trying when the precision is left to the automatic choice, on a device
  whose rule measures it (``model.inference.rules``: the CPU; on CUDA auto is one precision);
- ``graphs``: whether its calls can be captured in a CUDA graph;
- ``__init__(exports, device, precision)``: how it is built, from the shared ``model.export.artefacts.Exports``
  of the network (the model, its ONNX export and the int8 version, each made once and reused by every backend).

``Predictor`` (``model.inference.engine``), ``--backend``'s choices, the GUI's menu, the headless runner and
``python -m model benchmark`` all read this registry; adding a backend is one module here plus its import below.
"""
from .base import REGISTRY, Backend, available, fastest, get, names, register

# Registration order is the order of menus and of --backend's choices.
# isort: off
from . import pytorch  # noqa: E402,F401
from . import onnx_runtime  # noqa: E402,F401
from . import openvino_runtime  # noqa: E402,F401
# isort: on

__all__ = ["REGISTRY", "Backend", "available", "fastest", "get", "names", "register"]
