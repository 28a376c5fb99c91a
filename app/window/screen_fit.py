"""Fitting the window to the screen: its first size, its smallest, and a remembered geometry and docks brought
back inside the screen it opens on."""
from PyQt5.QtCore import QSize, Qt

PREFERRED = QSize(1480, 880)
SMALLEST = QSize(1024, 640)
DECORATIONS = QSize(16, 40)  # a window manager's frame and title bar, outside the window's own size


def initial_size(available):
    """The window's first size on a screen with ``available`` room: nine tenths of it, at least the preferred
    size where there is room for that, never more than there is."""
    return (available * 0.9).expandedTo(PREFERRED).boundedTo(available - DECORATIONS)


def fit_to_screen(window, remembered, legend_dock, performance_dock):
    """At most the screen's room, at least SMALLEST where the screen has it; docks as ``remembered``."""
    screen = window.screen().availableGeometry()
    window.setMinimumSize(SMALLEST.boundedTo(screen.size()))
    geometry = remembered.raw("window/geometry")
    if geometry is None or not window.restoreGeometry(geometry):
        window.resize(initial_size(screen.size()))
    elif not screen.contains(window.frameGeometry()):
        window.resize(window.size().boundedTo(screen.size() - DECORATIONS))
        window.move(screen.topLeft())
    state = remembered.raw("window/state")
    if state is None or not window.restoreState(state):
        docks = [legend_dock, performance_dock]
        width = min(320, max(240, screen.width() // 5))
        window.resizeDocks(docks, [width, width], Qt.Horizontal)
        legend = min(260, window.height() // 4)
        window.resizeDocks(docks, [legend, window.height() - legend], Qt.Vertical)
