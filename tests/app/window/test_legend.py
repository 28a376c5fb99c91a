"""The class legend: the classes in view, largest first, with their shares; the hovered one in bold."""
import numpy as np

from app.window.legend import Legend, class_shares
from model.presets import get_preset


def test_the_legend_lists_the_classes_in_view_largest_first(qtbot):
    preset = get_preset("nyud")
    labels = np.zeros((100, 100), np.uint8)
    labels[:, 60:] = 3
    labels[0, 0] = 7  # 0.01 %: noise, left out
    legend = Legend()
    qtbot.addWidget(legend)
    legend.update_classes(labels, preset)
    assert legend.class_names == [preset.classes[0], preset.classes[3]]
    assert legend.item(0).text() == f"{preset.classes[0]}  60.0 %"
    legend.highlight(3)
    assert legend.item(1).font().bold() and not legend.item(0).font().bold()
    np.testing.assert_allclose(class_shares(labels, preset.num_classes)[[0, 3, 7]], [0.5999, 0.4, 0.0001])
