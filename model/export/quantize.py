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
import logging
import os
from pathlib import Path

import numpy as np
import torch

from model import processing as pp
from model.data import examples
from model.errors import first_line
from model.files import write_atomic
from model.network.encoders import ENCODERS
from model.network.heads import head_layer_names

RECIPE = "qdq-perchannel-u8s8-minmax-v1"
CALIBRATION_SIZE = (480, 640)  # (H, W) the calibration frames are resized to
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jointseg"
CACHE_ENV = "JOINTSEG_CACHE"
log = logging.getLogger(__name__)


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
    return cache_folder_name(model, f"int8-{'calibrated-' if frames is None else ''}{key}.onnx")


def cache_folder_name(model, name):
    """The cache file ``name`` of ``model``: beside its checkpoint, else in the user's cache folder."""
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
    if frames is None:
        data = _cached(cache_path(model))
        if data is not None:
            return data
    frames = calibration_frames(frames)
    path = cache_path(model, frames)
    data = _cached(path)
    if data is None:
        data = quantize(onnx_graph, frames)
        keep(path, data)
    return data


def _cached(path):
    """The int8 graph cached at ``path``; None when there is none, or when it cannot be loaded: then the file is
    deleted (and said where), so that it is made again once instead of failing on every start."""
    import onnx

    if not path.is_file():
        return None
    data = path.read_bytes()
    try:
        onnx.load_from_string(data)
    except Exception as e:  # protobuf's DecodeError and whatever a half-copied file gives: unusable alike
        log.warning("int8 cache %s cannot be loaded (%s): deleted, making it again", path, first_line(e, 120))
        path.unlink(missing_ok=True)
        return None
    return data


def keep_calibrated(model, data):
    """Keeps ``data`` as the int8 graph of ``model`` calibrated on the user's frames."""
    keep(cache_path(model), data)


def keep(path, data):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    except OSError:
        pass  # an unwritable cache costs the next start-up the calibration again, nothing else


def kept_in_fp32(graph):
    """Names of the convs left unquantized: the first one and every task head's."""
    convs = [node for node in graph.graph.node if node.op_type == "Conv"]
    names = head_layer_names((spec.segm_head, spec.segm_pre_conv) for spec in ENCODERS.values())
    heads = [n.name for n in convs if any(f"/{h}" in n.name for h in names)]
    return [convs[0].name, *heads] if convs else heads


class Reader:
    """ONNX Runtime's calibration reader over normalised inputs (N x 3 x H x W float32 arrays)."""

    def __init__(self, inputs):
        self.inputs = iter([{"image": x} for x in inputs])

    def get_next(self):
        return next(self.inputs, None)

    def __iter__(self):  # what ONNX Runtime's quantization debugger reads
        return self.inputs


def prepare(onnx_graph, folder):
    """The fp32 graph (bytes) made ready for quantization (shapes inferred, folded), as a file in ``folder``."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32, prepared = Path(folder) / "fp32.onnx", Path(folder) / "prepared.onnx"
    fp32.write_bytes(onnx_graph)
    try:
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    except Exception as e:  # ONNX Runtime's tools raise many kinds; they all mean the same here
        raise QuantizationError(f"int8 quantization failed: {first_line(e, 200)}") from None
    return prepared


def quantize_prepared(prepared, inputs, excluded, out, ranges=None):
    """The int8 QDQ bytes of the prepared graph at path ``prepared``, calibrated on the normalised ``inputs``,
    the convs named in ``excluded`` left in fp32; ``ranges``: a file the calibration is kept in and read from."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    try:
        quantize_static(str(prepared), str(out), Reader(inputs), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=excluded,
                        calibration_cache_path=ranges)
    except Exception as e:  # ONNX Runtime's tools raise many kinds; they all mean the same here
        raise QuantizationError(f"int8 quantization failed: {first_line(e, 200)}") from None
    return Path(out).read_bytes()


def quantize(onnx_graph, frames):
    """Quantizes an fp32 ONNX graph (bytes) calibrated on uint8 RGB ``frames``; returns the int8 graph's bytes."""
    import tempfile

    import onnx

    inputs = [pp.normalise(torch.from_numpy(f)).numpy() for f in frames]
    with tempfile.TemporaryDirectory(prefix="jointseg-int8-") as folder:
        prepared = prepare(onnx_graph, folder)
        return quantize_prepared(prepared, inputs, kept_in_fp32(onnx.load(str(prepared))), Path(folder) / "int8.onnx")
