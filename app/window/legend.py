"""The class legend: the classes in the frame, largest first, with their colours and shares of the frame.
Clicking a class hides or shows its points in the 3D view; hidden classes are struck through."""
import numpy as np
from PyQt5.QtCore import QSize, Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor, QIcon, QPixmap
from PyQt5.QtWidgets import QListWidget, QListWidgetItem

from app import theme


def swatch(colour, size=14):
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*[int(c) for c in colour]))
    return QIcon(pixmap)


def class_shares(labels, num_classes):
    """Fraction of the frame per class index."""
    counts = np.bincount(labels.ravel(), minlength=num_classes)[:num_classes]
    return counts / max(labels.size, 1)


class Legend(QListWidget):
    MIN_SHARE = 0.001  # classes under 0.1 % of the frame are noise in a legend
    toggled = pyqtSignal(int)  # a class index clicked: hide or show its points in the 3D view

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setIconSize(QSize(14, 14))
        self.setSelectionMode(QListWidget.NoSelection)
        self.setFocusPolicy(Qt.NoFocus)
        self.setMinimumSize(120, 60)
        self.setToolTip("Click a class to hide or show its points in the 3D view")
        self.classes = []  # class indices shown, in order
        self.class_names = []
        self.highlighted = None
        self.hidden = frozenset()
        self.itemClicked.connect(lambda item: self.toggled.emit(item.data(Qt.UserRole)))

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
        self._style()

    def highlight(self, index):
        """Bold the class under the pointer."""
        self.highlighted = index
        self._style()

    def set_hidden(self, hidden):
        """Strike through the classes hidden from the 3D view."""
        self.hidden = frozenset(hidden)
        self._style()

    def _style(self):
        for row in range(self.count()):
            item = self.item(row)
            index = item.data(Qt.UserRole)
            font = item.font()
            font.setBold(index == self.highlighted)
            font.setStrikeOut(index in self.hidden)
            item.setFont(font)
            item.setForeground(QBrush(QColor(theme.DISABLED if index in self.hidden else theme.TEXT)))
