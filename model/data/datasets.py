"""Training data: samples from a list file or plain folders, joint augmentation, padding collate.

A sample carries every task's target; a target the sample has no label for is all-invalid (segmentation 255,
depth 0, normals the zero vector) and flagged ``has_<task> = False``, so that one batch can mix samples labelled
for different tasks and the masked losses skip what is missing.

Ground truth on disk: segmentation as a class-index PNG (255 = ignore) or a colour PNG in the preset's colours
(unknown colours -> ignore); depth as a 16-bit PNG holding metres x ``depth_png_scale`` (NYUD 5000, the KITTI
release 800; 0 = no measurement); surface normals as an RGB PNG holding ((x+1)/2, (y+1)/2, (1-z)/2) x 255, the
encoding of ``postprocess.colour_normals``, where mid-grey (127) means no normal.
"""
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from model.presets import IGNORE_LABEL, TASKS
from model.processing import MEAN, normalise

from .datalist import Sample, read_list

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
FOLDERS = {"mask": "masks", "depth": "depth", "normals": "normals"}
FIELDS = {"segm": "mask", "depth": "depth", "normals": "normals"}  # task -> its Sample field
PAD_RGB = tuple(round(255 * m) for m in MEAN)  # padding that normalises to ~0


class DataError(ValueError):
    """A sample that cannot be read; the message names the file and the problem in one line."""


