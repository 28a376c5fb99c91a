"""Metrics against values worked out by hand on tiny arrays."""
import math

import numpy as np
import pytest
import torch

from model.evaluation.metrics import DepthMeter, NormalsMeter, SegmentationMeter

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


# Clipped protocol on (0.5, 4) m: ground truth 4 (at max), 0.5 (at min), 0 and NaN are invalid; the predictions
# 0.1 and 6 lie outside the range.
CLIP_GT = np.array([[1.0, 2.5, 4.0], [0.5, 2.0, np.nan], [0.0, 3.0, 3.0]])
CLIP_PRED = np.array([[0.1, 6.0, 3.0], [1.0, 2.4, 1.0], [1.0, 3.0, 3.0]])


def test_clipped_protocol_by_hand():
    meter = DepthMeter(min_depth=0.5, max_depth=4.0)
    row, = meter.update(CLIP_PRED, CLIP_GT)
    # valid (pred, gt): (0.1 -> 0.5, 1), (6 -> 4, 2.5), (2.4, 2), (3, 3), (3, 3); ratios 2, 1.6, 1.2, 1, 1
    assert row["pixels"] == 5
    assert row["rmse"] == pytest.approx(math.sqrt((0.25 + 2.25 + 0.16) / 5))
    assert row["abs_rel"] == pytest.approx((0.5 / 1 + 1.5 / 2.5 + 0.4 / 2) / 5)
    assert row["sq_rel"] == pytest.approx((0.25 / 1 + 2.25 / 2.5 + 0.16 / 2) / 5)
    assert row["rmse_log"] == pytest.approx(
        math.sqrt((math.log(2) ** 2 + math.log(1.6) ** 2 + math.log(1.2) ** 2) / 5))
    assert row["delta1"] == pytest.approx(3 / 5)  # 1.2, 1, 1 < 1.25
    assert row["delta2"] == pytest.approx(3 / 5)  # 1.6 > 1.5625
    assert row["delta3"] == pytest.approx(4 / 5)  # 1.6 < 1.953 < 2
    assert meter.compute()["rmse"] == pytest.approx(row["rmse"])


def test_without_clipping_the_raw_predictions_count():
    row, = DepthMeter(min_depth=0.5, max_depth=4.0, clip=False).update(CLIP_PRED, CLIP_GT)
    # valid (pred, gt): (0.1, 1), (6, 2.5), (2.4, 2), (3, 3), (3, 3)
    assert row["pixels"] == 5
    assert row["rmse"] == pytest.approx(math.sqrt((0.81 + 12.25 + 0.16) / 5))
    assert row["abs_rel"] == pytest.approx((0.9 / 1 + 3.5 / 2.5 + 0.4 / 2) / 5)
    assert row["rmse_log"] == pytest.approx(
        math.sqrt((math.log(10) ** 2 + math.log(2.4) ** 2 + math.log(1.2) ** 2) / 5))
    assert row["delta3"] == pytest.approx(3 / 5)  # ratios 10 and 2.4 above 1.953


def test_default_protocol_clips_at_a_millimetre_with_no_upper_bound():
    meter = DepthMeter()
    assert meter.protocol == {"min_depth": 1e-3, "max_depth": None, "clip_predictions": True, "rmse": "image-mean"}
    # ground truth 1e-3 is at min (invalid), 500 counts; predictions 0 and -2 are raised to 1e-3
    row, = meter.update(np.array([[0.0, -2.0, 600.0]]), np.array([[1.0, 1e-3, 500.0]]))
    assert row["pixels"] == 2
    assert row["abs_rel"] == pytest.approx((0.999 / 1 + 100 / 500) / 2)
    assert row["rmse_log"] == pytest.approx(math.sqrt((math.log(1e3) ** 2 + math.log(1.2) ** 2) / 2))
    # unclipped, a prediction of 0 is raised to 1e-3 only in the log and ratio terms
    row, = DepthMeter(clip=False).update(np.array([[0.0]]), np.array([[2.0]]))
    assert row["abs_rel"] == pytest.approx(1.0)
    assert row["rmse_log"] == pytest.approx(math.log(2e3))


@pytest.mark.parametrize("rmse", ["image-mean", "pooled"])
def test_image_mean_and_pooled_rmse_on_images_of_different_sizes(rmse):
    meter = DepthMeter(max_depth=10, rmse=rmse)
    meter.update(np.array([[3.0]]), np.array([[1.0]]))  # 1 pixel: error 2, log ratio log 3
    meter.update(torch.ones(2, 2), torch.full((2, 2), 2.0))  # 4 pixels: error 1, log ratio log 2
    s = meter.compute()
    assert s["pixels"] == 5 and s["images"] == 2
    assert s["rmse_image_mean"] == pytest.approx((2 + 1) / 2)
    assert s["rmse_pooled"] == pytest.approx(math.sqrt((4 + 4 * 1) / 5))
    assert s["rmse_log_image_mean"] == pytest.approx((math.log(3) + math.log(2)) / 2)
    assert s["rmse_log_pooled"] == pytest.approx(math.sqrt((math.log(3) ** 2 + 4 * math.log(2) ** 2) / 5))
    headline = "_image_mean" if rmse == "image-mean" else "_pooled"
    assert s["rmse"] == s["rmse" + headline] and s["rmse_log"] == s["rmse_log" + headline]
    # the other errors are means over images whatever the RMSE aggregation: abs rel 2 and 0.5
    assert s["abs_rel"] == pytest.approx((2 + 0.5) / 2)


@pytest.mark.parametrize("kwargs, message", [
    ({"min_depth": 0}, "min_depth"), ({"min_depth": 5, "max_depth": 5}, "max_depth"), ({"rmse": "median"}, "rmse")])
def test_a_bad_protocol_is_an_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DepthMeter(**kwargs)


def test_depth_batches_and_empty_images():
    meter = DepthMeter()
    rows = meter.update(np.ones((2, 1, 2, 2)), np.stack([np.zeros((1, 2, 2)), np.full((1, 2, 2), 2.0)]))
    assert rows[0] is None and rows[1]["rmse"] == pytest.approx(1.0)
    assert meter.compute()["images"] == 1
    s = DepthMeter().compute()
    assert math.isnan(s["rmse"]) and math.isnan(s["rmse_pooled"])


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
