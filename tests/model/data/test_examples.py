"""The example frames the project carries, and the network fitted to them: well-conditioned, unlike random weights."""
import numpy as np
import torch

from model import load_model
from model.data.examples import KITTI, NYUD, frame_folder, frame_paths, frames
from model.processing import normalise


def test_frames_are_real_rgb_frames_at_any_size():
    full = frames()
    assert len(full) == len(NYUD) + len(KITTI) and all(f.dtype == np.uint8 and f.ndim == 3 for f in full)
    assert full[0].shape == (480, 640, 3) and full[-1].shape[1] > 1000  # NYUD Kinect frames, then KITTI's
    assert all(f.shape == (60, 80, 3) for f in frames((60, 80)))


def flipped_by_noise(model, scale):
    x = normalise(np.stack(frames((120, 160), NYUD)))
    torch.manual_seed(0)
    with torch.no_grad():
        clean, noisy = model(x)[0].argmax(1), model(x + scale * torch.randn_like(x))[0].argmax(1)
    return (clean != noisy).float().mean().item()


def test_the_fitted_network_is_well_conditioned_and_tells_the_classes_apart(fitted_ckpt):
    model = load_model(fitted_ckpt)
    assert flipped_by_noise(model, 1e-3) < 0.01
    with torch.no_grad():
        labels = model(normalise(frames((120, 160), NYUD[:1])[0]))[0].argmax(1)
    assert len(labels.unique()) >= 5 and model.meta["trained"].startswith("120 Adam steps")


def test_a_frame_folder_holds_the_named_frames_alone(tmp_path):
    folder = frame_folder(tmp_path / "frames", NYUD[:1])
    assert sorted(p.name for p in folder.iterdir()) == [frame_paths(NYUD[:1])[0].name]
    assert (folder / "000433.png").read_bytes() == frame_paths(NYUD[:1])[0].read_bytes()
