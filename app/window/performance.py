"""The Performance panel: a readout of rates, costs and what runs, two rolling plots (rates; latency), and the
flicker figure (labels changed per frame, depth change where still: ``model.inference.flicker``) with its plot."""
from collections import deque

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QFont
from PyQt5.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from app import theme
from app.panels.readout import rows_html

HISTORY = 240  # samples in the rolling plots
RATES = ("display", "inference")
LATENCIES = ("network", "end to end")
FLICKER_COLOURS = {"labels changed": "#b48ead", "depth change": "#d08770"}  # plotted in % per frame


def scale_top(values):
    """The top of a plot's scale: a little above most values, so that one spike (a stall of the machine) does
    not flatten every other sample."""
    return max(1.0, 1.25 * float(np.percentile(values, 95)))


class PerformancePanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.readout = QLabel("waiting for the first result")
        self.readout.setTextFormat(Qt.RichText)
        self.readout.setWordWrap(True)
        self.readout.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.Monospace)
        font.setPointSize(9)
        self.readout.setFont(font)
        self.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
        policy = QSizePolicy(QSizePolicy.Ignored, QSizePolicy.Minimum)  # wraps rather than widen the dock
        policy.setHeightForWidth(True)
        self.readout.setSizePolicy(policy)
        self.rate_plot = self._plot("frames / s")
        self.latency_plot = self._plot("ms")
        self.curves = {name: (self.rate_plot if name in RATES else self.latency_plot).plot(
            pen=pg.mkPen(colour, width=1.5), name=name, antialias=True)
            for name, colour in theme.PLOT_COLOURS.items()}
        self.flicker_label = QLabel("flicker: waiting for two results")
        self.flicker_label.setFont(font)
        self.flicker_label.setWordWrap(True)
        self.flicker_label.setSizePolicy(policy)
        self.flicker_plot = self._plot("% / frame")
        self.curves.update({name: self.flicker_plot.plot(pen=pg.mkPen(colour, width=1.5), name=name, antialias=True)
                            for name, colour in FLICKER_COLOURS.items()})
        self.history = {name: deque(maxlen=HISTORY) for name in self.curves}  # (sample number, value)
        self.samples = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.readout)
        layout.addWidget(self.rate_plot)
        layout.addWidget(self.latency_plot)
        layout.addWidget(self.flicker_label)
        layout.addWidget(self.flicker_plot)
        layout.addStretch(1)
        self.setMinimumWidth(200)

    @staticmethod
    def _plot(unit):
        plot = pg.PlotWidget(background=theme.VIEW_BACKGROUND)
        plot.setMinimumHeight(56)
        plot.setMaximumHeight(120)
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        plot.getAxis("bottom").setStyle(showValues=False)
        plot.setLabel("left", unit, color=theme.TEXT)
        plot.addLegend(offset=(4, 2), labelTextSize="8pt", brush=(21, 23, 28, 180))
        plot.setLimits(yMin=0)
        plot.disableAutoRange(axis="y")  # add_sample sets the range, leaving rare spikes off the scale
        return plot

    def show_rows(self, rows, details=""):
        """The readout's (label, value) rows; ``details`` (how the backend was chosen) as its tooltip."""
        self.readout.setText(rows_html(rows, theme.MUTED))
        self.readout.setToolTip(details)

    def set_plots_visible(self, visible):
        self.rate_plot.setVisible(visible)
        self.latency_plot.setVisible(visible)
        self.flicker_plot.setVisible(visible)

    def show_flicker(self, flicker, strength):
        """The flicker figure (a ``Flicker`` or None) and whether the results are stabilised (``strength``)."""
        state = f"stabilised {strength:g}" if strength else "not stabilised (I)"
        self.flicker_label.setText(f"flicker: {flicker.describe()}; {state}" if flicker is not None
                                   else f"flicker: waiting for two results; {state}")

    @staticmethod
    def flicker_sample(flicker):
        """``add_sample``'s values of a ``Flicker``: in % per frame."""
        if flicker is None:
            return {}
        values = {"labels changed": 100 * flicker.labels_changed}
        if flicker.depth_change is not None:
            values["depth change"] = 100 * flicker.depth_change
        return values

    def add_sample(self, **values):
        """One point on each named curve (``display``, ``inference``, ``network``, ``end to end``); curves
        left out of a sample have a gap there."""
        self.samples += 1
        for name, value in values.items():
            self.history[name].append((self.samples, value))
        for name, curve in self.curves.items():
            if self.history[name]:
                points = np.asarray(self.history[name], dtype=float)
                curve.setData(points[:, 0], points[:, 1])
        for plot, names in ((self.rate_plot, RATES), (self.latency_plot, LATENCIES),
                            (self.flicker_plot, tuple(FLICKER_COLOURS))):
            values = [v for name in names for _, v in self.history[name]]
            if values:
                plot.setYRange(0, scale_top(values), padding=0)
