"""Task heads on the decoder's shared feature: segmentation, depth, surface normals."""
import torch.nn.functional as F
from torch import nn

# task -> the checkpoints' parameter name of its 3x3 output conv
HEAD_NAMES = {"segm": "segm", "depth": "depth", "normals": "normal"}


class TaskHead(nn.Module):
    """Optional depthwise 1x1 conv ``pre_<name>`` and ReLU6, then a 3x3 conv ``<name>`` with bias."""

    def __init__(self, name, out_channels, in_channels=256, pointwise=True):
        super().__init__()
        self.pre_name = f"pre_{name}" if pointwise else None
        self.name = name
        if pointwise:
            self.add_module(self.pre_name, nn.Conv2d(in_channels, in_channels, 1, groups=in_channels, bias=False))
        self.add_module(name, nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=True))

    def forward(self, x):
        if self.pre_name:
            x = F.relu6(getattr(self, self.pre_name)(x))
        return getattr(self, self.name)(x)


def build_heads(tasks, num_classes, in_channels, segm_name="segm", segm_pre_conv=True):
    """One head per task, in the order of ``tasks``; the segmentation head's name and ``pre_`` conv are the
    encoder's release's (its descriptor's ``segm_head`` and ``segm_pre_conv``)."""
    out = {"segm": num_classes, "depth": 1, "normals": 3}
    heads = {}
    for task in tasks:
        if task == "segm":
            heads[task] = TaskHead(segm_name, num_classes, in_channels, pointwise=segm_pre_conv)
        else:
            heads[task] = TaskHead(HEAD_NAMES[task], out[task], in_channels)
    return heads


def head_layer_names(segm_heads):
    """Parameter-name stems of every head's convs, given the segmentation heads' ``(name, has pre_ conv)``."""
    heads = {*segm_heads, *((HEAD_NAMES[t], True) for t in HEAD_NAMES if t != "segm")}
    return sorted({name for name, _ in heads} | {f"pre_{name}" for name, pre_conv in heads if pre_conv})
