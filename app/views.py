"""The widgets that draw results (pyqtgraph and numpy only, no torch): the image panels, the class legend,
the depth colour bar and the performance readout with its rolling plots."""
from collections import deque

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QSize, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QColor, QFont, QIcon, QPixmap
from PyQt5.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from .compose import blend

PANELS = ("input", "segmentation", "depth", "normals", "blend")
SINGLE_CHOICES = ("input", "segmentation", "depth", "normals")
LAYOUTS = ("side", "blend", "single")
RESULT_FIELDS = {"input": "frame", "segmentation": "segm_rgb", "depth": "depth_rgb", "normals": "normals_rgb"}
TITLE_COLOUR = "#d8dee9"
HISTORY = 240  # samples in the rolling plots


def panel_image(result, name, opacity=0.5):
    """The RGB image panel ``name`` shows for ``result``, or None when the model lacks that output."""
    if name == "blend":
        return blend(result.frame, result.segm_rgb, opacity)
    return getattr(result, RESULT_FIELDS[name])


def visible_panels(result, layout, single):
    """The panel names a layout shows, in order, for a model with or without depth and normals."""
    if layout == "blend":
        return ["blend"]
    present = [n for n in SINGLE_CHOICES if result is None or panel_image(result, n) is not None]
    if layout == "single":
        return [single if single in present else present[0]]
    return present


class ImagePanel:
    """One titled image in a ViewBox, with a cross marking the hovered pixel."""

    def __init__(self, name):
        self.name = name
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.marker_shadow = pg.ScatterPlotItem(symbol="+", size=19, pen=pg.mkPen("k", width=4), brush=None)
        self.marker = pg.ScatterPlotItem(symbol="+", size=17, pen=pg.mkPen("w", width=2), brush=None)
        for item in (self.marker_shadow, self.marker):
            item.setZValue(10)
            self.view.addItem(item)
        self.shape = None

    def show(self, rgb):
        self.image.setImage(rgb, autoLevels=False, levels=(0, 255))
        changed = rgb.shape[:2] != self.shape
        self.shape = rgb.shape[:2]
        return changed

    def mark(self, pixel):
        points = [] if pixel is None else [{"pos": (pixel[1] + 0.5, pixel[0] + 0.5)}]
        self.marker_shadow.setData(points)
        self.marker.setData(points)


