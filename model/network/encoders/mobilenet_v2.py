"""MobileNet-v2 encoder in the exact parameter layout of the official multi-task checkpoints, and its descriptor.

torchvision's ImageNet weights are mapped into that layout. Its first inverted-residual block (t=1) keeps a 1x1
32->32 conv with BatchNorm and ReLU6 that torchvision's has not, so that conv starts as an exact identity (see
``identity_block``).
"""
import torch
from torch import nn

from .registry import EncoderSpec

# (expansion t, out channels c, repeats n, first stride s) of layer2 ... layer8
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
# torchvision ``features`` index of the first block of the official layer2 ... layer8
TORCHVISION_STAGE_STARTS = (1, 2, 4, 7, 11, 14, 17, 18)


def conv_bn(in_ch, out_ch, kernel, stride=1, groups=1, act=True):
    layers = [
        nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, in_ch, out_ch, expansion, stride):
        super().__init__()
        hidden = in_ch * expansion
        # Unlike torchvision's, the t=1 block keeps its 1x1 expansion conv: the checkpoints have it.
        self.output = nn.Sequential(
            conv_bn(in_ch, hidden, 1),
            conv_bn(hidden, hidden, 3, stride, groups=hidden),
            conv_bn(hidden, out_ch, 1, act=False),
        )
        self.residual = in_ch == out_ch and stride == 1

    def forward(self, x):
        out = self.output(x)
        return x + out if self.residual else out


class MobileNetV2Encoder(nn.Module):
    """Stages ``layer1`` ... ``layer8``; returns the features of layer3 ... layer8 (strides 4, 8, 16, 16, 32, 32)."""

    def __init__(self):
        super().__init__()
        self.layer1 = conv_bn(3, 32, 3, stride=2)
        in_ch = 32
        for index, (t, c, n, s) in enumerate(STAGES, start=2):
            blocks = [InvertedResidual(in_ch if i == 0 else c, c, t, s if i == 0 else 1) for i in range(n)]
            self.add_module(f"layer{index}", nn.Sequential(*blocks))
            in_ch = c
        self.out_channels = tuple(c for _, c, _, _ in STAGES[1:])

    def forward(self, x):
        x = self.layer2(self.layer1(x))
        features = []
        for index in range(3, 9):
            x = getattr(self, f"layer{index}")(x)
            features.append(x)
        return features


def from_torchvision(tv_state_dict, eps=1e-5):
    """torchvision ``mobilenet_v2`` state dict -> the official encoder's (``layer1`` ... ``layer8``) state dict."""
    sd = {}

    def copy(dst, src, bn):
        params = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked") if bn else ("weight",)
        for p in params:
            if f"{src}.{p}" in tv_state_dict:
                sd[f"{dst}.{p}"] = tv_state_dict[f"{src}.{p}"].clone()

    copy("layer1.0", "features.0.0", bn=False)
    copy("layer1.1", "features.0.1", bn=True)
    for stage, (start, end) in enumerate(zip(TORCHVISION_STAGE_STARTS, TORCHVISION_STAGE_STARTS[1:]), start=2):
        for block, index in enumerate(range(start, end)):
            src, dst = f"features.{index}.conv", f"layer{stage}.{block}.output"
            if index == 1:  # t=1: [depthwise conv-bn-relu, pointwise conv, bn] -> official output.1 and output.2
                sd.update(identity_block(f"{dst}.0", tv_state_dict[f"{src}.0.0.weight"].shape[0], eps))
                copy(f"{dst}.1.0", f"{src}.0.0", bn=False)
                copy(f"{dst}.1.1", f"{src}.0.1", bn=True)
                copy(f"{dst}.2.0", f"{src}.1", bn=False)
                copy(f"{dst}.2.1", f"{src}.2", bn=True)
            else:  # [expand conv-bn-relu, depthwise conv-bn-relu, pointwise conv, bn]
                copy(f"{dst}.0.0", f"{src}.0.0", bn=False)
                copy(f"{dst}.0.1", f"{src}.0.1", bn=True)
                copy(f"{dst}.1.0", f"{src}.1.0", bn=False)
                copy(f"{dst}.1.1", f"{src}.1.1", bn=True)
                copy(f"{dst}.2.0", f"{src}.2", bn=False)
                copy(f"{dst}.2.1", f"{src}.3", bn=True)
    return sd


def identity_block(prefix, channels, eps=1e-5):
    """A 1x1 conv + BatchNorm that pass their input through unchanged in eval mode.

    The conv is the identity matrix. The BatchNorm has weight 1, bias 0, mean 0 and variance ``1 - eps``, so its
    scale 1/sqrt(var + eps) is exactly 1 (a variance of 1 would scale by 1/sqrt(1 + eps)). The ReLU6 that follows
    does not clip either: its input is layer1's output, already through a ReLU6, so within [0, 6].
    """
    return {
        f"{prefix}.0.weight": torch.eye(channels).view(channels, channels, 1, 1),
        f"{prefix}.1.weight": torch.ones(channels),
        f"{prefix}.1.bias": torch.zeros(channels),
        f"{prefix}.1.running_mean": torch.zeros(channels),
        f"{prefix}.1.running_var": torch.full((channels,), 1.0 - eps),
        f"{prefix}.1.num_batches_tracked": torch.tensor(0),
    }


def is_multitask_mobilenet(state_dict):
    """The multi-task release's keys: this encoder's last stage and its decoder's matching conv."""
    return "layer8.0.output.0.0.weight" in state_dict and "conv8.weight" in state_dict


MOBILENET_V2 = EncoderSpec(
    name="mobilenet_v2", label="MobileNet-v2", build=MobileNetV2Encoder,
    channels=tuple(c for _, c, _, _ in STAGES[1:]), strides=(4, 8, 16, 16, 32, 32), decoder="mobilenet",
    segm_head="segm", segm_pre_conv=True, imagenet_weights="MobileNet_V2_Weights.IMAGENET1K_V1",
    from_torchvision=from_torchvision, signature=is_multitask_mobilenet)
