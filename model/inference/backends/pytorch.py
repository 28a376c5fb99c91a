"""PyTorch: an inference copy of the network (BatchNorm folded, channels_last) on the CPU or CUDA.

The only backend whose calls can be captured in a CUDA graph. On the CPU its thin heads are split
(``TapConv``); on CUDA they stay plain convs. In reduced precision the depth and normals heads run in fp32 on
the fp16/bf16 decoder feature: they are a small share of the work, and their outputs come closer to fp32.
"""
import copy
import itertools

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .base import Backend, register

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


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
            pairs += list(itertools.pairwise(children))
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


class Float32Head(nn.Module):
    """A head run in fp32 on a reduced-precision feature."""

    def __init__(self, head):
        super().__init__()
        self.head = head.float()
        self.name = head.name

    def forward(self, x):
        return self.head(x.float())


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


def inference_copy(model, device, dtype, split_heads=None, fp32_heads=False):
    """A gradient-free copy of ``model`` for inference: BatchNorm folded, channels_last, on ``device`` in
    ``dtype``; thin heads split (default: on the CPU); ``fp32_heads``: the depth and normals heads kept in fp32.
    ``model`` is unchanged."""
    device = torch.device(device)
    net = copy.deepcopy(model).eval()
    with torch.no_grad():
        fold_batchnorm(net)
        if device.type == "cpu" if split_heads is None else split_heads:
            split_thin_heads(net)
    net = net.to(device, dtype).to(memory_format=torch.channels_last)
    if fp32_heads and dtype != torch.float32:
        for task in ("depth", "normals"):
            if task in net.heads:
                net.heads[task] = Float32Head(net.heads[task])
    for p in net.parameters():
        p.requires_grad_(False)
    return net


@register
class TorchBackend(Backend):
    name = "torch"
    label = "PyTorch"
    precisions = {"cuda": ("fp32", "fp16", "bf16"), "cpu": ("fp32", "bf16", "fp16")}
    auto_precisions = {"cpu": ("fp32",)}  # CPU fp16/bf16 convolutions: slow in PyTorch; CUDA: ``rules``
    graphs = True

    @classmethod
    def serves(cls, device_type, precision):
        if precision == "bf16" and device_type == "cuda":
            return super().serves(device_type, precision) and torch.cuda.is_bf16_supported()
        return super().serves(device_type, precision)

    def __init__(self, exports, device, precision):
        super().__init__(exports, device, precision)
        self.input_dtype = DTYPES[precision]
        self.net = inference_copy(exports.model, self.device, self.input_dtype, fp32_heads=True)

    def __call__(self, x):
        return self.net(x.contiguous(memory_format=torch.channels_last))

    def close(self):
        self.net = None
