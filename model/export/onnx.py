"""``python -m model export CHECKPOINT --onnx OUT.onnx``: the network as ONNX, any height and width, checked
against torch; with ``--int8`` also its int8 version.

The graph takes the normalised image (``image``, N x 3 x H x W float32, see ``model.processing.normalise``)
and returns the raw outputs at a quarter of the size, one per task (``segm``, ``depth``, ``normals``).
``--int8`` quantizes it statically (QDQ, as the engine's int8 backends run it; ``model.export.quantize``), calibrated
on the images of ``--calibrate DIR`` or on the example frames, and reports how it agrees with fp32.
"""
import copy
import io
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch

from model import help_text as cli
from model.data.datasets import IMAGE_SUFFIXES, DataError, read_rgb
from model.files import write_atomic
from model.processing import normalise
from model.weights.catalogue import checkpoint_help
from model.weights.checkpoint import CheckpointError, load_model

from .guard import Guard, agreement
from .quantize import CALIBRATION_SIZE, QuantizationError, calibration_frames, int8_graph, keep_calibrated

OPSET = 17
CHECK_SIZES = ((480, 640), (241, 319))


class ExportError(Exception):
    """An export that failed or whose graph does not reproduce torch; the message is one line."""


def export_onnx(model, path=None, opset=OPSET):
    """The serialised ONNX graph of ``model`` (bytes), also written atomically to ``path`` when given."""
    net = _cpu_fp32(model)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # The TorchScript exporter: ~10x quicker than the torch.export one (the ONNX Runtime backend exports at
        # start-up) and with no extra dependency; both torch 2.11 and 2.14 have it.
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(1, 3, 64, 96),), buffer, dynamo=False, opset_version=opset,
                          input_names=["image"], output_names=list(net.tasks),
                          dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"},
                                        **{t: {0: "batch", 2: "height/4", 3: "width/4"} for t in net.tasks}})
    data = buffer.getvalue()
    if path is not None:
        write_atomic(path, data)
    return data


def session(graph, threads=None, spinning=True):
    """An ONNX Runtime CPU session on a graph (bytes or path). ``spinning=False`` lets its threads sleep
    between runs instead of spinning: they then leave the CPU to the torch work around each run. ``threads``
    None is ONNX Runtime's default (one per physical core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(graph if isinstance(graph, bytes) else str(graph), options,
                                providers=["CPUExecutionProvider"])


def verify(model, graph, frames=None, rtol=1e-3):
    """Runs the graph and the torch model on frames of several sizes; returns the largest error relative to
    each output's scale and raises ExportError past ``rtol``."""
    net = _cpu_fp32(model)
    runner = session(graph)
    rng = np.random.default_rng(0)
    frames = frames or [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for size in CHECK_SIZES]
    worst = 0.0
    for frame in frames:
        x = normalise(frame)
        with torch.no_grad():
            expected = [t.numpy() for t in net(x)]
        got = runner.run(None, {"image": x.numpy()})
        for task, e, g in zip(net.tasks, expected, got):
            if e.shape != g.shape:
                raise ExportError(f"{task}: ONNX output {g.shape} but torch {e.shape} at {frame.shape[:2]}")
            error = float(np.abs(e - g).max() / max(float(np.abs(e).max()), 1e-12))
            worst = max(worst, error)
            if error > rtol:
                raise ExportError(f"{task}: ONNX differs from torch by {error:.2e} of its scale at "
                                  f"{frame.shape[1]}x{frame.shape[0]}")
    return worst


def _cpu_fp32(model):
    net = model
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in model.parameters()):
        net = copy.deepcopy(model).to("cpu", torch.float32)
    return net.eval()


EXAMPLES = """
python -m model export nyud --onnx nyud.onnx
python -m model export nyud --onnx nyud.onnx --int8                  # and nyud.int8.onnx
python -m model export kitti --onnx kitti.onnx --int8 kitti-int8.onnx --calibrate frames/
"""
MAX_CALIBRATION_IMAGES = 32  # evenly spread over the folder: more adds minutes, hardly accuracy


