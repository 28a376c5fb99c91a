"""Evaluation metrics accumulated over a data set: segmentation, metric depth, surface normals.

Each meter takes numpy arrays or torch tensors (any device) with ``update`` and gives a dict of plain floats with
``compute``; ``update`` returns the scores of what it was given alone (a per-image row).
"""
import math

import numpy as np
import torch

from model.presets import IGNORE_LABEL

MIN_DEPTH = 1e-3  # metres: the standard protocol's lower bound for ground truth and clipped predictions
DEPTH_FLOOR = 1e-3  # metres: unclipped predictions below it are raised to it in the log and ratio terms (log 0, x / 0)
RMSE_AGGREGATIONS = ("image-mean", "pooled")
ANGLE_BIN = 0.01  # degrees: resolution of the data set's median angular error
NORMAL_THRESHOLDS = (11.25, 22.5, 30.0)


def _numpy(x, dtype=None):
    if torch.is_tensor(x):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    return x if dtype is None else x.astype(dtype, copy=False)


def _mean(values):
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


def confusion_matrix(pred, gt, num_classes, ignore_index=IGNORE_LABEL):
    """``num_classes`` x ``num_classes`` int64 counts, rows ground truth, columns prediction; ``ignore_index`` skipped.

    Counted with ``torch.bincount`` on the device of whichever input is a tensor (the CPU for numpy inputs).
    """
    if tuple(pred.shape) != tuple(gt.shape):
        raise ValueError(f"prediction {tuple(pred.shape)} and ground truth {tuple(gt.shape)} differ in shape")
    device = next((x.device for x in (pred, gt) if torch.is_tensor(x)), "cpu")
    pred, gt = (torch.as_tensor(x if torch.is_tensor(x) else np.ascontiguousarray(x), device=device)
                .reshape(-1).long() for x in (pred, gt))
    keep = gt != ignore_index
    pred, gt = pred[keep], gt[keep]
    for what, labels in (("ground truth", gt), ("prediction", pred)):
        if labels.numel():
            low, high = int(labels.min()), int(labels.max())
            if low < 0 or high >= num_classes:
                raise ValueError(f"{what} has label {low if low < 0 else high}, outside 0..{num_classes - 1} "
                                 f"(and not the ignore label {ignore_index})")
    counts = torch.bincount(gt * num_classes + pred, minlength=num_classes * num_classes)
    return counts.cpu().numpy().astype(np.int64).reshape(num_classes, num_classes)


