"""How the predictor runs the network: torch or ONNX Runtime, and the measured choice between them on the CPU.

Each runner takes the normalised N x 3 x H x W tensor on its device and returns the raw outputs, one per task.

- ``torch``: an inference copy of the network with BatchNorm folded into the convolutions, channels_last, in
  the predictor's dtype (CUDA, and the CPU fallback).
- ``onnxruntime``: the network exported to ONNX (``model.export``) in an ONNX Runtime CPU session, fp32.

On this project's 2-core test machine ONNX Runtime ran the MobileNet network about twice as fast as torch
eager and as fast as ``torch.compile`` (which compiled for ~40 s per input size), so ``auto`` measures torch
against ONNX Runtime on the first frame and keeps the faster; see BENCHMARKS.md.
"""
import copy
import itertools
import time

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

BACKENDS = ("auto", "torch", "onnxruntime")


def fold_batchnorm(module):
    """Folds every BatchNorm that directly follows a conv into that conv, in place (eval-mode statistics):
    ``Sequential(conv, bn, ...)`` and the ``convN``/``bnN`` pairs of torchvision's ResNets. Parts kept as plain
    attributes (``LWRefineNet.encoder``) share their children with the module and are updated alike."""
    parents = {id(m): m for m in module.modules()}
    for part in (getattr(module, "encoder", None), getattr(module, "decoder", None)):
        if isinstance(part, nn.Module):
            parents.update({id(m): m for m in part.modules()})
    folded = {}  # id(conv) -> its folded conv, so that a pair seen from two parents is folded once
    for parent in parents.values():
        children = dict(parent.named_children())
        pairs = []
        if isinstance(parent, nn.Sequential):
            names = list(children)
            pairs += list(itertools.pairwise(names))
        pairs += [(f"conv{n[2:]}", n) for n in children if n.startswith("bn") and f"conv{n[2:]}" in children]
        for conv_name, bn_name in pairs:
            conv, bn = children[conv_name], children[bn_name]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                if id(conv) not in folded:
                    folded[id(conv)] = fuse_conv_bn_eval(conv, bn)
                setattr(parent, conv_name, folded[id(conv)])
                setattr(parent, bn_name, nn.Identity())
    return module


class TapConv(nn.Module):
    """A k x k conv with few output channels as a 1x1 conv to one channel per output and tap, then a fixed
    k x k sum of the shifted taps. CPU convolution kernels pad output channels to their vector width (16):
    the 1-channel depth head cost as much as a 16-channel one; this way its big conv has 9 outputs and the
    shifted sum is cheap. Same values up to float rounding."""

    def __init__(self, conv):
        super().__init__()
        out, cin, kh, kw = conv.weight.shape
        taps = kh * kw
        self.taps = nn.Conv2d(cin, out * taps, 1, bias=False)
        self.gather = nn.Conv2d(out * taps, out, (kh, kw), padding=conv.padding, groups=out)
        with torch.no_grad():
            self.taps.weight.copy_(conv.weight.permute(0, 2, 3, 1).reshape(out * taps, cin, 1, 1))
            self.gather.weight.copy_(torch.eye(taps).view(1, taps, kh, kw).expand(out, -1, -1, -1))
            self.gather.bias.copy_(conv.bias if conv.bias is not None else torch.zeros(out))

    def forward(self, x):
        return self.gather(self.taps(x))


def split_thin_heads(net, max_outputs=8):
    """Replaces each task head's 3x3 output conv of at most ``max_outputs`` channels (depth, normals) by a
    ``TapConv``, in place."""
    for head in getattr(net, "heads", {}).values():
        conv = getattr(head, head.name)
        if isinstance(conv, nn.Conv2d) and conv.out_channels <= max_outputs and conv.kernel_size != (1, 1):
            setattr(head, head.name, TapConv(conv))
            if hasattr(net, head.name):  # LWRefineNet registers the heads' convs on itself as well
                setattr(net, head.name, getattr(head, head.name))
    return net


def inference_copy(model, device, dtype):
    """A gradient-free copy of ``model`` for inference: BatchNorm folded, thin heads split, channels_last,
    on ``device`` in ``dtype``. ``model`` is unchanged."""
    net = copy.deepcopy(model).eval()
    with torch.no_grad():
        fold_batchnorm(net)
        split_thin_heads(net)
    net = net.to(device, dtype).to(memory_format=torch.channels_last)
    for p in net.parameters():
        p.requires_grad_(False)
    return net


class TorchRunner:
    name = "torch"

    def __init__(self, model, device, dtype):
        self.net = inference_copy(model, device, dtype)

    def __call__(self, x):
        return self.net(x.contiguous(memory_format=torch.channels_last))


class OnnxRunner:
    name = "onnxruntime"

    def __init__(self, model):
        # Imported here: ``model`` imports this module, and ``python -m model.export`` must not find
        # model.export already imported.
        from .export import export_onnx, onnx_session

        # torch's thread count is the one knob for both (its default is also one thread per physical core).
        self.session = onnx_session(export_onnx(model), spinning=False, threads=torch.get_num_threads())

    def __call__(self, x):
        outputs = self.session.run(None, {"image": x.float().contiguous().numpy()})
        return tuple(torch.from_numpy(o) for o in outputs)


def onnxruntime_available():
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def fastest(runners, x, repeats=5, progress=None):
    """The runner with the lowest median time on ``x`` (interleaved runs, after one warm-up run each) and
    the medians in ms by name."""
    times = {r.name: [] for r in runners}
    steps, done = len(runners) * (repeats + 1), 0
    with torch.inference_mode():
        for round_ in range(repeats + 1):
            for runner in runners:
                start = time.perf_counter()
                runner(x)
                if round_:  # the first round warms up
                    times[runner.name].append((time.perf_counter() - start) * 1e3)
                done += 1
                if progress:
                    progress(done / steps, f"measuring {runner.name}")
    medians = {name: sorted(t)[len(t) // 2] for name, t in times.items()}
    return min(runners, key=lambda r: medians[r.name]), medians
