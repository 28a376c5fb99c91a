"""The training history on disk: every column in log.csv, curves drawn even with gaps."""
import math

import numpy as np

from model.training.log import plot_curves, write_log


def test_log_has_every_column_of_any_epoch(tmp_path):
    history = [{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 1.5, "val_miou": 0.25}]
    write_log(history, tmp_path / "log.csv")
    assert (tmp_path / "log.csv").read_text().splitlines() == ["epoch,train_loss,val_miou", "1,2.0,", "2,1.5,0.25"]


def test_curves_draw_each_series_and_survive_nan_and_a_single_epoch():
    history = [{"epoch": 1, "train_loss": 2.0, "val_miou": math.nan},
               {"epoch": 2, "train_loss": 1.0, "val_miou": 0.3},
               {"epoch": 3, "train_loss": 0.5, "val_miou": 0.4}]
    image = plot_curves(history, width=640, height=240)
    assert image.shape == (240, 640, 3) and image.dtype == np.uint8
    blue, orange = np.array([31, 119, 180]), np.array([255, 127, 14])
    left, right = image[:, :320], image[:, 320:]
    assert (left == blue).all(-1).sum() > 50  # the loss curve, first colour, in the losses panel
    assert (right == orange).all(-1).sum() == 0 and (right == blue).all(-1).sum() > 50  # metrics restart colours
    assert plot_curves(history[:1]).std() > 0
