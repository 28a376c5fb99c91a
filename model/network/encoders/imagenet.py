"""ImageNet initialisation of the encoders from torchvision's own weights (downloaded and hash-checked by torchvision).

Each encoder's descriptor names its torchvision weights and maps their state dict into its own layout.
"""
from pathlib import Path

import torch
import torchvision

from . import get_encoder


class WeightsUnavailable(RuntimeError):
    """ImageNet weights that cannot be had (no internet, no cached file); the message says what to do."""


def torchvision_state_dict(encoder_name):
    """torchvision's ImageNet state dict of an encoder, through its weights API (cached, hash-checked)."""
    weights = torchvision.models.get_weight(get_encoder(encoder_name).imagenet_weights)
    try:
        return weights.get_state_dict(progress=True, check_hash=True)
    except (OSError, RuntimeError) as e:  # URLError is an OSError; a hash mismatch is a RuntimeError
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        reason = str(getattr(e, "reason", e)).splitlines()[0]
        raise WeightsUnavailable(
            f"cannot get the ImageNet weights of {encoder_name} ({reason}); without internet, download "
            f"{weights.url} elsewhere and copy it to {cache}, or train from scratch with --pretrained none") from None


def load_imagenet(encoder, encoder_name, tv_state_dict=None):
    """Initialises ``encoder`` (a model's ``.encoder``) from torchvision's ImageNet weights, or from
    ``tv_state_dict`` (a torchvision model's state dict) when given."""
    if tv_state_dict is None:
        tv_state_dict = torchvision_state_dict(encoder_name)
    encoder.load_state_dict(get_encoder(encoder_name).from_torchvision(tv_state_dict), strict=True)
    return encoder
