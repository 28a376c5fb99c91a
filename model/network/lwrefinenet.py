"""Encoder + Light-Weight RefineNet decoder + task heads, under the flat parameter names of the releases."""
from torch import nn

from model.presets import TASKS

from .decoder import build_decoder
from .encoders import DEFAULT_ENCODER, get_encoder
from .heads import build_heads


class LWRefineNet(nn.Module):
    """Returns a tuple of raw outputs at 1/4 of the input size, one per task, in ``self.tasks`` order.

    The parts' own children are registered directly on this module, so that the state dict has the released
    checkpoints' keys (``layer1.0.weight``, ``crp4.0.1_outvar_dimred.weight``, ``segm.bias``, ...) with no
    renaming. The parts stay reachable as ``encoder``, ``decoder`` and ``heads`` (e.g. for per-part
    learning rates) and share those very modules.
    """

    def __init__(self, encoder_name, encoder, decoder, heads):
        super().__init__()
        for part in (encoder, decoder, *heads.values()):
            for name, child in part.named_children():
                self.add_module(name, child)
        # Plain attributes, not submodules: registering them would prefix every key.
        object.__setattr__(self, "encoder", encoder)
        object.__setattr__(self, "decoder", decoder)
        object.__setattr__(self, "heads", heads)
        self.encoder_name = encoder_name
        self.tasks = tuple(heads)

    @property
    def num_classes(self):
        head = self.heads["segm"]
        return getattr(head, head.name).out_channels

    def forward(self, x):
        shared = self.decoder(self.encoder(x))
        return tuple(head(shared) for head in self.heads.values())


def build_model(encoder=DEFAULT_ENCODER, num_classes=40, tasks=("segm", "depth")):
    """A network by encoder name; ``tasks`` is a subset of ``segm``, ``depth``, ``normals`` (in that order)."""
    tasks = tuple(t for t in TASKS if t in tasks)
    if "segm" not in tasks:
        raise ValueError("every model has a segmentation head")
    spec = get_encoder(encoder)
    enc = spec.build()
    dec = build_decoder(encoder, enc.out_channels)
    heads = build_heads(tasks, num_classes, dec.out_channels, spec.segm_head, spec.segm_pre_conv)
    return LWRefineNet(encoder, enc, dec, heads)
