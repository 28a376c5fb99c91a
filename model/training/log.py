"""What ``python -m model train`` writes of its history: ``log.csv`` and the curves image ``curves.png``."""
import csv
import io
import math

import cv2
import numpy as np

from model.files import write_atomic


def write_log(history, path):
    fields = list(dict.fromkeys(k for row in history for k in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(history)
    write_atomic(path, text.getvalue().encode())


CURVE_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


def plot_curves(history, width=960, height=360):
    """An RGB image: losses per epoch on the left (one scale from 0, its top printed), validation metrics on the
    right (different units: each curve spans the panel, its range printed in the legend)."""
    keys = list(dict.fromkeys(k for row in history for k in row))
    losses = [k for k in keys if k.endswith("loss") or (k.startswith("train_") and k != "train_loss")]
    metrics = [k for k in keys if k.startswith("val_") and not k.endswith("loss")]
    image = np.full((height, width, 3), 255, np.uint8)
    for index, (title, names) in enumerate((("losses", losses), ("validation", metrics))):
        _panel(image[:, index * width // 2:(index + 1) * width // 2], title, history, names, shared=index == 0)
    return image


def _panel(image, title, history, names, shared):
    h, w = image.shape[:2]
    left, right, top, bottom = 40, 10, 30, 30 + 16 * len(names)
    cv2.putText(image, title, (left, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.rectangle(image, (left, top), (w - right, h - bottom), (160, 160, 160), 1)
    epochs = [row["epoch"] for row in history]
    span = max(1, epochs[-1] - epochs[0])
    finite = [row[n] for row in history for n in names if n in row and math.isfinite(row[n])]
    top_value = max(finite, default=1.0) or 1.0
    if shared:
        cv2.putText(image, f"{top_value:.3g}", (2, top + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1,
                    cv2.LINE_AA)
        cv2.putText(image, "0", (2, h - bottom), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    for i, name in enumerate(names):
        points = [(row["epoch"], row[name]) for row in history if name in row and math.isfinite(row[name])]
        if not points:
            continue
        values = [v for _, v in points]
        low, high = min(values), max(values)
        base, scale = (0.0, top_value) if shared else (low, (high - low) or 1.0)
        xy = np.array([[left + (e - epochs[0]) / span * (w - left - right),
                        h - bottom - (v - base) / scale * (h - top - bottom)] for e, v in points], np.int32)
        colour = CURVE_COLOURS[i % len(CURVE_COLOURS)]
        cv2.polylines(image, [xy], False, colour, 2, cv2.LINE_AA)
        for x, y in xy:
            cv2.circle(image, (int(x), int(y)), 2, colour, -1, cv2.LINE_AA)
        label = f"{name}: {values[-1]:.4g}  (range {low:.4g} .. {high:.4g})"
        cv2.putText(image, label, (left, h - bottom + 14 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1,
                    cv2.LINE_AA)
    cv2.putText(image, f"epoch {epochs[0]} .. {epochs[-1]}", (w - right - 110, top - 8),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
