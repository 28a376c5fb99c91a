"""``python -m model.export CHECKPOINT --onnx OUT.onnx``: the network as ONNX, any height and width, checked
against torch.

The graph takes the normalised image (``image``, N x 3 x H x W float32, see ``model.postprocess.normalise``)
and returns the raw outputs at a quarter of the size, one per task (``segm``, ``depth``, ``normals``).
"""
import argparse
import copy
import io
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError, load_model
from .files import write_atomic
from .postprocess import normalise

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


def onnx_session(graph, spinning=True, threads=None):
    """An ONNX Runtime CPU session on a graph (bytes or path). ``spinning=False`` lets its threads sleep
    between runs instead of spinning: they then leave the CPU to the torch work around each run. ``threads``
    None is ONNX Runtime's default (one per physical core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = str(graph) if isinstance(graph, (str, Path)) else graph
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def verify(model, graph, frames=None, rtol=1e-3):
    """Runs the graph and the torch model on frames of several sizes; returns the largest error relative to
    each output's scale and raises ExportError past ``rtol``."""
    net = _cpu_fp32(model)
    session = onnx_session(graph)
    rng = np.random.default_rng(0)
    frames = frames or [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for size in CHECK_SIZES]
    worst = 0.0
    for frame in frames:
        x = normalise(frame)
        with torch.no_grad():
            expected = [t.numpy() for t in net(x)]
        got = session.run(None, {"image": x.numpy()})
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint file (official release or this project's)")
    parser.add_argument("--onnx", required=True, metavar="OUT.onnx", help="where to write the ONNX graph")
    parser.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset (default {OPSET})")
    args = parser.parse_args(argv)
    try:
        model = load_model(args.checkpoint)
        data = export_onnx(model, opset=args.opset)
        error = verify(model, data)
        write_atomic(args.onnx, data)  # only a verified graph is written
    except (CheckpointError, ExportError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    sizes = ", ".join(f"{w}x{h}" for h, w in CHECK_SIZES)
    print(f"wrote {args.onnx} ({len(data) / 1e6:.1f} MB, opset {args.opset}, outputs {', '.join(model.tasks)}); "
          f"matches torch at {sizes} within {error:.1e} of each output's scale")
    return 0


if __name__ == "__main__":
    sys.exit(main())
