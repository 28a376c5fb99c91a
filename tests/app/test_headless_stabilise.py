"""``run_demo.py --no-gui --stabilise``: the written maps are the stabilised ones, and the summary line gives the
flicker figure."""
import cv2
import numpy as np

from model import Predictor, load_model
from model.benchmark.stabiliser import still_sequence
from run_demo import main


def test_the_saved_maps_are_stabilised_and_the_summary_says_the_flicker(tmp_path, fitted_ckpt, capsys):
    folder = tmp_path / "still"
    folder.mkdir()
    frames = still_sequence(4)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:02d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    out = tmp_path / "out"
    assert main(["--no-gui", "--images", str(folder), "--weights", str(fitted_ckpt), "--size", "160",
                 "--backend", "torch", "--precision", "fp32", "--stabilise", "0.8", "--output", str(out),
                 "--save-depth", "npz", "--save-labels"]) == 0
    summary = capsys.readouterr().out
    assert "labels changed/frame" in summary and "(stabilised 0.8)" in summary
    stabilised = Predictor(load_model(fitted_ckpt), size=160, backend="torch", precision="fp32", stabilise=0.8)
    plain = Predictor(load_model(fitted_ckpt), size=160, backend="torch", precision="fp32")
    for i, frame in enumerate(frames):
        expected, unstabilised = stabilised(frame), plain(frame)
        saved = np.load(out / "depth" / f"{i:02d}.npz")["depth"]
        np.testing.assert_allclose(saved, expected.depth, rtol=1e-5, atol=1e-5)
        labels = cv2.imread(str(out / "labels" / f"{i:02d}.png"), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(labels, expected.labels)
        if i:
            assert np.abs(saved - unstabilised.depth).max() > 1e-3  # blended with the frames before
