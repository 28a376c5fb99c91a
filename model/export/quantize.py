"""int8: post-training static quantization of the network's ONNX graph (QDQ, per-channel weights), calibrated
on real frames, cached on disk.

The first conv and the task heads stay in fp32: they hold few of the operations and most of the error that
int8 adds. The quantized graph runs in ONNX Runtime and OpenVINO alike. It is cached under a key made of the
weights' hash, the calibration frames' hash, the recipe and ONNX Runtime's version, beside the checkpoint
(``.NAME.int8-KEY.onnx``) or, where that folder is not writable or the network has no file, in
``~/.cache/jointseg`` (``$JOINTSEG_CACHE`` overrides both); start-up then reads it instead of calibrating again.
A graph calibrated on the user's own frames (``python -m model export NAME --int8 --calibrate DIR``) is kept
as the checkpoint's calibrated one, which the engine then prefers to one calibrated on the example frames.
"""
import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from model import processing as pp
from model.data import examples
from model.errors import first_line
from model.files import write_atomic

RECIPE = "qdq-perchannel-u8s8-minmax-v1"
CALIBRATION_SIZE = (480, 640)  # (H, W) the calibration frames are resized to
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jointseg"
CACHE_ENV = "JOINTSEG_CACHE"


class QuantizationError(RuntimeError):
    """int8 quantization that could not be done; the message is one line."""


def weights_hash(model):
    digest = hashlib.sha1()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def frames_hash(frames):
    digest = hashlib.sha1()
    for frame in frames:
        digest.update(str(frame.shape).encode())
        digest.update(np.ascontiguousarray(frame).tobytes())
    return digest.hexdigest()


def cache_path(model, frames=None):
    """Where the int8 graph of ``model`` calibrated on ``frames`` is kept; ``frames`` None: the graph calibrated
    on the user's own frames."""
    import onnxruntime

    calibration = "calibrated" if frames is None else frames_hash(frames)
    key = hashlib.sha1("/".join((weights_hash(model), calibration, RECIPE,
                                 onnxruntime.__version__)).encode()).hexdigest()[:16]
    name = f"int8-{'calibrated-' if frames is None else ''}{key}.onnx"
    source = getattr(model, "source", None)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / name
    if source and os.access(Path(source).parent, os.W_OK):
        return Path(source).with_name(f".{Path(source).name}.{name}")
    return USER_CACHE / name


def calibration_frames(frames=None):
    """uint8 RGB frames for calibration: those given, else the example frames, resized to CALIBRATION_SIZE."""
    if frames is None:
        return examples.frames(CALIBRATION_SIZE)
    return [np.ascontiguousarray(f) for f in frames]


def int8_graph(model, onnx_graph, frames=None):
    """The int8 QDQ version of ``onnx_graph`` (bytes), from the cache or made now (a few seconds). ``frames``
    None: the one calibrated on the user's frames when there is one, else calibrated on the example frames."""
    if frames is None and cache_path(model).is_file():
        return cache_path(model).read_bytes()
    frames = calibration_frames(frames)
    path = cache_path(model, frames)
    if path.is_file():
        return path.read_bytes()
    data = quantize(onnx_graph, frames)
    _keep(path, data)
    return data


def keep_calibrated(model, data):
    """Keeps ``data`` as the int8 graph of ``model`` calibrated on the user's frames."""
    _keep(cache_path(model), data)


def _keep(path, data):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    except OSError:
        pass  # an unwritable cache costs the next start-up the calibration again, nothing else


def kept_in_fp32(graph):
    """Names of the convs left unquantized: the first one and every task head's."""
    convs = [node for node in graph.graph.node if node.op_type == "Conv"]
    heads = [n.name for n in convs if any(f"/{h}" in n.name for h in ("pre_segm", "segm", "pre_depth", "depth",
                                                                      "pre_normal", "normal", "clf_conv"))]
    return [convs[0].name, *heads] if convs else heads


def quantize(onnx_graph, frames):
    """Quantizes an fp32 ONNX graph (bytes) calibrated on uint8 RGB ``frames``; returns the int8 graph's bytes."""
    import tempfile

    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Frames(CalibrationDataReader):
        def __init__(self):
            self.inputs = iter([{"image": pp.normalise(torch.from_numpy(f)).numpy()} for f in frames])

        def get_next(self):
            return next(self.inputs, None)

    with tempfile.TemporaryDirectory(prefix="jointseg-int8-") as folder:
        fp32, prepared, int8 = (Path(folder) / n for n in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        fp32.write_bytes(onnx_graph)
        try:
            quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
            quantize_static(str(prepared), str(int8), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=kept_in_fp32(onnx.load(str(prepared))))
        except Exception as e:  # ONNX Runtime's tools raise many kinds; they all mean the same here
            raise QuantizationError(f"int8 quantization failed: {first_line(e, 200)}") from None
        return int8.read_bytes()
