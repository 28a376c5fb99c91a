"""The look: one dark palette, the stylesheet, the colours the views and plots share, and painted icons."""
from PyQt5.QtCore import QPointF, QRectF, Qt
from PyQt5.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap, QPolygonF

BACKGROUND = "#1f2228"
VIEW_BACKGROUND = "#15171c"
PANEL = "#262a31"
TEXT = "#d8dee9"
MUTED = "#9aa3b2"
DISABLED = "#5c6370"
ACCENT = "#5e81ac"
WARNING = "#bf616a"
MEASURE = "#ffd166"  # the measuring marks and line, in 2D and 3D: bright on any class colour
GRID = (120, 128, 140, 90)  # the 3D view's ground grid, RGBA
FRUSTUM = (136, 192, 208, 220)  # the 3D view's camera frustum, RGBA
PLOT_COLOURS = {"display": "#88c0d0", "inference": "#ebcb8b", "network": "#a3be8c", "end to end": "#bf616a"}

STYLE = f"""
QToolBar {{ spacing: 3px; padding: 2px; }}
QToolBar QToolButton {{ padding: 3px 6px; border-radius: 3px; }}
QToolBar QToolButton:checked {{ background: {ACCENT}; color: white; }}
QToolBar QToolButton#record:checked {{ background: {WARNING}; }}
QToolBar QLabel {{ color: {MUTED}; padding-left: 4px; }}
QToolButton#qt_toolbar_ext_button {{ background: {ACCENT}; border-radius: 3px; min-width: 16px; }}
QDockWidget::title {{ padding: 4px 6px; background: {PANEL}; }}
QListWidget {{ border: none; font-size: 10pt; }}
QStatusBar QLabel {{ padding: 0 4px; }}
QStatusBar QLabel#measure {{ color: {MEASURE}; font-weight: bold; }}
QLabel#untrained {{ background: {WARNING}; color: white; font-weight: bold; padding: 1px 8px; border-radius: 3px; }}
"""


def apply_dark_palette(app):
    app.setStyle("Fusion")
    palette = QPalette()
    colours = {QPalette.Window: BACKGROUND, QPalette.WindowText: TEXT, QPalette.Base: VIEW_BACKGROUND,
               QPalette.AlternateBase: PANEL, QPalette.ToolTipBase: "#2e3440", QPalette.ToolTipText: "#eceff4",
               QPalette.Text: TEXT, QPalette.Button: "#2b2f37", QPalette.ButtonText: TEXT,
               QPalette.BrightText: WARNING, QPalette.Highlight: ACCENT, QPalette.HighlightedText: "#ffffff",
               QPalette.Link: "#88c0d0"}
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.Text, QPalette.ButtonText, QPalette.WindowText):
        palette.setColor(QPalette.Disabled, role, QColor(DISABLED))
    app.setPalette(palette)


def painted_icon(kind, size=32, colour=TEXT):
    """Toolbar icons drawn here: the style's own media icons are near-invisible on a dark theme."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(Qt.NoPen)
    p.setBrush(QColor(colour))
    u = size / 16
    if kind == "pause":
        p.drawRoundedRect(QRectF(4 * u, 3 * u, 3 * u, 10 * u), u, u)
        p.drawRoundedRect(QRectF(9 * u, 3 * u, 3 * u, 10 * u), u, u)
    elif kind == "step":
        p.drawPolygon(QPolygonF([QPointF(3 * u, 3 * u), QPointF(10 * u, 8 * u), QPointF(3 * u, 13 * u)]))
        p.drawRoundedRect(QRectF(11 * u, 3 * u, 2.5 * u, 10 * u), u, u)
    elif kind == "record":
        p.setBrush(QColor("#e06c75"))
        p.drawEllipse(QRectF(3 * u, 3 * u, 10 * u, 10 * u))
    elif kind == "snapshot":
        p.drawRoundedRect(QRectF(1.5 * u, 4.5 * u, 13 * u, 9 * u), 1.5 * u, 1.5 * u)
        p.drawRect(QRectF(5.5 * u, 3 * u, 5 * u, 2 * u))
        p.setBrush(QColor(BACKGROUND))
        p.drawEllipse(QRectF(5 * u, 6 * u, 6 * u, 6 * u))
        p.setBrush(QColor(colour))
        p.drawEllipse(QRectF(6.5 * u, 7.5 * u, 3 * u, 3 * u))
    elif kind == "more":  # the toolbar's overflow: »
        for x in (3, 8):
            p.drawPolygon(QPolygonF([QPointF(x * u, 4 * u), QPointF((x + 5) * u, 8 * u), QPointF(x * u, 12 * u),
                                     QPointF((x + 1.5) * u, 8 * u)]))
    else:
        raise ValueError(f"no icon {kind!r}")
    p.end()
    return QIcon(pixmap)
