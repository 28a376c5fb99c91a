"""Pre- and post-processing in torch: the release's normalisation, fixed-range colours, exact label upsampling."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model.processing import (
    NO_DEPTH_RGB,
    colour_depth,
    colour_normals,
    depth_lut,
    depth_lut_with_missing,
    labels_from_logits,
    normalise,
)


def test_normalise_matches_the_release_formula(rng):
    frame = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    expected = (frame / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    assert np.allclose(normalise(frame)[0].numpy().transpose(1, 2, 0), expected, atol=1e-6)


def test_depth_colour_uses_the_fixed_range_not_the_frame_range():
    lut = torch.as_tensor(depth_lut())
    near = colour_depth(torch.full((1, 2, 2), 1.0), 8.0, lut)
    also_near = colour_depth(torch.tensor([[[1.0, 1.0], [1.0, 7.9]]]), 8.0, lut)
    assert torch.equal(near[0, 0, 0], also_near[0, 0, 0])
    assert torch.equal(colour_depth(torch.tensor([[[100.0]]]), 8.0, lut)[0, 0, 0], lut[255])
    assert torch.equal(colour_depth(torch.tensor([[[0.0]]]), 8.0, lut)[0, 0, 0], lut[0])


def test_normals_colour_formula():
    n = torch.tensor([0.0, 0.0, -1.0]).view(1, 3, 1, 1)
    assert colour_normals(n)[0, 0, 0].tolist() == [128, 128, 255]
    n = torch.tensor([2.0, 0.0, 0.0]).view(1, 3, 1, 1)  # normalised first
    assert colour_normals(n)[0, 0, 0].tolist() == [255, 128, 128]


def test_depth_that_is_nan_or_inf_gets_the_no_depth_colour():
    lut = torch.as_tensor(depth_lut_with_missing())
    depth = torch.tensor([[[float("nan"), float("inf"), -float("inf"), 2.0]]])
    rgb = colour_depth(depth, 8.0, lut)[0, 0]
    assert [tuple(c) for c in rgb[:3].tolist()] == [NO_DEPTH_RGB] * 3
    assert torch.equal(rgb[3], torch.as_tensor(depth_lut())[64])
    assert NO_DEPTH_RGB not in [tuple(c) for c in depth_lut().tolist()]


@pytest.mark.parametrize("size", [(480, 640), (477, 641), (97, 33), (20, 30)])
def test_label_fast_path_equals_the_full_resize(size):
    torch.manual_seed(0)
    smooth = F.interpolate(torch.randn(2, 40, 6, 8), size=(120, 160), mode="bilinear")  # few borders
    noisy = torch.randn(1, 6, 30, 40)  # borders everywhere: the full-resize branch
    for logits in (smooth, smooth.contiguous(memory_format=torch.channels_last), noisy):
        expected = F.interpolate(logits, size=size, mode="bilinear", align_corners=False).argmax(1)
        assert (labels_from_logits(logits, size) == expected).float().mean() >= 0.9999
