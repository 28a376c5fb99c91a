"""How much the results flicker: the share of labels that changed since the previous frame, and the depth change
on the pixels that did not move (the frame's brightness there changed by less than ``STILL_LEVELS``). No Qt.

Measured on the maps as the predictor gives them (the network's size in the window, the frame's headless):
what a viewer sees flicker. ``FlickerMeter`` keeps a short history for a steady figure.
"""
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

STILL_LEVELS = 4.0  # grey levels (0..255, averaged over the map's pixel) under which a pixel did not move
HISTORY = 30  # frames in the running figure


@dataclass(frozen=True)
class Flicker:
    labels_changed: float  # share of the labels that changed since the previous frame, 0..1
    depth_change: float | None  # mean relative depth change on the still pixels (None: no depth, none still)

    def describe(self):
        text = f"{self.labels_changed:.1%} labels changed/frame"
        if self.depth_change is not None:
            text += f", depth {self.depth_change:.2%}/frame where still"
        return text


def grey_at(frame, size):
    """The frame's brightness (0..255 float) area-averaged to ``size`` (h, w)."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.resize(grey, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def flicker_between(previous, current):
    """The ``Flicker`` from one result to the next (both of one map size)."""
    changed = float(np.mean(previous.labels != current.labels))
    if current.depth is None or previous.depth is None:
        return Flicker(changed, None)
    size = current.depth.shape
    still = np.abs(grey_at(current.frame, size) - grey_at(previous.frame, size)) < STILL_LEVELS
    valid = still & (previous.depth > 0)
    if not valid.any():
        return Flicker(changed, None)
    relative = np.abs(current.depth[valid] - previous.depth[valid]) / previous.depth[valid]
    return Flicker(changed, float(relative.mean()))


class FlickerMeter:
    """``update(result)`` per frame: the latest ``Flicker`` (None on the first frame, or after a size change or
    a ``reset``); ``figure`` the mean over the last ``HISTORY`` frames."""

    def __init__(self, history=HISTORY):
        self.previous = None
        self.samples = deque(maxlen=history)

    def reset(self):
        self.previous = None
        self.samples.clear()

    def update(self, result):
        previous, self.previous = self.previous, result
        if previous is None or previous.labels.shape != result.labels.shape:
            return None
        flicker = flicker_between(previous, result)
        self.samples.append(flicker)
        return flicker

    @property
    def figure(self):
        """The mean ``Flicker`` of the recent frames, or None before two frames."""
        if not self.samples:
            return None
        depths = [f.depth_change for f in self.samples if f.depth_change is not None]
        return Flicker(float(np.mean([f.labels_changed for f in self.samples])),
                       float(np.mean(depths)) if depths else None)
