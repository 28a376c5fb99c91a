"""The image panels: laid out as large as the view allows with the image's aspect, maps at the network's size
drawn over the frame's rectangle, the keys under their panels and the warning over the segmentation."""
import pytest
from PyQt5.QtCore import QPointF, QRectF

from app.panels.table import Arrangement
from app.panels.views import GAP, KEY_H, TITLE_H, ImageViews, grid
from tests.app.gui_support import known_result


def test_the_grid_gives_the_largest_panels_with_the_aspect_and_room_for_titles_and_keys():
    wide = grid(4, 4 / 3, 1600, 500, keyed=(2, 3))
    assert len({c.image[1] for c in wide}) == 1  # a wide view: four in a row
    tall = grid(4, 4 / 3, 900, 800, keyed=(2, 3))
    assert len({c.image[1] for c in tall}) == 2  # 2 x 2
    for cells, (width, height) in ((wide, (1600, 500)), (tall, (900, 800))):
        for cell in cells:
            x, y, w, h = cell.image
            assert w / h == pytest.approx(4 / 3)
            assert x >= GAP - 1e-6 and y >= TITLE_H and x + w <= width and y + h + KEY_H <= height
            assert cell.title[1] + TITLE_H == pytest.approx(y) and cell.key[1] == pytest.approx(y + h)
        widths = [c.image[2] for c in cells]
        used = max(max(c.image[0] + c.image[2] for c in cells) - min(c.image[0] for c in cells),
                   max(c.key[1] + c.key[3] for c in cells) - min(c.title[1] for c in cells))
        assert used >= 0.9 * min(width, height) and len(set(widths)) == 1
    assert [c.key[3] for c in tall] == [0, 0, KEY_H, KEY_H]  # the key row only under depth and normals


def test_three_panels_prefer_a_full_row_to_an_empty_cell_when_it_costs_little():
    cells = grid(3, 4 / 3, 1070, 630, keyed=(2,))
    assert len({c.image[1] for c in cells}) == 1
    single = grid(1, 4 / 3, 800, 700)[0]
    assert single.image[2] == pytest.approx(800 - 2 * GAP)  # one panel: as wide as the view


@pytest.fixture
def views(qtbot):
    views = ImageViews()
    qtbot.addWidget(views)
    views.resize(1000, 700)
    views.show()
    return views


def test_maps_at_the_network_size_are_drawn_over_the_frames_rectangle(views, qtbot):
    result = known_result(shape=(96, 128), network_shape=(48, 64))
    views.show_result(result)
    qtbot.wait(20)
    assert views.names == ["input", "segmentation", "depth", "normals"]
    for name in views.names:
        image = views.panels[name].image
        assert image.mapRectToParent(image.boundingRect()) == QRectF(0, 0, 128, 96)
    segmentation = views.panels["segmentation"].view
    corner = segmentation.mapViewToScene(QPointF(127.5, 95.5))
    assert views.pixel_at(corner) == (95, 127)  # in frame pixels, whatever the map's size
    assert views.pixel_at(QPointF(-10, -10)) is None


def test_the_depth_scale_sits_under_the_depth_panel_and_the_normals_key_under_the_normals(views, qtbot):
    views.set_depth_scale(10.0)
    views.show_result(known_result(shape=(480, 640)))
    for size in ((1000, 700), (1400, 500), (700, 900)):
        views.resize(*size)
        qtbot.wait(20)
        for key, name in ((views.depth_scale, "depth"), (views.normals_key, "normals")):
            panel = views.panels[name].view.sceneBoundingRect()
            where = key.sceneBoundingRect()
            assert key.isVisible() and where.top() == pytest.approx(panel.bottom(), abs=1)
            assert where.width() == pytest.approx(panel.width(), abs=1)
            assert where.left() == pytest.approx(panel.left(), abs=1)
    views.set_arrangement(Arrangement("single", "segmentation"))
    assert not views.depth_scale.isVisible() and not views.normals_key.isVisible()


def test_the_warning_stands_over_the_segmentation_panel(views, qtbot):
    views.show_result(known_result())
    views.set_warning("⚠ untrained MobileNet-v2 weights: outputs are meaningless")
    for arrangement, panel in ((Arrangement("side"), "segmentation"), (Arrangement("blend"), "blend"),
                               (Arrangement("single", "depth"), "depth")):
        views.set_arrangement(arrangement)
        qtbot.wait(20)
        box, image = views.banner.sceneBoundingRect(), views.panels[panel].view.sceneBoundingRect()
        assert views.banner.isVisible() and image.contains(box.topLeft()) and box.width() < image.width()
    views.set_warning("")
    assert not views.banner.isVisible()


def test_zoom_is_shared_and_reset(views, qtbot):
    views.show_result(known_result(shape=(96, 128)))
    qtbot.wait(20)
    first = views.panels["input"].view
    first.setRange(QRectF(10, 10, 20, 15), padding=0)
    first.sigRangeChangedManually.emit([True, True])
    assert views.zoomed
    depth = views.panels["depth"].view.viewRect()
    assert depth.left() == pytest.approx(10, abs=1) and depth.width() == pytest.approx(20, abs=2)  # linked
    views.reset_zoom()
    assert not views.zoomed
    whole = views.panels["depth"].view.viewRect()
    assert whole.width() == pytest.approx(128, abs=1) and whole.height() == pytest.approx(96, abs=1)
