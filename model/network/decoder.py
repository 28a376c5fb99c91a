"""Light-Weight RefineNet decoders: chained residual pooling (CRP) and the fusion of encoder stages.

Two wirings, each with the parameter names of its release: the multi-task MobileNet-v2 one and the
single-task ResNet one. Both end in one 256-channel feature map at 1/4 of the input size.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .encoders import get_encoder


def conv1x1(in_ch, out_ch, groups=1):
    return nn.Conv2d(in_ch, out_ch, 1, bias=False, groups=groups)


def _max5(x, dim):
    """Max over the centred window of 5 along ``dim`` (-2 or -1), padded with -inf: 3 elementwise maxima."""
    n = x.shape[dim]
    x = F.pad(x, (2, 2) if dim == -1 else (0, 0, 2, 2), value=float("-inf"))
    m2 = torch.maximum(x.narrow(dim, 0, n + 3), x.narrow(dim, 1, n + 3))  # windows of 2
    m4 = torch.maximum(m2.narrow(dim, 0, n + 1), m2.narrow(dim, 2, n + 1))  # windows of 4
    return torch.maximum(m4.narrow(dim, 0, n), x.narrow(dim, 4, n))


class MaxPool5(nn.Module):
    """5x5 stride-1 max pooling, the same values as ``nn.MaxPool2d(5, stride=1, padding=2)``.

    On the CPU torch's max pool compares all 25 values per output and took most of the network's time; there
    it runs as running maxima along rows then columns (6 elementwise maxima, any memory format and dtype).
    CUDA and ONNX export keep the single max pool op, which cuDNN and ONNX Runtime run fast.
    """

    def forward(self, x):
        if x.is_cuda or torch.onnx.is_in_onnx_export():
            return F.max_pool2d(x, 5, stride=1, padding=2)
        return _max5(_max5(x, -1), -2)


class CRPBlock(nn.Module):
    """``top = pool(top); top = conv_i(top); x = x + top``, ``stages`` times."""

    def __init__(self, channels, stages=4, groups=1):
        super().__init__()
        self.stages = stages
        self.pool = MaxPool5()
        for i in range(1, stages + 1):
            self.add_module(f"{i}_outvar_dimred", conv1x1(channels, channels, groups))

    def forward(self, x):
        top = x
        for i in range(1, self.stages + 1):
            top = getattr(self, f"{i}_outvar_dimred")(self.pool(top))
            x = x + top
        return x


def crp(channels, groups=1):
    # The releases wrap each CRP block in a Sequential: keys read ``crp4.0.1_outvar_dimred``.
    return nn.Sequential(CRPBlock(channels, groups=groups))


def upsample(x, like, align_corners):
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=align_corners)


class MobileNetDecoder(nn.Module):
    """The multi-task release's decoder over MobileNet-v2 stages l3 ... l8 (ReLU6, align_corners=False)."""

    def __init__(self, in_channels=(24, 32, 64, 96, 160, 320), channels=256):
        super().__init__()
        for index, in_ch in reversed(list(zip(range(3, 9), in_channels))):
            self.add_module(f"conv{index}", conv1x1(in_ch, channels))
        self.crp4 = crp(channels)
        self.crp3 = crp(channels)
        self.crp2 = crp(channels)
        self.crp1 = crp(channels, groups=channels)
        self.conv_adapt4 = conv1x1(channels, channels)
        self.conv_adapt3 = conv1x1(channels, channels)
        self.conv_adapt2 = conv1x1(channels, channels)
        self.relu = nn.ReLU6(inplace=False)
        self.out_channels = channels

    def forward(self, features):
        l3, l4, l5, l6, l7, l8 = features
        x = self.crp4(self.relu(self.conv8(l8) + self.conv7(l7)))
        x = upsample(self.conv_adapt4(x), l6, False)
        x = self.crp3(self.relu(self.conv5(l5) + self.conv6(l6) + x))
        x = upsample(self.conv_adapt3(x), l4, False)
        x = self.crp2(self.relu(self.conv4(l4) + x))
        x = upsample(self.conv_adapt2(x), l3, False)
        return self.crp1(self.relu(self.conv3(l3) + x))


class ResNetDecoder(nn.Module):
    """The single-task ResNet release's decoder over stages l1 ... l4 (ReLU, align_corners=True)."""

    def __init__(self, in_channels=(256, 512, 1024, 2048), channels=256):
        super().__init__()
        c1, c2, c3, c4 = in_channels
        self.dropout = nn.Dropout(0.5)
        self.p_ims1d2_outl1_dimred = conv1x1(c4, 2 * channels)
        self.mflow_conv_g1_pool = crp(2 * channels)
        self.mflow_conv_g1_b3_joint_varout_dimred = conv1x1(2 * channels, channels)
        for stage, in_ch in ((2, c3), (3, c2), (4, c1)):
            self.add_module(f"p_ims1d2_outl{stage}_dimred", conv1x1(in_ch, channels))
            self.add_module(f"adapt_stage{stage}_b2_joint_varout_dimred", conv1x1(channels, channels))
            self.add_module(f"mflow_conv_g{stage}_pool", crp(channels))
            if stage < 4:
                self.add_module(f"mflow_conv_g{stage}_b3_joint_varout_dimred", conv1x1(channels, channels))
        self.relu = nn.ReLU(inplace=False)
        self.out_channels = channels

    def forward(self, features):
        l1, l2, l3, l4 = features
        l4, l3 = self.dropout(l4), self.dropout(l3)
        x = self.mflow_conv_g1_pool(self.relu(self.p_ims1d2_outl1_dimred(l4)))
        x = upsample(self.mflow_conv_g1_b3_joint_varout_dimred(x), l3, True)
        for stage, skip in ((2, l3), (3, l2), (4, l1)):
            skip = getattr(self, f"adapt_stage{stage}_b2_joint_varout_dimred")(
                getattr(self, f"p_ims1d2_outl{stage}_dimred")(skip))
            x = getattr(self, f"mflow_conv_g{stage}_pool")(self.relu(skip + x))
            if stage < 4:
                x = getattr(self, f"mflow_conv_g{stage}_b3_joint_varout_dimred")(x)
                x = upsample(x, (l2, l1)[stage - 2], True)
        return x


DECODERS = {"mobilenet": MobileNetDecoder, "resnet": ResNetDecoder}  # by family, as encoder descriptors name it


def build_decoder(encoder_name, in_channels):
    return DECODERS[get_encoder(encoder_name).decoder](in_channels)