class ImageViews(pg.GraphicsLayoutWidget):
    """Side by side, blend or one large panel; a depth colour bar beside any depth panel. Emits the hovered
    pixel as (row, col), or None when the pointer is over no image."""

    hovered = pyqtSignal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("#15171c")
        self.panels = {name: ImagePanel(name) for name in PANELS}
        self.colour_bar = pg.ColorBarItem(values=(0, 10), width=12, interactive=False, orientation="horizontal",
                                          colorMap=pg.colormap.get("plasma"), colorMapMenu=False)
        axis = self.colour_bar.getAxis("bottom")
        axis.setTextPen(TITLE_COLOUR)
        axis.setLabel("depth (m)", color=TITLE_COLOUR)
        axis.setStyle(hideOverlappingLabels=False)
        self.colour_bar.setMaximumHeight(56)
        # Small minimum and preferred widths: the bar must follow its column's width, never set it.
        self.colour_bar.setMinimumWidth(60)
        self.colour_bar.setPreferredWidth(60)
        self.layout_mode, self.single = "side", "segmentation"
        self.names = []
        self.opacity = 0.5
        self.result = None
        self.pixel = None
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.zoomed = False  # by hand: then resizes keep the user's zoom
        for panel in self.panels.values():
            panel.view.sigRangeChangedManually.connect(self._zoomed_by_hand)
        for panel in self.panels.values():
            panel.view.sigResized.connect(self._fit_heights)
        depth_view = self.panels["depth"].view
        depth_view.sigResized.connect(self._fit_colour_bar)
        depth_view.sigRangeChanged.connect(self._fit_colour_bar)
        self.arrange(None)

    def set_depth_scale(self, lut, max_depth):
        """The colour bar: the preset's fixed range in metres, drawn with the network's own depth LUT."""
        self.colour_bar.setColorMap(pg.ColorMap(np.linspace(0, 1, len(lut)), lut))
        self.colour_bar.setLevels((0.0, float(max_depth)))
        step = next(s for s in (0.5, 1, 2, 5, 10, 20, 50, 100) if max_depth / s <= 10)
        ticks = np.arange(0.0, max_depth + 1e-6, step)
        self.colour_bar.getAxis("bottom").setTicks([[(float(t), f"{t:g}") for t in ticks], []])

    def set_layout(self, layout, single=None):
        self.layout_mode = layout
        self.single = single or self.single
        self.arrange(self.result)
        if self.result is not None:
            self.show_result(self.result)

    def set_opacity(self, opacity):
        self.opacity = opacity
        if self.result is not None and "blend" in self.names:
            self.panels["blend"].show(panel_image(self.result, "blend", opacity))

    def arrange(self, result):
        names = visible_panels(result, self.layout_mode, self.single)
        if names == self.names:
            return
        self.ci.clear()
        first = self.panels[names[0]].view
        columns = 2 if len(names) == 4 else len(names)  # four panels in a 2 x 2 grid: each twice as large
        for col in range(columns):
            self.ci.layout.setColumnStretchFactor(col, 1)
        for i, name in enumerate(names):
            panel = self.panels[name]
            row, col = 3 * (i // columns), i % columns
            title = "segmentation over input" if name == "blend" else name
            self.ci.addLabel(title, row=row, col=col, color=TITLE_COLOUR, size="11pt")
            self.ci.addItem(panel.view, row=row + 1, col=col)
            if name == "depth":
                self.ci.addItem(self.colour_bar, row=row + 2, col=col)
                self.ci.layout.setAlignment(self.colour_bar, Qt.AlignHCenter | Qt.AlignTop)
        for panel in self.panels.values():  # zoom and pan together
            link = first if panel.view is not first and panel.name in names else None
            panel.view.setXLink(link)
            panel.view.setYLink(link)
        self.names = names
        self.reset_zoom()
        QTimer.singleShot(0, self._fit_colour_bar)  # once the layout has placed the panels

    def _zoomed_by_hand(self, *_):
        self.zoomed = True

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if hasattr(self, "zoomed") and not self.zoomed:  # (Qt resizes it once inside __init__ already)
            QTimer.singleShot(0, self.reset_zoom)  # once the layout has placed the panels

    def reset_zoom(self):
        """Back to the whole image, centred, following resizes (zooming or panning by hand stops that)."""
        self.zoomed = False
        for name in self.names:
            view = self.panels[name].view
            view.autoRange(padding=0)  # now, not at the next paint
            view.enableAutoRange()

    def show_result(self, result):
        self.result = result
        self.arrange(result)
        resized = False
        for name in self.names:
            resized |= self.panels[name].show(panel_image(result, name, self.opacity))
        if resized:
            self._fit_heights()
            self.reset_zoom()
            self._fit_colour_bar()

    def _fit_heights(self, *_):
        """Each image panel no taller than its image at the column's width, so that the titles sit against the
        images instead of at the top of a tall, mostly empty row."""
        for name in self.names:
            panel = self.panels[name]
            if panel.shape is not None:
                h, w = panel.shape
                panel.view.setMaximumHeight(max(60.0, panel.view.width() * h / w))

    def _fit_colour_bar(self, *_):
        """The depth scale as wide as the depth image on screen."""
        panel = self.panels["depth"]
        if panel.shape is None:
            return
        size = panel.view.boundingRect()
        h, w = panel.shape
        self.colour_bar.setMaximumWidth(max(120.0, min(size.width(), size.height() * w / h)))

    def shown_image(self, name):
        """What panel ``name`` shows now (None when hidden); for tests and snapshots."""
        if name not in self.names:
            return None
        return self.panels[name].image.image

    def mark(self, pixel):
        self.pixel = pixel
        for name in self.names:
            self.panels[name].mark(pixel)

    def pixel_at(self, scene_pos):
        """(row, col) of the image pixel under a scene position, or None."""
        for name in self.names:
            panel = self.panels[name]
            if panel.shape is None or not panel.view.sceneBoundingRect().contains(scene_pos):
                continue
            point = panel.view.mapSceneToView(scene_pos)
            row, col = int(np.floor(point.y())), int(np.floor(point.x()))
            if 0 <= row < panel.shape[0] and 0 <= col < panel.shape[1]:
                return row, col
        return None

    def _mouse_moved(self, scene_pos):
        self.hovered.emit(self.pixel_at(scene_pos))

    def leaveEvent(self, event):
        self.hovered.emit(None)
        super().leaveEvent(event)


def swatch(colour, size=14):
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*[int(c) for c in colour]))
    return QIcon(pixmap)


