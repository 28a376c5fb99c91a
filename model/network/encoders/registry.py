"""The registry of encoders: one descriptor per encoder holds every fact the rest of the code asks about it.

A descriptor lives beside its encoder's class, in that encoder's module; ``model.network.encoders`` registers
each one. Nothing else names an encoder: checkpoint reading, ImageNet initialisation, the decoder and heads, the
command lines and the app ask the descriptor.
"""
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class EncoderSpec:
    name: str  # the registry key: ``--encoder``/``--backbone`` value, a checkpoint's meta ``encoder``
    label: str  # for people: "MobileNet-v2"
    build: Callable  # () -> the encoder module, returning ``channels``-wide features at ``strides``
    channels: tuple  # channels of each returned stage, finest first
    strides: tuple  # output stride of each returned stage
    decoder: str  # its decoder's family, a key of ``model.network.decoder.DECODERS``
    segm_head: str  # parameter name of the segmentation head's output conv in its released files
    segm_pre_conv: bool  # whether that head has the depthwise 1x1 ``pre_<name>`` conv before it
    imagenet_weights: str  # torchvision's weights entry that initialises it, e.g. "ResNet50_Weights.IMAGENET1K_V1"
    from_torchvision: Callable  # torchvision's state dict of that entry -> this encoder's state dict
    signature: Callable  # a whole network's state dict -> True when that network has this encoder


ENCODERS: dict[str, EncoderSpec] = {}


def register(spec):
    if spec.name in ENCODERS:
        raise ValueError(f"an encoder named {spec.name!r} is registered already ({ENCODERS[spec.name].label}); "
                         f"{spec.label} needs another name")
    ENCODERS[spec.name] = spec
    return spec


def get_encoder(name):
    """The descriptor of encoder ``name``; ValueError (one line) listing the known ones otherwise."""
    try:
        return ENCODERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown encoder {name!r}; known: {', '.join(ENCODERS)}") from None


def build_encoder(name):
    return get_encoder(name).build()


def identify(state_dict: Mapping):
    """The name of the one registered encoder whose signature the state dict has, or None (none, or several)."""
    matches = [spec.name for spec in ENCODERS.values() if spec.signature(state_dict)]
    return matches[0] if len(matches) == 1 else None
