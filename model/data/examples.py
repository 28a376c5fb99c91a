"""The example frames the project carries: real NYUDv2 and KITTI frames with their ground truth, from the
release (a network fitted to the NYUD ones: ``model.training.examples_fit``)."""
import shutil
from pathlib import Path

import cv2
import numpy as np

from model.presets import get_preset

from .datasets import read_depth, read_mask, read_rgb

FOLDER = Path(__file__).resolve().with_name("examples")
NYUD = ("ExpNYUD_three/000433", "ExpNYUD_joint/000464")  # frames with segmentation and depth ground truth
KITTI = ("ExpKITTI_joint/000099",)


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


def ground_truth(name, size):
    """The segmentation mask and depth (metres) of the NYUD example frame ``name``, resized to ``size`` (H, W)."""
    folder, stem = FOLDER / Path(name).parent, Path(name).name
    h, w = size
    mask = read_mask(folder / f"segm_gt_{stem}.png")
    depth = read_depth(folder / f"depth_gt_{stem}.png", get_preset("nyud").depth_png_scale)
    return (cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST),
            cv2.resize(depth, (w, h), interpolation=cv2.INTER_NEAREST))
