"""Composed views of a result (numpy and OpenCV only, no Qt): each panel's image, side by side, blend, labelled
panels, the view that recordings and snapshots hold, and the annotation that makes a recorded view readable on its
own: a depth colour bar in metres under the depth panel and a legend of the classes in view under the segmentation
panel."""
import math

import cv2
import numpy as np

from model.processing import depth_lut

from .table import PANEL_TABLE, SINGLE_CHOICES, shows_3d_alone, visible_panels

MIN_SHARE = 0.005  # classes covering less of the frame than this are left out of the legend
STRIP_ROWS = 3  # text rows in the annotation strip: caption, bar, ticks; or up to three rows of legend
STRIP_BACKGROUND = (24, 24, 24)
STRIP_TEXT = (235, 235, 235)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def panels(result):
    """(name, image) of the result's panels in display order: input, segmentation, depth, normals (those
    present)."""
    return [(name, image) for name in SINGLE_CHOICES
            if (image := getattr(result, PANEL_TABLE[name].field)) is not None]


def blend(frame, overlay, opacity):
    """``overlay`` over ``frame`` with ``opacity`` in 0..1; both H x W x 3 uint8."""
    return cv2.addWeighted(overlay, float(opacity), frame, 1.0 - float(opacity), 0.0)


def panel_image(result, name, opacity=0.5):
    """The RGB image panel ``name`` shows for ``result``, or None when the model lacks that output. Maps may
    have the network's size; the blend is drawn at the frame's, the segmentation scaled up to it."""
    if name != "blend":
        return getattr(result, PANEL_TABLE[name].field)
    overlay = result.segm_rgb
    h, w = result.frame.shape[:2]
    if overlay.shape[:2] != (h, w):
        overlay = cv2.resize(overlay, (w, h), interpolation=cv2.INTER_NEAREST)
    return blend(result.frame, overlay, opacity)


def composed_view(result, arrangement):
    """The view as one RGB image at the frame's resolution: what recordings and snapshots hold (for the 3D view
    alone, the side-by-side panels: the point cloud goes to PLY files)."""
    if not result.at_frame_size:
        result = result.at_full_size()
    if arrangement.layout == "side" or shows_3d_alone(result, arrangement):
        return side_by_side(result)
    return panel_image(result, visible_panels(result, arrangement)[0], arrangement.opacity)