def calibration_images(folder):
    """Up to MAX_CALIBRATION_IMAGES images of ``folder`` (name order, evenly spread) as uint8 RGB frames of the
    calibration size."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder}: no such folder (--calibrate takes a folder of images)")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ExportError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) to calibrate on")
    step = max(1, -(-len(paths) // MAX_CALIBRATION_IMAGES))
    h, w = CALIBRATION_SIZE
    return [np.ascontiguousarray(cv2.resize(read_rgb(p), (w, h), interpolation=cv2.INTER_AREA))
            for p in paths[::step]]


def int8_agreement(model, fp32_graph, int8_graph, frame):
    """How the int8 graph agrees with the fp32 one on ``frame`` (``model.export.guard.Agreement``)."""
    x = {"image": normalise(frame).numpy()}
    reference, outputs = ([torch.from_numpy(o) for o in session(g).run(None, x)]
                          for g in (fp32_graph, int8_graph))
    return agreement(reference, outputs, model.tasks)


def write_int8(model, fp32_graph, path, frames=None):
    """Writes the int8 graph of ``fp32_graph`` to ``path``, calibrated on ``frames`` (uint8 RGB; None: the example
    frames); returns its size in bytes, the number of calibration frames and the agreement with fp32 on the
    first of them."""
    calibrated = frames is not None
    frames = calibration_frames(frames)
    data = int8_graph(model, fp32_graph, frames)
    measured = int8_agreement(model, fp32_graph, data, frames[0])
    write_atomic(path, data)
    if calibrated:  # the engine's int8 backends of this checkpoint run it from now on
        keep_calibrated(model, data)
    return len(data), len(frames), measured


def build_parser():
    parser = cli.parser("python -m model export", __doc__, EXAMPLES)
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help=checkpoint_help())
    parser.add_argument("--onnx", required=True, metavar="OUT.onnx", help="where to write the fp32 ONNX graph")
    parser.add_argument("--opset", type=int, default=OPSET, metavar="N", help="ONNX opset (default: %(default)s)")
    parser.add_argument("--int8", nargs="?", const=True, metavar="INT8.onnx",
                        help="also write the int8 graph, at INT8.onnx (default when given alone: OUT.int8.onnx "
                             "beside the fp32 one)")
    parser.add_argument("--calibrate", metavar="DIR",
                        help="calibrate --int8 on the images in DIR (default: the example NYUDv2 and KITTI frames)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.calibrate and not args.int8:
        parser.error("--calibrate needs --int8")
    int8_path = Path(args.onnx).with_suffix(".int8.onnx") if args.int8 is True else args.int8
    if int8_path and Path(int8_path).resolve() == Path(args.onnx).resolve():
        parser.error("--int8 names the fp32 graph's own file; give it another name")
    try:
        frames = calibration_images(args.calibrate) if args.calibrate else None  # a bad folder: nothing written
        model = load_model(args.checkpoint)
        data = export_onnx(model, opset=args.opset)
        error = verify(model, data)
        write_atomic(args.onnx, data)  # only a verified graph is written
        sizes = ", ".join(f"{w}x{h}" for h, w in CHECK_SIZES)
        print(f"wrote {args.onnx} ({len(data) / 1e6:.1f} MB, opset {args.opset}, outputs {', '.join(model.tasks)}); "
              f"matches torch at {sizes} within {error:.1e} of each output's scale")
        if int8_path:
            size, count, measured = write_int8(model, data, int8_path, frames)
            source = f"{count} images of {args.calibrate}" if args.calibrate else f"the {count} example frames"
            guard = Guard()
            verdict = "" if guard.passes(measured) else f"; below the engine's accuracy guard ({guard.describe()})"
            print(f"wrote {int8_path} ({size / 1e6:.1f} MB, int8 QDQ, calibrated on {source}); on the first of "
                  f"them: {measured.describe()}{verdict}")
    except (CheckpointError, ExportError, QuantizationError, DataError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
