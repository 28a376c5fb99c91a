"""Encoders by name: one descriptor each (see ``registry``), registered here. Adding an encoder is its module,
with its class and descriptor, plus one ``register`` line below."""
from . import mobilenet_v2, resnet
from .registry import ENCODERS, EncoderSpec, build_encoder, get_encoder, identify, register

register(mobilenet_v2.MOBILENET_V2)
register(resnet.RESNET50)
register(resnet.RESNET101)
register(resnet.RESNET152)

DEFAULT_ENCODER = mobilenet_v2.MOBILENET_V2.name  # what the released joint checkpoints use

__all__ = ["DEFAULT_ENCODER", "ENCODERS", "EncoderSpec", "build_encoder", "get_encoder", "identify", "register"]
