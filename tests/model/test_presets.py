"""Dataset presets: the release's colour maps and classes."""
import numpy as np
import pytest
import torch

from model import get_preset
from model.presets import generic_preset, infer_preset
from model.processing import colour_labels
from tests.conftest import DATA


@pytest.mark.parametrize("preset, cmap, offset", [("nyud", "cmap_nyud.npy", 1), ("kitti", "cmap_kitti.npy", 0)])
def test_preset_colours_are_the_release_colour_maps(preset, cmap, offset):
    p = get_preset(preset)
    expected = np.load(DATA / cmap)[offset: offset + p.num_classes]
    assert np.array_equal(p.colours, expected)
    labels = torch.arange(p.num_classes)[None, None]
    assert np.array_equal(colour_labels(labels, torch.as_tensor(p.colours))[0, 0].numpy(), expected)


def test_nyud_kitti_is_nyud_then_kitti():
    both, nyud, kitti = get_preset("nyud-kitti"), get_preset("nyud"), get_preset("kitti")
    assert both.classes == nyud.classes + kitti.classes
    assert np.array_equal(both.colours, np.concatenate([nyud.colours, kitti.colours]))


def test_official_class_counts_give_their_preset():
    assert infer_preset(40, ("segm", "depth")).name == "nyud"
    assert infer_preset(40, ("segm", "depth", "normals")).name == "nyud-three"
    assert infer_preset(6, ("segm", "depth")).name == "kitti"
    assert infer_preset(46, ("segm", "depth")).name == "nyud-kitti"
    assert infer_preset(7, ("segm",)) is None
    custom = generic_preset(7, ("segm",))
    assert custom.num_classes == 7 and custom.colours.shape == (7, 3) and custom.classes[6] == "class 6"
