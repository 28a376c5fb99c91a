"""Which network the app runs: a checkpoint file, a catalogue name, or, when no trained weights of the chosen
backbone are on this machine, an untrained network that the window labels as such."""
from dataclasses import dataclass
from pathlib import Path

import torch

from model.network.encoders import DEFAULT_ENCODER, ENCODERS
from model.network.lwrefinenet import build_model
from model.presets import get_preset
from model.weights import catalogue as catalogue_weights
from model.weights.checkpoint import load_model

BACKBONES = {name: spec.label for name, spec in ENCODERS.items()}  # name -> label, for menus and titles
UNTRAINED_PRESET = "nyud"
# The untrained network's weights are the same on every run, so that what is derived from them and cached on
# disk under their hash (the int8 calibration) is made once, not at every start.
UNTRAINED_SEED = 0


@dataclass
class Network:
    model: object  # an eval-mode LWRefineNet with .preset
    name: str  # what the window shows: a catalogue name, a file name, or "untrained"
    weights: str | None  # what loads it again: a catalogue name or a path; None when untrained
    backbone: str
    warning: str | None = None  # set when the outputs mean nothing


def untrained_warning(backbone):
    label = BACKBONES[backbone]
    trained = [n for n, e in catalogue_weights.catalogue().items() if e["encoder"] == backbone]
    if trained:
        how = f"get weights with: python -m model weights download {trained[0]}"
    else:
        how = (f"no {label} joint weights were released; train some (python -m model train) "
               "and open the checkpoint")
    return f"untrained {label} weights: outputs are meaningless; {how}"


def installed_for(backbone):
    """The first installed catalogue name with this backbone, or None."""
    for name, entry in catalogue_weights.catalogue().items():
        if entry["encoder"] == backbone and catalogue_weights.installed_path(name):
            return name
    return None


def open_network(weights=None, backbone=DEFAULT_ENCODER, download=False, progress=None):
    """A Network for ``weights`` (catalogue name or checkpoint path), else the installed catalogue model of
    ``backbone``, else an untrained ``backbone``. Raises WeightsError / CheckpointError with one-line messages."""
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; known: {', '.join(BACKBONES)}")
    weights = weights or installed_for(backbone)
    if weights:
        path = catalogue_weights.resolve(weights, download=download, progress=progress)
        model = load_model(path)
        name = weights if weights in catalogue_weights.catalogue() else Path(path).name
        return Network(model, name, str(weights), model.encoder_name)
    preset = get_preset(UNTRAINED_PRESET)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        model = build_model(backbone, preset.num_classes, preset.tasks).eval()
    model.preset = preset
    return Network(model, "untrained", None, backbone, untrained_warning(backbone))
