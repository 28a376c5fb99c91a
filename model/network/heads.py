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


def build_heads(tasks, num_classes, in_channels, segm_name="segm"):
    """One head per task, in the order of ``tasks``. ``segm_name='clf_conv'`` gives the ResNet release's classifier."""
    out = {"segm": num_classes, "depth": 1, "normals": 3}
    heads = {}
    for task in tasks:
        if task == "segm" and segm_name == "clf_conv":
            heads[task] = TaskHead("clf_conv", num_classes, in_channels, pointwise=False)
        else:
            heads[task] = TaskHead(HEAD_NAMES[task], out[task], in_channels)
    return heads
