"""The network in the forms the backends are built from, made on first need and shared by every backend of one
predictor."""
from .mixed import mixed_int8
from .onnx import export_onnx
from .quantize import calibration_frames, int8_graph


class Exports:
    """The network in the forms backends are built from, made on first need and shared by every backend of one
    predictor: the model itself, its ONNX export, and that graph quantized to int8 (``model.export.quantize``).
    With a ``guard``, int8 is the mixed graph that passes it (``model.export.mixed``), searched on the
    calibration frames: the user's own (``calibration``), else the example frames."""

    def __init__(self, model, calibration=None, guard=None):
        self.model = model
        self.calibration = calibration  # uint8 RGB frames for int8 calibration; None: the example frames
        self.guard = guard
        self.progress = None  # progress(message), told of the mixed int8 search's steps
        self._onnx = self._mixed = None

    def onnx(self):
        if self._onnx is None:
            self._onnx = export_onnx(self.model)
        return self._onnx

    def int8(self):
        if self.guard is None:
            return int8_graph(self.model, self.onnx(), self.calibration)
        return self.mixed().graph

    def mixed(self):
        """The mixed int8 ``model.export.mixed.Mixed`` (a ``QuantizationError`` when none passes the guard)."""
        if self._mixed is None:
            frames = calibration_frames(self.calibration)
            self._mixed = mixed_int8(self.model, self.onnx(), frames, self.guard, self.progress)
        return self._mixed