def folder_samples(root):
    """Samples of a plain folder tree: ``root/rgb/NAME.png`` with optional ``root/masks/NAME.png``,
    ``root/depth/NAME.png`` and ``root/normals/NAME.png`` (any task may be missing for any image)."""
    root = Path(root)
    images = sorted(p for p in (root / "rgb").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DataError(f"{root}: no images in {root / 'rgb'}")

    def find(folder, stem):
        path = root / folder / f"{stem}.png"
        return path if path.exists() else None

    return [Sample(rgb=p, line=i + 1, **{field: find(folder, p.stem) for field, folder in FOLDERS.items()})
            for i, p in enumerate(images)]


def load_samples(source, root=None):
    """Samples of a list file or of a folder tree (see ``folder_samples``)."""
    source = Path(source)
    return folder_samples(source) if source.is_dir() else read_list(source, root)


def _read(path, flags):
    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    image = cv2.imread(str(path), flags)
    if image is None:
        raise DataError(f"{path}: missing or not an image")
    return image


def read_rgb(path):
    """An image file as H x W x 3 uint8 RGB."""
    return cv2.cvtColor(_read(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def read_mask(path, colours=None):
    """Class indices H x W uint8 from an index PNG, or from a colour PNG through ``colours`` (K x 3 RGB)."""
    mask = _read(path, cv2.IMREAD_UNCHANGED)
    if mask.ndim == 2:
        return mask.astype(np.uint8)
    if colours is None:
        raise DataError(f"{path}: a colour mask needs the preset's colours to map it to classes")
    rgb = cv2.cvtColor(mask[:, :, :3], cv2.COLOR_BGR2RGB)
    out = np.full(rgb.shape[:2], IGNORE_LABEL, np.uint8)
    for index, colour in enumerate(np.asarray(colours, np.uint8)):
        out[(rgb == colour).all(axis=2)] = index
    return out


def read_depth(path, png_scale):
    """Metres H x W float32 from a 16-bit PNG (value / ``png_scale``); 0 where there is no measurement."""
    depth = _read(path, cv2.IMREAD_UNCHANGED)
    if depth.ndim != 2:
        raise DataError(f"{path}: depth must be a single-channel 16-bit PNG")
    return depth.astype(np.float32) / png_scale


def read_normals(path):
    """Unit normals H x W x 3 float32 from an RGB PNG; the zero vector where there is none (mid-grey).

    The release's PNGs hold ((x+1)/2, (y+1)/2, (1-z)/2) x 255 truncated to integers, their unlabelled pixels
    (127, 127, 127); decoding each value at the centre of its integer step makes those exactly zero.
    """
    rgb = read_rgb(path)
    v = (rgb.astype(np.float32) + 0.5) / 127.5 - 1.0
    v[..., 2] = -v[..., 2]
    length = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(length > 0.5, v / np.maximum(length, 1e-6), 0.0).astype(np.float32)


def read_sample(sample, tasks, png_scale, colours=None):
    """A dict of numpy arrays: ``image`` (H x W x 3 uint8 RGB), a target per task (invalid where not labelled)
    and ``has_<task>`` flags."""
    image = read_rgb(sample.rgb)
    h, w = image.shape[:2]
    item = {"image": image}
    for task in tasks:
        path = getattr(sample, FIELDS[task])
        if path is None:
            target = None
        elif task == "segm":
            target = read_mask(path, colours)
        elif task == "depth":
            target = read_depth(path, png_scale)
        else:
            target = read_normals(path)
        if target is not None and target.shape[:2] != (h, w):
            raise DataError(f"{path}: {target.shape[1]}x{target.shape[0]} does not match its image "
                            f"{sample.rgb} ({w}x{h})")
        item[f"has_{task}"] = target is not None
        item[task] = target if target is not None else empty_target(task, h, w)
    return item


def empty_target(task, h, w):
    if task == "segm":
        return np.full((h, w), IGNORE_LABEL, np.uint8)
    if task == "depth":
        return np.zeros((h, w), np.float32)
    return np.zeros((h, w, 3), np.float32)


PAD = {"image": PAD_RGB, "segm": IGNORE_LABEL, "depth": 0, "normals": (0, 0, 0)}


class JointTransform:
    """Random scale, pad-and-crop to ``crop`` x ``crop`` and horizontal flip, the same for the image and every
    target: image bilinear, targets nearest (no blended labels, depths or normals). Depth values are kept as
    they are under scaling; flipping negates the normals' x."""

    def __init__(self, crop=400, scale=(0.5, 2.0), flip=True):
        self.crop = crop
        self.scale = scale
        self.flip = flip

    def __call__(self, item, rng):
        keys = [k for k in ("image", *TASKS) if k in item]
        s = rng.uniform(*self.scale)
        h, w = item["image"].shape[:2]
        size = (max(1, round(w * s)), max(1, round(h * s)))
        out = {k: cv2.resize(item[k], size, interpolation=cv2.INTER_LINEAR if k == "image" else cv2.INTER_NEAREST)
               for k in keys}
        if self.crop:
            out = {k: self._pad(v, PAD[k]) for k, v in out.items()}
            h, w = out["image"].shape[:2]
            top, left = rng.integers(0, h - self.crop + 1), rng.integers(0, w - self.crop + 1)
            out = {k: v[top:top + self.crop, left:left + self.crop] for k, v in out.items()}
        if self.flip and rng.random() < 0.5:
            out = {k: v[:, ::-1] for k, v in out.items()}
            if "normals" in out:
                out["normals"] = out["normals"] * np.array([-1, 1, 1], np.float32)
        return {**item, **{k: np.ascontiguousarray(v) for k, v in out.items()}}

    def _pad(self, array, value):
        h, w = array.shape[:2]
        bottom, right = max(0, self.crop - h), max(0, self.crop - w)
        if not bottom and not right:
            return array
        return cv2.copyMakeBorder(array, 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=value)


class MultiTaskDataset(Dataset):
    """Samples as tensors: ``image`` 3 x H x W normalised, ``segm`` H x W int64, ``depth`` 1 x H x W metres,
    ``normals`` 3 x H x W, ``has_<task>`` bool.

    The augmentation of sample ``i`` draws from a generator seeded by (seed, epoch, i): any process, worker or
    resumed run sees the same crops and flips, with no random state to save.
    """

    def __init__(self, samples, tasks, png_scale, colours=None, transform=None, seed=0):
        self.samples = list(samples)
        self.tasks = tuple(tasks)
        self.png_scale = png_scale
        self.colours = colours
        self.transform = transform
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        item = read_sample(self.samples[index], self.tasks, self.png_scale, self.colours)
        if self.transform is not None:
            item = self.transform(item, np.random.default_rng([self.seed, self.epoch, index]))
        return to_tensors(item, self.tasks)


def to_tensors(item, tasks):
    out = {"image": normalise(item["image"])[0]}
    for task in tasks:
        target = torch.from_numpy(item[task])
        if task == "segm":
            target = target.long()
        elif task == "depth":
            target = target[None]
        else:
            target = target.permute(2, 0, 1)
        out[task] = target
        out[f"has_{task}"] = torch.tensor(item[f"has_{task}"])
    return out


def collate(items):
    """Stacks samples, padding each to the batch's largest size with invalid values (image: 0 after
    normalisation, segmentation 255, depth and normals 0)."""
    h = max(it["image"].shape[-2] for it in items)
    w = max(it["image"].shape[-1] for it in items)
    batch = {}
    for key in items[0]:
        values = [it[key] for it in items]
        if key.startswith("has_"):
            batch[key] = torch.stack(values)
            continue
        fill = IGNORE_LABEL if key == "segm" else 0
        padded = [torch.nn.functional.pad(v, (0, w - v.shape[-1], 0, h - v.shape[-2]), value=fill) for v in values]
        batch[key] = torch.stack(padded)
    return batch
