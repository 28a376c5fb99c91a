"""Encoders by name. Each returns its stage features, finest first, and lists their channels in ``out_channels``."""
from functools import partial

from .mobilenet_v2 import MobileNetV2Encoder
from .resnet import ResNetEncoder

ENCODERS = {
    "mobilenet_v2": MobileNetV2Encoder,
    "resnet50": partial(ResNetEncoder, "resnet50"),
    "resnet101": partial(ResNetEncoder, "resnet101"),
    "resnet152": partial(ResNetEncoder, "resnet152"),
}


def build_encoder(name, **kwargs):
    try:
        builder = ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; known: {', '.join(ENCODERS)}") from None
    return builder(**kwargs)
