"""Pre- and post-processing: the release's normalisation, fixed-range colours, frame-size outputs."""
import numpy as np
import pytest
import torch

from model import get_preset, load_model
from model.engine import FrameError, Predictor, as_rgb_frame, network_size
from model.postprocess import colour_depth, colour_labels, colour_normals, depth_lut, normalise

from .conftest import DATA, REFERENCE_CKPT


def test_normalise_matches_the_release_formula(rng):
    frame = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    expected = (frame / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    assert np.allclose(normalise(frame)[0].numpy().transpose(1, 2, 0), expected, atol=1e-6)


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


@pytest.mark.parametrize("h, w", [(32, 32), (479, 641), (101, 37)])
def test_predictor_returns_frame_size_images(h, w, rng):
    predictor = Predictor(load_model(REFERENCE_CKPT), device="cpu")
    result = predictor(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    for image in (result.segm_rgb, result.depth_rgb, result.normals_rgb):
        assert image.shape == (h, w, 3) and image.dtype == np.uint8
    assert result.labels.shape == result.depth.shape == (h, w)
    assert result.depth.dtype == np.float32 and (result.depth >= 0).all()


def test_predictor_labels_and_depth_follow_the_release(example_frame):
    model = load_model(REFERENCE_CKPT)
    with torch.no_grad():
        segm, depth, _ = model(normalise(example_frame))
    result = Predictor(model, device="cpu")(example_frame)
    up = torch.nn.functional.interpolate(segm, size=(480, 640), mode="bilinear", align_corners=False)
    assert (result.labels == up.argmax(1)[0].numpy()).mean() > 0.999
    d = torch.nn.functional.interpolate(depth, size=(480, 640), mode="bilinear", align_corners=False)
    assert np.abs(result.depth - d.abs()[0, 0].numpy()).max() < 1e-4
    assert np.array_equal(result.segm_rgb, model.preset.colours[result.labels])


def test_frames_are_converted_or_refused(rng):
    grey = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    assert as_rgb_frame(grey).shape == (40, 50, 3)
    rgba = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    assert np.array_equal(as_rgb_frame(rgba), rgba[:, :, :3])
    with pytest.raises(FrameError, match="too small"):
        as_rgb_frame(np.zeros((20, 50, 3), np.uint8))
    with pytest.raises(FrameError, match="uint8"):
        as_rgb_frame(np.zeros((40, 50, 3), np.float32))
    with pytest.raises(FrameError, match="shape"):
        as_rgb_frame(np.zeros((40, 50, 2), np.uint8))


def test_size_policy_scales_the_long_side_keeping_aspect():
    assert network_size((480, 640), None) == (480, 640)
    assert network_size((480, 640), 320) == (240, 320)
    assert network_size((1280, 720), 640) == (640, 360)
