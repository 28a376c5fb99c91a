"""OpenVINO on the CPU: the network's ONNX export in fp32 or bf16 (where the CPU computes bf16 natively), or
its int8 version (``model.export.quantize``). Each input size is compiled once (static shapes run faster than
dynamic ones); the last few sizes are kept."""
from collections import OrderedDict
from functools import cache

import torch

from .base import Backend, register

HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}  # int8 comes from the graph; the rest stays fp32
COMPILED_SIZES = 4


@cache
def _core():
    import openvino

    return openvino.Core()


@cache
def cpu_capabilities():
    """What OpenVINO's CPU plugin computes natively here, e.g. {'FP32', 'BF16', 'INT8'}."""
    return set(_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


@register
class OpenVinoBackend(Backend):
    name = "openvino"
    label = "OpenVINO"
    precisions = {"cpu": ("fp32", "bf16", "int8")}
    auto_precisions = {"cpu": ("fp32", "bf16", "int8")}

    @classmethod
    def problem(cls):
        try:
            import openvino  # noqa: F401
        except ImportError:
            return "the openvino package is not installed (pip install openvino)"
        return None

    @classmethod
    def serves(cls, device_type, precision):
        if precision == "bf16" and "BF16" not in cpu_capabilities():
            return False
        return super().serves(device_type, precision)

    def __init__(self, exports, device, precision):
        super().__init__(exports, device, precision)
        graph = exports.int8() if precision == "int8" else exports.onnx()
        self.graph = _core().read_model(graph)  # ONNX bytes
        # Denormals flushed to zero: they only slow fp32 down here, their values are far below any that matters.
        self.config = {"INFERENCE_PRECISION_HINT": HINTS[precision], "PERFORMANCE_HINT": "LATENCY",
                       "INFERENCE_NUM_THREADS": torch.get_num_threads(), "CPU_DENORMALS_OPTIMIZATION": True}
        self.compiled = OrderedDict()  # input shape -> infer request, least recently used first

    def _request(self, shape):
        request = self.compiled.get(shape)
        if request is None:
            graph = self.graph.clone()
            graph.reshape({"image": list(shape)})
            request = _core().compile_model(graph, "CPU", self.config).create_infer_request()
            self.compiled[shape] = request
            while len(self.compiled) > COMPILED_SIZES:
                self.compiled.popitem(last=False)
        self.compiled.move_to_end(shape)
        return request

    def __call__(self, x):
        x = x.float().contiguous().numpy()
        request = self._request(x.shape)
        request.infer({0: x})
        return tuple(torch.from_numpy(request.get_output_tensor(i).data.copy())
                     for i in range(len(request.model_outputs)))

    def close(self):
        self.graph = None
        self.compiled.clear()

