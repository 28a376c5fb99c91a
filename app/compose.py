"""Composed views of a result (numpy and OpenCV only): side by side, blend, labelled panels."""
import cv2
import numpy as np

PANEL_TITLES = {"frame": "input", "segm_rgb": "segmentation", "depth_rgb": "depth", "normals_rgb": "normals"}


def panels(result):
    """The result's images in display order: input, segmentation, depth, normals (those present)."""
    return [(PANEL_TITLES[name], getattr(result, name)) for name in PANEL_TITLES
            if getattr(result, name) is not None]


def blend(frame, overlay, opacity):
    """``overlay`` over ``frame`` with ``opacity`` in 0..1; both H x W x 3 uint8."""
    return cv2.addWeighted(overlay, float(opacity), frame, 1.0 - float(opacity), 0.0)


def side_by_side(result, titles=True):
    """One H x (k*W) x 3 uint8 RGB image: input | segmentation | depth [| normals]."""
    images = []
    for title, image in panels(result):
        if titles:
            image = image.copy()
            cv2.putText(image, title, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(image, title, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        images.append(image)
    return np.hstack(images)
