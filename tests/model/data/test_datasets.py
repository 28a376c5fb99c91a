"""Training data: reading lists and folders, joint augmentation keeping every target aligned, collate."""
import cv2
import numpy as np
import pytest
import torch

from model.data.datalist import read_list
from model.data.datasets import (
    DataError,
    JointTransform,
    MultiTaskDataset,
    collate,
    folder_samples,
    load_samples,
    read_mask,
    read_normals,
)
from model.presets import get_preset
from model.processing import MEAN, STD
from tests.conftest import EXAMPLES

K = 5
NORMALS = np.array([[0.6, 0.0, -0.8], [-0.8, 0.6, 0.0], [0.36, 0.48, -0.8], [-0.6, -0.8, 0.0], [0.8, 0.0, -0.6]],
                   np.float32)


def pattern(h=120, w=160):
    """Blocks of class labels; red encodes the label, blue a left-to-right ramp (to tell a flip)."""
    y, x = np.mgrid[:h, :w]
    labels = ((y // 20) * 7 + (x // 20) * 3) % K
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 0] = labels * 40 + 20
    image[..., 2] = (x * 255 // (w - 1)).astype(np.uint8)
    return image, labels.astype(np.uint8)


def encode_normals(n):
    rgb = np.stack(((n[..., 0] + 1) / 2, (n[..., 1] + 1) / 2, (1 - n[..., 2]) / 2), axis=-1)
    return np.round(rgb * 255).astype(np.uint8)


def write_pattern_sample(folder, name="a", depth=True, mask=True, normals=True):
    image, labels = pattern()
    for sub in ("rgb", "masks", "depth", "normals"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "rgb" / f"{name}.png"), image[..., ::-1])
    if mask:
        cv2.imwrite(str(folder / "masks" / f"{name}.png"), labels)
    if depth:
        cv2.imwrite(str(folder / "depth" / f"{name}.png"), ((1.0 + labels) * 5000).astype(np.uint16))
    if normals:
        cv2.imwrite(str(folder / "normals" / f"{name}.png"), encode_normals(NORMALS[labels])[..., ::-1])


def interior(segm, r=2):
    """Labelled pixels whose (2r+1)^2 neighbourhood has their label (away from blended block edges)."""
    padded = np.pad(segm.astype(int), r, constant_values=-1)
    h, w = segm.shape
    same = [padded[r + dy:r + dy + h, r + dx:r + dx + w] == segm for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    return np.logical_and.reduce(same) & (segm != 255)


def unnormalise(image):
    rgb = image.permute(1, 2, 0).numpy() * np.array(STD) + np.array(MEAN)
    return rgb * 255


@pytest.mark.parametrize("seed", range(6))
def test_augmentation_keeps_image_and_every_target_aligned(tmp_path, seed):
    write_pattern_sample(tmp_path)
    transform = JointTransform(crop=96, scale=(0.5, 1.5), flip=True)
    ds = MultiTaskDataset(folder_samples(tmp_path), ("segm", "depth", "normals"), 5000.0, transform=transform,
                          seed=seed)
    item = ds[0]
    assert item["image"].shape == (3, 96, 96) and item["segm"].shape == (96, 96)
    segm, depth, normals = item["segm"].numpy(), item["depth"][0].numpy(), item["normals"].numpy()
    labelled = segm != 255
    assert labelled.mean() > 0.2
    # padding is invalid in every target at once
    assert np.array_equal(labelled, depth > 0)
    assert np.array_equal(labelled, np.linalg.norm(normals, axis=0) > 0.5)
    # depth and normals (nearest) match the label exactly; the image (bilinear) inside the blocks
    assert np.allclose(depth[labelled], 1.0 + segm[labelled], atol=1e-4)
    rgb = unnormalise(item["image"])
    inner = interior(segm)
    assert inner.sum() > 0.2 * labelled.sum()
    assert np.abs(rgb[..., 0][inner] - (segm[inner] * 40 + 20)).max() < 3
    # a flip shows as a falling blue ramp, and must come with the normals' x negated
    row = labelled.sum(axis=1).argmax()
    ramp = rgb[row, labelled[row], 2]
    flipped = ramp[-1] < ramp[0]
    expected = NORMALS[segm[labelled]] * (np.array([-1, 1, 1]) if flipped else 1)
    assert np.allclose(normals[:, labelled].T, expected, atol=0.02)


def test_both_flips_and_several_scales_occur_over_seeds(tmp_path):
    write_pattern_sample(tmp_path)
    transform = JointTransform(crop=0, scale=(0.5, 2.0), flip=True)
    ds = MultiTaskDataset(folder_samples(tmp_path), ("segm",), 5000.0, transform=transform)
    sizes, flips = set(), set()
    for seed in range(12):
        ds.seed = seed
        item = ds[0]
        sizes.add(item["image"].shape[-1])
        ramp = unnormalise(item["image"])[0, :, 2]
        flips.add(bool(ramp[-1] < ramp[0]))
    assert len(sizes) > 3 and flips == {True, False}


def test_same_seed_epoch_index_gives_the_same_sample_and_another_epoch_another(tmp_path):
    write_pattern_sample(tmp_path)
    ds = MultiTaskDataset(folder_samples(tmp_path), ("segm",), 5000.0, transform=JointTransform(crop=64), seed=3)
    a, b = ds[0], ds[0]
    ds.set_epoch(1)
    c = ds[0]
    assert torch.equal(a["image"], b["image"]) and not torch.equal(a["image"], c["image"])


def test_missing_targets_are_invalid_and_flagged(tmp_path):
    write_pattern_sample(tmp_path, "a", depth=False, normals=False)
    write_pattern_sample(tmp_path, "b", mask=False)
    samples = folder_samples(tmp_path)
    ds = MultiTaskDataset(samples, ("segm", "depth", "normals"), 5000.0)
    a, b = ds[0], ds[1]
    assert a["has_segm"] and not a["has_depth"] and not a["has_normals"]
    assert a["depth"].abs().max() == 0 and a["normals"].abs().max() == 0
    assert not b["has_segm"] and (b["segm"] == 255).all() and b["has_depth"]
    batch = collate([a, b])
    assert batch["has_depth"].tolist() == [False, True]
    assert batch["image"].shape == (2, 3, 120, 160)


def test_collate_pads_with_invalid_values():
    items = [{"image": torch.ones(3, 4, 6), "segm": torch.zeros(4, 6, dtype=torch.long),
              "depth": torch.ones(1, 4, 6), "has_segm": torch.tensor(True)},
             {"image": torch.ones(3, 6, 5), "segm": torch.zeros(6, 5, dtype=torch.long),
              "depth": torch.ones(1, 6, 5), "has_segm": torch.tensor(True)}]
    batch = collate(items)
    assert batch["image"].shape == (2, 3, 6, 6)
    assert (batch["segm"][0, 4:] == 255).all() and (batch["segm"][1, :, 5] == 255).all()
    assert (batch["depth"][0, :, 4:] == 0).all() and (batch["image"][1, :, :, 5] == 0).all()


def test_list_with_asymmetric_annotations_reads_the_example_frames(tmp_path):
    lst = tmp_path / "train.txt"
    lst.write_text("ExpNYUD_joint/000464.png\tExpNYUD_joint/segm_gt_000464.png\t-\n"
                   "ExpNYUD_three/000433.png\t-\tExpNYUD_three/depth_gt_000433.png\n")
    ds = MultiTaskDataset(load_samples(lst, EXAMPLES), ("segm", "depth"), 5000.0)
    a, b = ds[0], ds[1]
    assert a["has_segm"] and not a["has_depth"] and b["has_depth"] and not b["has_segm"]
    valid = b["depth"][b["depth"] > 0]
    assert 0.3 < valid.min() and valid.max() < 10  # NYUD metres
    assert set(a["segm"].unique().tolist()) - {255} <= set(range(40))


def test_colour_masks_map_through_the_preset_colours():
    kitti = get_preset("kitti")
    mask = read_mask(EXAMPLES / "ExpKITTI_joint" / "segm_gt_000099.png", kitti.colours)
    values = set(np.unique(mask).tolist())
    assert values - {255} <= set(range(6)) and len(values - {255}) >= 5 and 255 in values


def test_example_normals_are_unit_or_missing():
    n = read_normals(EXAMPLES / "ExpNYUD_three" / "norm_gt_000433.png")
    length = np.linalg.norm(n, axis=-1)
    assert np.allclose(length[length > 0], 1, atol=1e-5)
    assert 0.05 < (length == 0).mean() < 0.5  # the unlabelled (grey) border and holes


def test_bad_files_give_one_line_errors(tmp_path):
    write_pattern_sample(tmp_path)
    cv2.imwrite(str(tmp_path / "depth" / "a.png"), np.zeros((10, 10), np.uint16))
    ds = MultiTaskDataset(folder_samples(tmp_path), ("segm", "depth"), 5000.0)
    with pytest.raises(DataError, match="does not match its image"):
        ds[0]
    with pytest.raises(DataError, match="no images"):
        folder_samples(tmp_path / "nothing")
    lst = tmp_path / "l.txt"
    lst.write_text("missing.png\n")
    with pytest.raises(DataError, match="missing.png: no such file"):
        MultiTaskDataset(read_list(lst), ("segm",), 5000.0)[0]