def class_shares(labels, num_classes):
    """Fraction of the frame per class index."""
    counts = np.bincount(labels.ravel(), minlength=num_classes)[:num_classes]
    return counts / max(labels.size, 1)


class Legend(QListWidget):
    """The classes present in the frame, largest first, with their colours and shares of the frame."""

    MIN_SHARE = 0.001  # classes under 0.1 % of the frame are noise in a legend

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setIconSize(QSize(14, 14))
        self.setSelectionMode(QListWidget.NoSelection)
        self.setFocusPolicy(Qt.NoFocus)
        self.classes = []  # class indices shown, in order
        self.class_names = []
        self.highlighted = None

    def update_classes(self, labels, preset):
        shares = class_shares(labels, preset.num_classes)
        order = [int(i) for i in np.argsort(-shares, kind="stable") if shares[i] >= self.MIN_SHARE]
        if order != self.classes:
            self.clear()
            for index in order:
                item = QListWidgetItem(swatch(preset.colours[index]), "")
                item.setData(Qt.UserRole, index)
                self.addItem(item)
            self.classes = order
            self.class_names = [preset.classes[i] for i in order]
        for row, index in enumerate(order):
            self.item(row).setText(f"{preset.classes[index]}  {100 * shares[index]:.1f} %")
        self.highlight(self.highlighted)

    def highlight(self, index):
        """Bold the class under the pointer."""
        self.highlighted = index
        for row in range(self.count()):
            item = self.item(row)
            font = item.font()
            font.setBold(item.data(Qt.UserRole) == index)
            item.setFont(font)



class PerformancePanel(QWidget):
    """A text readout and two small rolling plots (frame rates; latency), which can be hidden."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.readout = QLabel("waiting for frames")
        self.readout.setTextFormat(Qt.RichText)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.Monospace)
        font.setPointSize(9)
        self.readout.setFont(font)
        self.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.fps_plot = self._plot("frames / s")
        self.latency_plot = self._plot("ms")
        colours = {"display": "#88c0d0", "inference": "#ebcb8b", "network": "#a3be8c", "end to end": "#bf616a"}
        self.curves = {name: (self.fps_plot if name in ("display", "inference") else self.latency_plot).plot(
            pen=pg.mkPen(colour, width=1.5), name=name, antialias=True) for name, colour in colours.items()}
        self.history = {name: deque(maxlen=HISTORY) for name in self.curves}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.readout)
        layout.addWidget(self.fps_plot)
        layout.addWidget(self.latency_plot)

    @staticmethod
    def _plot(unit):
        plot = pg.PlotWidget(background="#15171c")
        plot.setMinimumHeight(90)
        plot.setMaximumHeight(130)
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        plot.getAxis("bottom").setStyle(showValues=False)
        plot.setLabel("left", unit, color=TITLE_COLOUR)
        plot.addLegend(offset=(4, 2), labelTextSize="8pt", brush=(21, 23, 28, 180))
        plot.setLimits(yMin=0)
        plot.enableAutoRange(axis="y")
        return plot

    def set_plots_visible(self, visible):
        self.fps_plot.setVisible(visible)
        self.latency_plot.setVisible(visible)

    def add_sample(self, **values):
        for name, value in values.items():
            self.history[name].append(value)
        for name, curve in self.curves.items():
            if self.history[name]:
                curve.setData(np.asarray(self.history[name], dtype=float))
