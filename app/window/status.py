"""The status bar: one-line messages on the left; on the right the progress of a change, the measured distance,
the hovered pixel, the untrained-weights label and what runs (its tooltip: how that was chosen)."""
import sys

from PyQt5.QtWidgets import QLabel, QProgressBar

from app.panels.readout import backend_details

WIDEST_HOVER = "x 9999, y 9999:  other furniture  ·  99.99 m  ·  (+99.99, +99.99, 99.99) m"  # sets its width


class StatusLine:
    def __init__(self, bar):
        self.bar = bar
        self.busy = QLabel("")
        self.busy.setMaximumWidth(260)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(90)
        self.progress.setTextVisible(False)
        self.measure = QLabel("")
        self.measure.setObjectName("measure")
        self.hover = QLabel("")
        self.hover.setFixedWidth(self.hover.fontMetrics().horizontalAdvance(WIDEST_HOVER) + 12)
        self.untrained = QLabel("untrained weights")
        self.untrained.setObjectName("untrained")
        self.device = QLabel("")
        self.device.setMinimumWidth(120)  # below its text's width: it never widens the window
        self.device.setMaximumWidth(420)
        for widget in (self.busy, self.progress, self.measure, self.hover, self.untrained, self.device):
            bar.addPermanentWidget(widget)
        for widget in (self.busy, self.progress, self.measure, self.hover, self.untrained):
            widget.hide()

    def report(self, message, error=False):
        """One line; errors stay until the next message and also go to stderr."""
        if error:
            print(f"error: {message}", file=sys.stderr)
        self.bar.showMessage(("⚠ " if error else "") + message, 0 if error else 8000)

    def show_hover(self, text):
        """The hovered pixel's readout; hidden while nothing is hovered, so that messages have the room."""
        self.hover.setText(text)
        self.hover.setVisible(bool(text))

    def show_measure(self, metres, text):
        """The measured distance, short ('↔ 1.23 m'), ``text`` saying between what in its tooltip; hidden when
        ``text`` is ''."""
        self.measure.setText(f"↔ {metres:.2f} m" if metres is not None else "↔ no depth")
        self.measure.setToolTip(text)
        self.measure.setVisible(bool(text))

    def show_progress(self, fraction, message):
        """``fraction`` 0..1, negative while unknown; an empty ``message`` hides it."""
        self.busy.setText(message)
        for widget in (self.busy, self.progress):
            widget.setVisible(bool(message))
        self.progress.setRange(0, 0 if fraction < 0 else 1000)
        self.progress.setValue(round(1000 * max(0.0, min(1.0, fraction))))

    def show_running(self, running):
        self.untrained.setVisible(bool(running.warning))
        self.untrained.setToolTip(running.warning or "")
        self.device.setText(f"  {running.applied.description if running.chosen else 'preparing the network…'}  ")
        self.device.setToolTip(backend_details(running.applied))
