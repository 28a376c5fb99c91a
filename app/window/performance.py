"""The Performance panel: a readout of rates, costs and what runs, and two rolling plots (rates; latency)."""
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
        self.history = {name: deque(maxlen=HISTORY) for name in self.curves}  # (sample number, value)
        self.samples = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.readout)
        layout.addWidget(self.rate_plot)
        layout.addWidget(self.latency_plot)
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
        for plot, names in ((self.rate_plot, RATES), (self.latency_plot, LATENCIES)):
            values = [v for name in names for _, v in self.history[name]]
            if values:
                plot.setYRange(0, scale_top(values), padding=0)
