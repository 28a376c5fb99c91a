"""A small network fitted to the NYUD example frames (``model.data.examples``).

A network with random weights is no test of numerical precision: its outputs are chaotic (input noise of 1e-5
flips about 1% of its labels). The fitted network is well-conditioned, like trained weights, so fp16, bf16 and
int8 can be judged on it; it is what the tests and the benchmark use when no trained checkpoint is at hand. It
knows only two frames: its outputs elsewhere mean nothing.
"""
from pathlib import Path

import numpy as np
import torch

from model import processing as pp
from model.data import examples
from model.data.examples import NYUD
from model.network.encoders import DEFAULT_ENCODER
from model.network.lwrefinenet import build_model
from model.presets import get_preset
from model.weights.checkpoint import load_model, save_checkpoint

from .losses import multitask_loss

FIT_STEPS = 120
FITTED_ENCODER = DEFAULT_ENCODER
FIT_SIZE = (120, 160)  # (H, W)


def fit(steps=FIT_STEPS, size=FIT_SIZE, seed=0):
    """A MobileNet-v2 NYUD joint network fitted to the two NYUD example frames (Adam, full batch), eval mode."""
    torch.manual_seed(seed)
    truth = [examples.ground_truth(n, size) for n in NYUD]
    batch = {"image": pp.normalise(np.stack(examples.frames(size, NYUD))),
             "segm": torch.from_numpy(np.stack([m for m, _ in truth])).long(),
             "depth": torch.from_numpy(np.stack([d for _, d in truth]))[:, None].float(),
             "has_segm": torch.ones(len(NYUD), dtype=torch.bool),
             "has_depth": torch.ones(len(NYUD), dtype=torch.bool)}
    preset = get_preset("nyud")
    model = build_model(FITTED_ENCODER, preset.num_classes, preset.tasks)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    with torch.inference_mode(False):
        for _ in range(steps):
            loss, _ = multitask_loss(model(batch["image"]), batch, preset.tasks, sync=False)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    model.preset = preset
    return model.eval()


def fitted_checkpoint(folder, steps=FIT_STEPS, size=FIT_SIZE, seed=0):
    """The path of a checkpoint of ``fit(...)`` in ``folder``, fitted and written (atomically) on first use."""
    path = Path(folder) / f"fitted-examples-{steps}-{size[1]}x{size[0]}-{seed}.ckpt"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(fit(steps, size, seed), path,
                        trained=f"{steps} Adam steps on the two NYUD example frames at {size[1]}x{size[0]}")
    return path


def fitted_model(folder, **kwargs):
    return load_model(fitted_checkpoint(folder, **kwargs))
