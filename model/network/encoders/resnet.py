"""ResNet-50/101/152 encoders in torchvision's layout, so its ImageNet weights initialise them."""
import torchvision
from torch import nn

DEPTHS = {"resnet50": torchvision.models.resnet50, "resnet101": torchvision.models.resnet101,
          "resnet152": torchvision.models.resnet152}


class ResNetEncoder(nn.Module):
    """``conv1`` ... ``layer4`` of a torchvision ResNet (no ``fc``); returns layer1 ... layer4 (strides 4 to 32)."""

    def __init__(self, name="resnet50", weights=None):
        super().__init__()
        resnet = DEPTHS[name](weights=weights)
        for child in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            self.add_module(child, getattr(resnet, child))
        self.out_channels = (256, 512, 1024, 2048)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        features = []
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = stage(x)
            features.append(x)
        return features
