"""ResNet-50/101/152 encoders in torchvision's layout, so its ImageNet weights initialise them, and their
descriptors."""
from functools import partial

import torchvision
from torch import nn

from .registry import EncoderSpec


class ResNetEncoder(nn.Module):
    """``conv1`` ... ``layer4`` of a torchvision ResNet (no ``fc``); returns layer1 ... layer4 (strides 4 to 32)."""

    def __init__(self, torchvision_resnet):
        super().__init__()
        resnet = torchvision_resnet(weights=None)
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


def without_classifier(tv_state_dict):
    return {k: v for k, v in tv_state_dict.items() if not k.startswith("fc.")}


def is_single_task_resnet(layer3_blocks, state_dict):
    """The single-task ResNet release's keys, with ``layer3_blocks`` bottlenecks in layer3 (what sets the depth)."""
    return ("conv1.weight" in state_dict and "p_ims1d2_outl1_dimred.weight" in state_dict
            and len({k.split(".")[1] for k in state_dict if k.startswith("layer3.")}) == layer3_blocks)


def resnet_spec(depth, layer3_blocks):
    return EncoderSpec(
        name=f"resnet{depth}", label=f"ResNet-{depth}",
        build=partial(ResNetEncoder, getattr(torchvision.models, f"resnet{depth}")),
        channels=(256, 512, 1024, 2048), strides=(4, 8, 16, 32), decoder="resnet",
        # The ResNet release names its classifier clf_conv; keeping that name lets its files load unchanged.
        segm_head="clf_conv", segm_pre_conv=False, imagenet_weights=f"ResNet{depth}_Weights.IMAGENET1K_V1",
        from_torchvision=without_classifier, signature=partial(is_single_task_resnet, layer3_blocks))


RESNET50 = resnet_spec(50, layer3_blocks=6)
RESNET101 = resnet_spec(101, layer3_blocks=23)
RESNET152 = resnet_spec(152, layer3_blocks=36)
