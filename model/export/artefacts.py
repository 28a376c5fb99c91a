"""The network in the forms the backends are built from, made on first need and shared by every backend of one
predictor."""
from .onnx import export_onnx
from .quantize import int8_graph


class Exports:
    """The network in the forms backends are built from, made on first need and shared by every backend of one
    predictor: the model itself, its ONNX export, and that graph quantized to int8 (``model.quantize``)."""

    def __init__(self, model, calibration=None):
        self.model = model
        self.calibration = calibration  # uint8 RGB frames for int8 calibration; None: the example frames
        self._onnx = None

    def onnx(self):
        if self._onnx is None:
            self._onnx = export_onnx(self.model)
        return self._onnx

    def int8(self):
        return int8_graph(self.model, self.onnx(), self.calibration)
