"""Metrics against values worked out by hand on tiny arrays."""
import math

import numpy as np
import pytest
import torch

from model.metrics import DepthMeter, NormalsMeter, SegmentationMeter

# Ground truth / prediction, 3 classes, 255 ignored:
GT = np.array([[0, 0, 1, 1], [2, 2, 255, 0]])
PRED = np.array([[0, 1, 1, 1], [2, 0, 2, 0]])
# Counted pixels (7): gt0 -> pred 0,1,0 ; gt1 -> 1,1 ; gt2 -> 2,0.
CONFUSION = np.array([[2, 1, 0], [0, 2, 0], [1, 0, 1]])


def test_confusion_matrix_and_scores_by_hand():
    meter = SegmentationMeter(3)
    meter.update(PRED, GT)
    assert np.array_equal(meter.confusion, CONFUSION)
    s = meter.compute()
    # IoU = tp / (gt + pred - tp): class 0: 2/(3+3-2); class 1: 2/(2+3-2); class 2: 1/(2+1-1)
    assert s["iou"] == pytest.approx([2 / 4, 2 / 3, 1 / 2])
    assert s["miou"] == pytest.approx((1 / 2 + 2 / 3 + 1 / 2) / 3)
    assert s["pixel_acc"] == pytest.approx(5 / 7)
    assert s["mean_acc"] == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)


def test_confusion_accumulates_and_torch_gives_the_same():
    meter = SegmentationMeter(3)
    meter.update(torch.as_tensor(PRED), torch.as_tensor(GT).to(torch.uint8))
    meter.update(PRED, GT)
    assert np.array_equal(meter.confusion, 2 * CONFUSION)


def test_class_absent_from_truth_and_prediction_is_nan_and_left_out_of_the_mean():
    meter = SegmentationMeter(4)
    meter.update(PRED, GT)
    s = meter.compute()
    assert math.isnan(s["iou"][3])
    assert s["miou"] == pytest.approx((1 / 2 + 2 / 3 + 1 / 2) / 3)


def test_labels_outside_the_classes_are_an_error():
    with pytest.raises(ValueError, match="label 7"):
        SegmentationMeter(3).update(np.zeros((2, 2), int), np.full((2, 2), 7))
    with pytest.raises(ValueError, match="shape"):
        SegmentationMeter(3).update(np.zeros((2, 2), int), np.zeros((2, 3), int))


def test_depth_by_hand_with_invalid_pixels():
    meter = DepthMeter(max_depth=10)
    gt = np.array([[1.0, 2.0, 0.0], [4.0, 20.0, np.nan]])  # 0, 20 (> max) and NaN are invalid
    pred = np.array([[2.0, 2.0, 5.0], [2.5, 1.0, 1.0]])
    row, = meter.update(pred, gt)
    # valid pairs (pred, gt): (2, 1), (2, 2), (2.5, 4); ratios 2, 1, 1.6
    assert row["pixels"] == 3
    assert row["rmse"] == pytest.approx(math.sqrt((1 + 0 + 2.25) / 3))
    assert row["abs_rel"] == pytest.approx((1 + 0 + 1.5 / 4) / 3)
    assert row["sq_rel"] == pytest.approx((1 + 0 + 2.25 / 4) / 3)
    assert row["rmse_log"] == pytest.approx(math.sqrt((math.log(2) ** 2 + math.log(1.6) ** 2) / 3))
    assert row["delta1"] == pytest.approx(1 / 3)  # 1 < 1.25
    assert row["delta2"] == pytest.approx(1 / 3)  # 1.6 > 1.5625
    assert row["delta3"] == pytest.approx(2 / 3)  # 1.6 < 1.953 < 2
    # a second image: pooled RMSE over all 4 valid pixels, per-image means over 2 images
    meter.update(torch.tensor([[3.0]]), torch.tensor([[1.0]]))
    s = meter.compute()
    assert s["pixels"] == 4 and s["images"] == 2
    assert s["rmse"] == pytest.approx(math.sqrt((1 + 0 + 2.25 + 4) / 4))
    assert s["rmse_image_mean"] == pytest.approx((math.sqrt(3.25 / 3) + 2) / 2)
    assert s["abs_rel"] == pytest.approx((1.375 / 3 + 2) / 2)


def test_depth_batches_and_empty_images():
    meter = DepthMeter()
    rows = meter.update(np.ones((2, 1, 2, 2)), np.stack([np.zeros((1, 2, 2)), np.full((1, 2, 2), 2.0)]))
    assert rows[0] is None and rows[1]["rmse"] == pytest.approx(1.0)
    assert meter.compute()["images"] == 1
    assert math.isnan(DepthMeter().compute()["rmse"])


def test_normals_angles_by_hand():
    gt = np.array([[[0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]]], dtype=float)  # last pixel unlabelled
    c, s = math.cos(math.radians(20)), math.sin(math.radians(20))
    pred = np.array([[[0, 0, 5], [s, 0, c], [1, 0, 0], [1, 0, 0]]], dtype=float)  # 0, 20 and 90 degrees
    meter = NormalsMeter()
    row = meter.update(pred, gt)
    assert row["pixels"] == 3
    assert row["mean_angle"] == pytest.approx(110 / 3, abs=1e-6)
    assert row["median_angle"] == pytest.approx(20, abs=1e-6)
    assert row["within_11.25"] == pytest.approx(1 / 3)
    assert row["within_22.5"] == pytest.approx(2 / 3)
    assert row["within_30"] == pytest.approx(2 / 3)
    s = meter.compute()
    assert s["median_angle"] == pytest.approx(20, abs=0.01)
    assert s["mean_angle"] == pytest.approx(110 / 3, abs=1e-6)


def test_normals_channels_first_as_the_network_gives_them():
    gt = torch.zeros(2, 3, 4, 5)
    gt[:, 2] = 1
    pred = gt.clone()
    pred[0, :, 0, 0] = torch.tensor([1.0, 0, 0])  # one pixel at 90 degrees
    row = NormalsMeter().update(pred, gt, axis=1)
    assert row["pixels"] == 40
    assert row["mean_angle"] == pytest.approx(90 / 40, abs=1e-6)
    assert row["within_11.25"] == pytest.approx(39 / 40)
