"""The example frames the project carries (real NYUDv2 and KITTI frames with their ground truth, from the
release) and a small network fitted to the NYUD ones.

A network with random weights is no test of numerical precision: its outputs are chaotic (input noise of 1e-5
flips about 1% of its labels). The fitted network is well-conditioned, like trained weights, so fp16, bf16 and
int8 can be judged on it; it is what the tests, the benchmark and int8 calibration use when no trained
checkpoint is at hand. It knows only two frames: its outputs elsewhere mean nothing.
"""
import shutil
from pathlib import Path

import cv2
import numpy as np
import torch

from . import postprocess as pp
from .checkpoint import load_model, save_checkpoint
from .data import read_depth, read_mask, read_rgb
from .losses import multitask_loss
from .network import build_model
from .presets import get_preset

FOLDER = Path(__file__).resolve().with_name("examples")
NYUD = ("ExpNYUD_three/000433", "ExpNYUD_joint/000464")  # frames with segmentation and depth ground truth
KITTI = ("ExpKITTI_joint/000099",)
FIT_STEPS = 120
FIT_SIZE = (120, 160)  # (H, W)


def frame_paths(names=NYUD + KITTI):
    return [FOLDER / f"{name}.png" for name in names]


def frame_folder(folder, names=NYUD):
    """``folder`` made and holding the example frames ``names`` alone (for an image-folder source)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path in frame_paths(names):
        shutil.copy(path, folder / path.name)
    return folder


def frames(size=None, names=NYUD + KITTI):
    """The example frames as H x W x 3 uint8 RGB, resized to ``size`` (H, W) when given."""
    images = [read_rgb(p) for p in frame_paths(names)]
    if size is not None:
        h, w = size
        images = [np.ascontiguousarray(cv2.resize(i, (w, h), interpolation=cv2.INTER_AREA)) for i in images]
    return images


def _ground_truth(name, size):
    folder, stem = FOLDER / Path(name).parent, Path(name).name
    h, w = size
    mask = read_mask(folder / f"segm_gt_{stem}.png")
    depth = read_depth(folder / f"depth_gt_{stem}.png", get_preset("nyud").depth_png_scale)
    return (cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST),
            cv2.resize(depth, (w, h), interpolation=cv2.INTER_NEAREST))


def fit(steps=FIT_STEPS, size=FIT_SIZE, seed=0):
    """A MobileNet-v2 NYUD joint network fitted to the two NYUD example frames (Adam, full batch), eval mode."""
    torch.manual_seed(seed)
    truth = [_ground_truth(n, size) for n in NYUD]
    batch = {"image": pp.normalise(np.stack(frames(size, NYUD))),
             "segm": torch.from_numpy(np.stack([m for m, _ in truth])).long(),
             "depth": torch.from_numpy(np.stack([d for _, d in truth]))[:, None].float(),
             "has_segm": torch.ones(len(NYUD), dtype=torch.bool),
             "has_depth": torch.ones(len(NYUD), dtype=torch.bool)}
    preset = get_preset("nyud")
    model = build_model("mobilenet_v2", preset.num_classes, preset.tasks)
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
