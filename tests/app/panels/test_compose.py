"""Composed views: the panels side by side, and the annotation that makes a recording readable on its own."""
from types import SimpleNamespace

import numpy as np
import pytest

from app.panels.compose import (
    annotation_height,
    class_legend,
    classes_in_view,
    depth_colour_bar,
    depth_ticks,
    side_by_side,
)
from model.presets import get_preset
from model.processing import depth_lut

H, W = 120, 160
NYUD = get_preset("nyud")


def fake_result(labels, normals=False):
    """What ``side_by_side`` reads of a ``model.inference.engine.Result``: the images, the labels and the preset."""
    colour = NYUD.colours[labels]
    return SimpleNamespace(frame=np.full((H, W, 3), 90, np.uint8), segm_rgb=colour,
                           depth_rgb=np.full((H, W, 3), 30, np.uint8),
                           normals_rgb=np.full((H, W, 3), 128, np.uint8) if normals else None,
                           labels=labels, preset=NYUD)


@pytest.fixture
def labels():
    """Wall over 60 % of the frame (less 19 pixels of lamp: 0.1 %), floor 31.75 %, bed 8.25 %."""
    labels = np.zeros((H, W), np.uint8)
    labels[72:] = NYUD.classes.index("floor")
    labels[108:, :132] = NYUD.classes.index("bed")
    labels[0, :19] = NYUD.classes.index("lamp")
    return labels


def colour_present(image, colour):
    return bool((image.reshape(-1, 3) == np.asarray(colour, np.uint8)).all(1).any())


def test_panels_side_by_side_without_annotation(labels):
    result = fake_result(labels, normals=True)
    assert side_by_side(result).shape == (H, 4 * W, 3)
    assert side_by_side(fake_result(labels)).shape == (H, 3 * W, 3)
    untitled = side_by_side(result, titles=False)
    assert np.array_equal(untitled[:, W:2 * W], result.segm_rgb)


def test_the_annotation_is_a_strip_under_the_panels(labels):
    result = fake_result(labels)
    view = side_by_side(result, annotate=True)
    assert view.shape == (H + annotation_height(W), 3 * W, 3)
    assert np.array_equal(view[:H], side_by_side(result))
    strip = view[H:]
    assert (strip[:, :W] == strip[0, 0]).all()  # nothing under the input
    assert colour_present(strip[:, W:2 * W], NYUD.colours[NYUD.classes.index("bed")])
    assert colour_present(strip[:, 2 * W:], depth_lut()[255])


def test_the_legend_lists_the_classes_in_view_largest_first(labels):
    in_view = classes_in_view(labels, NYUD.num_classes)
    assert [NYUD.classes[i] for i, _ in in_view] == ["wall", "floor", "bed"]  # lamp: 0.1 %, under 0.5 %
    assert [share for _, share in in_view] == pytest.approx([(72 * W - 19) / (H * W), 0.3175, 0.0825])
    legend = class_legend(in_view, NYUD, 640, annotation_height(640))
    for name in ("wall", "floor", "bed"):
        assert colour_present(legend, NYUD.colours[NYUD.classes.index(name)])
    assert not colour_present(legend, NYUD.colours[NYUD.classes.index("lamp")])


def test_a_legend_too_long_for_its_strip_counts_the_rest():
    everything = [(i, 1 / 40) for i in range(40)]
    legend = class_legend(everything, NYUD, 320, annotation_height(320))
    shown = [i for i in range(40) if colour_present(legend, NYUD.colours[i])]
    assert 3 <= len(shown) < 40 and shown == list(range(len(shown)))  # the first ones, in order


def test_the_depth_bar_runs_through_the_depth_colours_left_to_right():
    bar = depth_colour_bar(640, annotation_height(640), 8.0)
    lut = depth_lut()
    index_of = {tuple(colour): i for i, colour in enumerate(lut)}
    rows = [row[12:-12] for row in bar if all(tuple(px) in index_of for px in row[12:-12])]
    assert rows, "no row of the strip is in the depth colours"
    index = [index_of[tuple(px)] for px in rows[len(rows) // 2]]
    assert index[0] < 5 and index[-1] > 250 and all(a <= b for a, b in zip(index, index[1:]))


@pytest.mark.parametrize("max_depth, ticks", [(8, [0, 2, 4, 6, 8]), (80, [0, 20, 40, 60, 80]), (10, [0, 5, 10]),
                                              (3, [0, 1, 2, 3])])
def test_depth_ticks_are_round_numbers_from_zero_to_the_top(max_depth, ticks):
    assert depth_ticks(max_depth) == ticks