def side_by_side(result, titles=True, annotate=False):
    """One RGB uint8 image: input | segmentation | depth [| normals], each panel H x W. With ``annotate``, a strip
    of ``annotation_height(W)`` rows below: the classes in view under the segmentation, the depth colour bar in
    metres under the depth."""
    images = []
    for name, image in panels(result):
        if titles:
            title = PANEL_TABLE[name].caption
            image = image.copy()
            cv2.putText(image, title, (8, 22), FONT, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(image, title, (8, 22), FONT, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        images.append(image)
    view = np.hstack(images)
    return np.vstack([view, annotation(result, images[0].shape[1])]) if annotate else view


def annotation(result, panel_width):
    """The strip under the panels of ``side_by_side``: one part per panel, ``panel_width`` wide each."""
    height = annotation_height(panel_width)
    parts = []
    for name, _ in panels(result):
        if name == "segmentation":
            parts.append(class_legend(classes_in_view(result.labels, len(result.preset.classes)), result.preset,
                                      panel_width, height))
        elif name == "depth":
            parts.append(depth_colour_bar(panel_width, height, result.preset.max_depth))
        else:
            parts.append(_strip(panel_width, height))
    return np.hstack(parts)


def _row_height(panel_width):
    """Pixels per text row: 22 at a 640-pixel panel, in proportion elsewhere, 10 at least."""
    return max(10, round(22 * panel_width / 640))


def annotation_height(panel_width):
    """Rows of the annotation strip under panels ``panel_width`` wide; even, so that an annotated view of an
    even height stays even (video encoders want it)."""
    row = _row_height(panel_width)
    height = STRIP_ROWS * row + row // 2
    return height + height % 2


def _strip(width, height):
    return np.full((height, width, 3), STRIP_BACKGROUND, np.uint8)


def _text(image, text, x, baseline, row, colour=STRIP_TEXT):
    cv2.putText(image, text, (int(x), int(baseline)), FONT, row / 44, colour, 1, cv2.LINE_AA)


def _text_width(text, row):
    return cv2.getTextSize(text, FONT, row / 44, 1)[0][0]


def depth_ticks(max_depth, intervals=4):
    """Tick values from 0 to ``max_depth`` metres at a round step (1, 2 or 5 times a power of ten) giving at most
    ``intervals`` intervals, e.g. 0 2 4 6 8 for 8 m, 0 20 40 60 80 for 80 m."""
    magnitude = 10 ** math.floor(math.log10(max_depth / intervals))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude * intervals >= max_depth - 1e-9)
    return [i * step for i in range(int(max_depth / step + 1e-9) + 1)]


def depth_colour_bar(width, height, max_depth):
    """A strip ``width`` x ``height``: a caption, the depth colours of ``model.processing.depth_lut`` from 0 to
    ``max_depth`` metres (the fixed range the depth panel is coloured on) left to right, and labelled ticks."""
    image = _strip(width, height)
    row = _row_height(width)
    margin = row // 2
    x0, x1 = margin, width - margin
    top = row + margin // 2
    if x1 - x0 < 2:
        return image
    index = np.rint(np.linspace(0, 255, x1 - x0)).astype(int)
    image[top:top + row - 2, x0:x1] = depth_lut()[index][None]
    _text(image, f"depth, metres (0 to {max_depth:g} m)", x0, row - 4, row)
    for value in depth_ticks(max_depth):
        x = x0 + round(value / max_depth * (x1 - x0 - 1))
        image[top + row - 2:top + row + 1, x] = STRIP_TEXT
        label = f"{value:g}"
        w = _text_width(label, row)
        _text(image, label, min(max(x - w // 2, 0), width - w), top + 2 * row - 2, row)
    return image


def classes_in_view(labels, num_classes, min_share=MIN_SHARE):
    """``[(class index, share of the pixels), ...]`` of the classes covering more than ``min_share`` of the
    label map, largest share first."""
    counts = np.bincount(np.asarray(labels).ravel().astype(np.int64), minlength=num_classes)[:num_classes]
    shares = counts / max(1, counts.sum())
    order = np.argsort(-shares, kind="stable")
    return [(int(i), float(shares[i])) for i in order if shares[i] > min_share]


def class_legend(classes, preset, width, height):
    """A strip ``width`` x ``height``: a colour swatch and the name of each of ``classes`` (``classes_in_view``)
    in the preset's colours, in rows; those that do not fit are counted as "+N more"."""
    image = _strip(width, height)
    row = _row_height(width)
    margin, swatch = row // 2, max(4, row * 2 // 3)
    entries = [(preset.colours[i], preset.classes[i]) for i, _ in classes]
    widths = [swatch + margin // 2 + _text_width(name, row) + margin for _, name in entries]
    available = width - 2 * margin
    placed = _flow(widths, available, height // row)

    def end_of(count):  # where the row of the first ``count`` entries ends
        return placed[count - 1][0] + widths[count - 1] if count else 0

    def more(count):
        return f"+{len(entries) - count} more"

    def overflows(count):
        return count < len(entries) and end_of(count) + _text_width(more(count), row) > available

    while placed and overflows(len(placed)):
        placed.pop()  # room for the count of the rest
    for (colour, name), (x, line) in zip(entries, placed):
        x, y = margin + x, margin // 2 + line * row
        cv2.rectangle(image, (x, y + (row - swatch) // 2), (x + swatch - 1, y + (row + swatch) // 2 - 1),
                      tuple(int(c) for c in colour), -1)
        _text(image, name, x + swatch + margin // 2, y + row - row // 4, row)
    if len(placed) < len(entries):
        line = placed[-1][1] if placed else 0
        _text(image, more(len(placed)), margin + end_of(len(placed)), margin // 2 + line * row + row - row // 4, row)
    return image


def _flow(widths, available, rows):
    """Positions ``(x, row)`` of items of ``widths`` laid out left to right in up to ``rows`` rows of
    ``available`` pixels; as many items as fit, in order."""
    placed, x, line = [], 0, 0
    for w in widths:
        if x and x + w > available:
            x, line = 0, line + 1
        if line >= rows or w > available:
            break
        placed.append((x, line))
        x += w
    return placed
