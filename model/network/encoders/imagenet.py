"""ImageNet initialisation of the encoders from torchvision's own weights (downloaded and hash-checked by torchvision).

ResNets share torchvision's layout, so its weights load as they are (less ``fc``). MobileNet-v2 is mapped into
the official layout; that layout's first inverted-residual block (t=1) keeps a 1x1 32->32 conv with BatchNorm and
ReLU6 that torchvision's has not, so it starts as an exact identity (see ``identity_block``).
"""
from pathlib import Path

import torch
import torchvision

WEIGHTS = {
    "mobilenet_v2": "MobileNet_V2_Weights.IMAGENET1K_V1",
    "resnet50": "ResNet50_Weights.IMAGENET1K_V1",
    "resnet101": "ResNet101_Weights.IMAGENET1K_V1",
    "resnet152": "ResNet152_Weights.IMAGENET1K_V1",
}
# torchvision ``features`` index of the first block of the official layer2 ... layer8
MOBILENET_STAGE_STARTS = (1, 2, 4, 7, 11, 14, 17, 18)


class WeightsUnavailable(RuntimeError):
    """ImageNet weights that cannot be had (no internet, no cached file); the message says what to do."""


def torchvision_state_dict(encoder_name):
    """torchvision's ImageNet state dict of an encoder, through its weights API (cached, hash-checked)."""
    try:
        weights = torchvision.models.get_weight(WEIGHTS[encoder_name])
    except KeyError:
        raise ValueError(f"no ImageNet weights for encoder {encoder_name!r}; known: {', '.join(WEIGHTS)}") from None
    try:
        return weights.get_state_dict(progress=True, check_hash=True)
    except (OSError, RuntimeError) as e:  # URLError is an OSError; a hash mismatch is a RuntimeError
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        reason = str(getattr(e, "reason", e)).splitlines()[0]
        raise WeightsUnavailable(
            f"cannot get the ImageNet weights of {encoder_name} ({reason}); without internet, download "
            f"{weights.url} elsewhere and copy it to {cache}, or train from scratch with --pretrained none") from None


def mobilenet_v2_official(tv_state_dict, eps=1e-5):
    """torchvision ``mobilenet_v2`` state dict -> the official encoder's (``layer1`` ... ``layer8``) state dict."""
    sd = {}

    def copy(dst, src, bn):
        params = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked") if bn else ("weight",)
        for p in params:
            if f"{src}.{p}" in tv_state_dict:
                sd[f"{dst}.{p}"] = tv_state_dict[f"{src}.{p}"].clone()

    copy("layer1.0", "features.0.0", bn=False)
    copy("layer1.1", "features.0.1", bn=True)
    for stage, (start, end) in enumerate(zip(MOBILENET_STAGE_STARTS, MOBILENET_STAGE_STARTS[1:]), start=2):
        for block, index in enumerate(range(start, end)):
            src, dst = f"features.{index}.conv", f"layer{stage}.{block}.output"
            if index == 1:  # t=1: [depthwise conv-bn-relu, pointwise conv, bn] -> official output.1 and output.2
                sd.update(identity_block(f"{dst}.0", tv_state_dict[f"{src}.0.0.weight"].shape[0], eps))
                copy(f"{dst}.1.0", f"{src}.0.0", bn=False)
                copy(f"{dst}.1.1", f"{src}.0.1", bn=True)
                copy(f"{dst}.2.0", f"{src}.1", bn=False)
                copy(f"{dst}.2.1", f"{src}.2", bn=True)
            else:  # [expand conv-bn-relu, depthwise conv-bn-relu, pointwise conv, bn]
                copy(f"{dst}.0.0", f"{src}.0.0", bn=False)
                copy(f"{dst}.0.1", f"{src}.0.1", bn=True)
                copy(f"{dst}.1.0", f"{src}.1.0", bn=False)
                copy(f"{dst}.1.1", f"{src}.1.1", bn=True)
                copy(f"{dst}.2.0", f"{src}.2", bn=False)
                copy(f"{dst}.2.1", f"{src}.3", bn=True)
    return sd


def identity_block(prefix, channels, eps=1e-5):
    """A 1x1 conv + BatchNorm that pass their input through unchanged in eval mode.

    The conv is the identity matrix. The BatchNorm has weight 1, bias 0, mean 0 and variance ``1 - eps``, so its
    scale 1/sqrt(var + eps) is exactly 1 (a variance of 1 would scale by 1/sqrt(1 + eps)). The ReLU6 that follows
    does not clip either: its input is layer1's output, already through a ReLU6, so within [0, 6].
    """
    return {
        f"{prefix}.0.weight": torch.eye(channels).view(channels, channels, 1, 1),
        f"{prefix}.1.weight": torch.ones(channels),
        f"{prefix}.1.bias": torch.zeros(channels),
        f"{prefix}.1.running_mean": torch.zeros(channels),
        f"{prefix}.1.running_var": torch.full((channels,), 1.0 - eps),
        f"{prefix}.1.num_batches_tracked": torch.tensor(0),
    }


def load_imagenet(encoder, encoder_name, tv_state_dict=None):
    """Initialises ``encoder`` (a model's ``.encoder``) from torchvision's ImageNet weights, or from
    ``tv_state_dict`` (a torchvision model's state dict) when given."""
    if tv_state_dict is None:
        tv_state_dict = torchvision_state_dict(encoder_name)
    if encoder_name == "mobilenet_v2":
        sd = mobilenet_v2_official(tv_state_dict)
    else:
        sd = {k: v for k, v in tv_state_dict.items() if not k.startswith("fc.")}
    encoder.load_state_dict(sd, strict=True)
    return encoder
