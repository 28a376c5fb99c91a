"""What the view shows until the first result: what is being prepared, how far it is, and why it takes time."""
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from app import theme

FIRST_RUN = ("The first frame prepares the network for this machine: it exports it, measures each backend and "
             "precision here, calibrates int8 and checks it against fp32, then warms up. Later starts reuse the "
             "exports and the calibration. The window stays usable meanwhile; F1 lists every key.")
WIDTH = 560


class StartupPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAttribute(Qt.WA_StyledBackground, True)
        self.setStyleSheet(f"StartupPanel {{ background: {theme.VIEW_BACKGROUND}; }}")
        self.heading = QLabel("Starting…")
        self.heading.setStyleSheet(f"QLabel {{ color: {theme.TEXT}; font-size: 15pt; }}")
        self.step = QLabel("")
        self.step.setStyleSheet(f"QLabel {{ color: {theme.TEXT}; font-size: 11pt; }}")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(10)
        self.bar.setStyleSheet(f"QProgressBar {{ background: {theme.PANEL}; border: none; border-radius: 4px; }}"
                               f"QProgressBar::chunk {{ background: {theme.ACCENT}; border-radius: 4px; }}")
        self.bar.hide()
        self.note = QLabel(FIRST_RUN)
        self.note.setStyleSheet(f"QLabel {{ color: {theme.MUTED}; }}")
        column = QWidget()  # a centred column of fixed width: the labels wrap inside it
        column.setFixedWidth(WIDTH)
        inner = QVBoxLayout(column)
        inner.setSpacing(12)
        for widget in (self.heading, self.step, self.bar, self.note):
            if isinstance(widget, QLabel):
                widget.setAlignment(Qt.AlignCenter)
                widget.setWordWrap(True)
            inner.addWidget(widget)
        row = QHBoxLayout()  # stretches, not an alignment: an aligned item would lose its height for width
        row.addStretch(1)
        row.addWidget(column)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(1)

    def set_heading(self, text):
        self.heading.setText(text)

    def set_progress(self, fraction, message):
        """``fraction`` 0..1, negative while unknown; an empty ``message`` hides the bar."""
        self.step.setText(message)
        self.bar.setVisible(bool(message))
        if fraction < 0:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(1000 * min(1.0, fraction)))
