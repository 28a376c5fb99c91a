"""MobileNet-v2 encoder in the exact parameter layout of the official multi-task checkpoints."""
from torch import nn

# (expansion t, out channels c, repeats n, first stride s) of layer2 ... layer8
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


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
