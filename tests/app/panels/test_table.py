"""What each layout shows, the composed view at full resolution, and the normals key."""
import numpy as np
import torch

from app.panels.compose import blend, composed_view, panel_image, side_by_side
from app.panels.table import Arrangement, normals_key, visible_panels
from model.processing import colour_normals
from tests.app.gui_support import known_result, low_resolution_result


def test_layouts_show_the_panels_the_model_has():
    result = known_result()
    assert visible_panels(result, Arrangement("side")) == ["input", "segmentation", "depth", "normals"]
    assert visible_panels(result, Arrangement("blend")) == ["blend"]
    assert visible_panels(result, Arrangement("single", "depth")) == ["depth"]
    two_heads = known_result()
    two_heads.normals_rgb = None
    assert visible_panels(two_heads, Arrangement("side")) == ["input", "segmentation", "depth"]
    assert visible_panels(two_heads, Arrangement("single", "normals")) == ["input"]


def test_the_blend_is_drawn_at_the_frames_size_from_a_map_at_the_networks():
    result = low_resolution_result(shape=(96, 128), network_shape=(48, 64))
    image = panel_image(result, "blend", 0.4)
    assert image.shape == (96, 128, 3)
    np.testing.assert_array_equal(image, blend(result.frame, result.at_full_size().segm_rgb, 0.4))


def test_the_composed_view_holds_the_full_resolution():
    result = low_resolution_result()
    full = result.at_full_size()
    np.testing.assert_array_equal(composed_view(result, Arrangement("side")), side_by_side(full))
    np.testing.assert_array_equal(composed_view(result, Arrangement("single", "depth")), full.depth_rgb)


def test_the_normals_key_is_a_sphere_in_the_panels_own_colours():
    key = normals_key(65)
    assert key.shape == (65, 65, 4) and key[0, 0, 3] == 0 and key[32, 32, 3] == 255
    facing = colour_normals(torch.tensor([0.0, 0.0, -1.0]).view(1, 3, 1, 1))[0, 0, 0].numpy()
    np.testing.assert_array_equal(key[32, 32, :3], facing)  # the centre faces the camera
    right = colour_normals(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))[0, 0, 0].numpy()
    assert np.abs(key[32, 64, :3].astype(int) - right).max() <= 40  # the right rim faces right
