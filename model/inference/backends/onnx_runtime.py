"""ONNX Runtime on the CPU: the network's ONNX export (fp32), or its int8 version (``model.export.quantize``)."""
import torch

from model.export.onnx import session

from .base import Backend, register


@register
class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    label = "ONNX Runtime"
    precisions = {"cpu": ("fp32", "int8")}
    auto_precisions = {"cpu": ("fp32", "int8")}

    @classmethod
    def problem(cls):
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return "the onnxruntime package is not installed (pip install onnxruntime)"
        return None

    def __init__(self, exports, device, precision):
        super().__init__(exports, device, precision)
        graph = exports.int8() if precision == "int8" else exports.onnx()
        # torch's thread count is the one knob for every backend (its default: one thread per physical core).
        self.session = session(graph, threads=torch.get_num_threads(), spinning=False)

    def __call__(self, x):
        outputs = self.session.run(None, {"image": x.float().contiguous().numpy()})
        return tuple(torch.from_numpy(o) for o in outputs)

    def close(self):
        self.session = None