def segmentation_scores(confusion):
    """mIoU, pixel accuracy, mean class accuracy and per-class IoU (NaN: class in neither truth nor prediction)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    gt_count = confusion.sum(1)
    pred_count = confusion.sum(0)
    union = gt_count + pred_count - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        class_acc = np.where(gt_count > 0, tp / gt_count, np.nan)
    total = confusion.sum()
    return {
        "miou": _mean(iou),
        "pixel_acc": float(tp.sum() / total) if total else math.nan,
        "mean_acc": _mean(class_acc),
        "iou": [float(v) for v in iou],
    }


class SegmentationMeter:
    """Confusion matrix over a data set; pixels labelled ``ignore_index`` in the ground truth do not count."""

    def __init__(self, num_classes, ignore_index=IGNORE_LABEL):
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, pred_labels, gt_labels):
        """Adds integer label arrays of the same shape; returns their own scores."""
        counts = confusion_matrix(pred_labels, gt_labels, self.num_classes, self.ignore_index)
        self.confusion += counts
        return segmentation_scores(counts)

    def compute(self):
        return segmentation_scores(self.confusion)


def _images(x):
    """A depth map (H x W), a batch (N x H x W) or N x 1 x H x W as N x H x W float64."""
    x = _numpy(x, np.float64)
    if x.ndim == 2:
        return x[None]
    if x.ndim == 4 and x.shape[1] == 1:
        return x[:, 0]
    if x.ndim != 3:
        raise ValueError(f"expected a depth map H x W, N x H x W or N x 1 x H x W, got shape {x.shape}")
    return x


class DepthMeter:
    """Depth errors in metres by the standard protocol (Eigen et al. 2014; as monodepth2, BTS and AdaBins evaluate).

    Valid pixels: finite ground truth strictly between ``min_depth`` and ``max_depth`` (no upper bound when
    ``max_depth`` is None). With ``clip`` the predictions are clipped to [``min_depth``, ``max_depth``] before every
    metric; without it they are used as they are, raised to ``DEPTH_FLOOR`` only in the log and ratio terms.
    Every metric is computed per image and averaged over the images that have a valid pixel. ``rmse`` and
    ``rmse_log`` follow the ``rmse`` aggregation; ``*_image_mean`` and ``*_pooled`` (the root of the mean over
    every valid pixel of the set) give both.
    """

    def __init__(self, min_depth=MIN_DEPTH, max_depth=None, clip=True, rmse="image-mean"):
        if not min_depth > 0:
            raise ValueError(f"min_depth must be positive, got {min_depth}")
        if max_depth is not None and not max_depth > min_depth:
            raise ValueError(f"max_depth {max_depth} must exceed min_depth {min_depth}")
        if rmse not in RMSE_AGGREGATIONS:
            raise ValueError(f"rmse aggregation must be one of {', '.join(RMSE_AGGREGATIONS)}, got {rmse!r}")
        self.min_depth = float(min_depth)
        self.max_depth = None if max_depth is None else float(max_depth)
        self.clip = bool(clip)
        self.rmse = rmse
        self.pixels = 0
        self.sum_sq = 0.0
        self.sum_log_sq = 0.0
        self.per_image = []

    @property
    def protocol(self):
        return {"min_depth": self.min_depth, "max_depth": self.max_depth, "clip_predictions": self.clip,
                "rmse": self.rmse}

    def update(self, pred_m, gt_m):
        """Adds one depth map or a batch; returns a list of per-image scores (None for an image with no valid pixel)."""
        pred, gt = _images(pred_m), _images(gt_m)
        if pred.shape != gt.shape:
            raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
        rows = []
        for p, g in zip(pred, gt):
            valid = np.isfinite(g) & (g > self.min_depth)
            if self.max_depth is not None:
                valid &= g < self.max_depth
            if not valid.any():
                rows.append(None)
                continue
            p, g = p[valid], g[valid]
            if self.clip:
                p = np.clip(p, self.min_depth, self.max_depth)
            positive = p if self.clip else np.maximum(p, DEPTH_FLOOR)
            sq = (p - g) ** 2
            log_sq = (np.log(positive) - np.log(g)) ** 2
            ratio = np.maximum(positive / g, g / positive)
            self.pixels += int(g.size)
            self.sum_sq += float(sq.sum())
            self.sum_log_sq += float(log_sq.sum())
            row = {
                "rmse": float(np.sqrt(sq.mean())),
                "rmse_log": float(np.sqrt(log_sq.mean())),
                "abs_rel": float((np.abs(p - g) / g).mean()),
                "sq_rel": float((sq / g).mean()),
                "delta1": float((ratio < 1.25).mean()),
                "delta2": float((ratio < 1.25 ** 2).mean()),
                "delta3": float((ratio < 1.25 ** 3).mean()),
                "pixels": int(g.size),
            }
            self.per_image.append(row)
            rows.append(row)
        return rows

    def compute(self):
        images = self.per_image

        def mean(key):
            return float(np.mean([r[key] for r in images])) if images else math.nan

        def pooled(total):
            return math.sqrt(total / self.pixels) if self.pixels else math.nan

        both = {"rmse_image_mean": mean("rmse"), "rmse_log_image_mean": mean("rmse_log"),
                "rmse_pooled": pooled(self.sum_sq), "rmse_log_pooled": pooled(self.sum_log_sq)}
        suffix = "_pooled" if self.rmse == "pooled" else "_image_mean"
        return {
            "rmse": both["rmse" + suffix],
            "rmse_log": both["rmse_log" + suffix],
            **both,
            "abs_rel": mean("abs_rel"),
            "sq_rel": mean("sq_rel"),
            "delta1": mean("delta1"),
            "delta2": mean("delta2"),
            "delta3": mean("delta3"),
            "pixels": self.pixels,
            "images": len(images),
        }


def _vectors(x, axis):
    x = np.moveaxis(_numpy(x, np.float64), axis, -1)
    if x.shape[-1] != 3:
        raise ValueError(f"normals need 3 components on axis {axis}, got shape {np.moveaxis(x, -1, axis).shape}")
    return x.reshape(-1, 3)


class NormalsMeter:
    """Angular error in degrees between predicted and true normals: H x W x 3 or N x H x W x 3 arrays (``axis=-1``),
    or N x 3 x H x W tensors as the network gives them (``axis=1``).

    Pixels whose true normal is (near) the zero vector are unlabelled and skipped (``data.read_normals`` decodes
    the release's PNGs that way); neither input needs unit length.
    The data set's median comes from a histogram of ``ANGLE_BIN`` degrees, so memory stays fixed.
    """

    def __init__(self):
        self.histogram = np.zeros(int(round(180 / ANGLE_BIN)) + 1, dtype=np.int64)
        self.sum = 0.0
        self.pixels = 0
        self.within = np.zeros(len(NORMAL_THRESHOLDS), dtype=np.int64)

    def update(self, pred, gt, axis=-1):
        """Adds normals of the same shape, components on ``axis``; returns their own scores (None when no pixel is
        labelled)."""
        p, g = _vectors(pred, axis), _vectors(gt, axis)
        if p.shape != g.shape:
            raise ValueError(f"prediction {tuple(_numpy(pred).shape)} and ground truth "
                             f"{tuple(_numpy(gt).shape)} differ in shape")
        g_len = np.linalg.norm(g, axis=1)
        p_len = np.linalg.norm(p, axis=1)
        valid = (g_len > 0.5) & np.isfinite(p_len) & (p_len > 0)
        if not valid.any():
            return None
        cos = (p[valid] * g[valid]).sum(1) / (p_len[valid] * g_len[valid])
        angles = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        self.histogram += np.bincount(np.rint(angles / ANGLE_BIN).astype(np.int64), minlength=self.histogram.size)
        self.sum += float(angles.sum())
        self.pixels += int(angles.size)
        within = np.array([(angles < t).sum() for t in NORMAL_THRESHOLDS], dtype=np.int64)
        self.within += within
        return self._scores(float(angles.mean()), float(np.median(angles)), within / angles.size, angles.size)

    @staticmethod
    def _scores(mean, median, within, pixels):
        return {"mean_angle": mean, "median_angle": median,
                **{f"within_{t:g}": float(w) for t, w in zip(NORMAL_THRESHOLDS, within)}, "pixels": int(pixels)}

    def compute(self):
        if not self.pixels:
            return self._scores(math.nan, math.nan, [math.nan] * len(NORMAL_THRESHOLDS), 0)
        cumulative = np.cumsum(self.histogram)
        median = float(np.searchsorted(cumulative, self.pixels / 2.0) * ANGLE_BIN)
        return self._scores(self.sum / self.pixels, median, self.within / self.pixels, self.pixels)
