"""The desktop program's entry point: ``run(args)`` opens the window and runs until it is closed."""
import os
import signal
import sys
import traceback

from PyQt5.QtCore import QTimer, qInstallMessageHandler
from PyQt5.QtWidgets import QApplication

from app.window.main_window import MainWindow
from model.inference.run_settings import SettingsError

from .remembered import APPLICATION, ORGANISATION
from .theme import apply_dark_palette

QT_NOISE = ("propagateSizeHints", "XDG_RUNTIME_DIR")  # harmless platform-plugin chatter


def quiet_qt_messages(kind, context, message):
    if not any(noise in message for noise in QT_NOISE):
        print(message, file=sys.stderr)


def display_problem():
    """Why no window can open here (a Linux machine without a display), or None. Qt itself would abort."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("no display to open a window on: run it in a desktop session (or under Xvfb), "
            "or process without a window with --no-gui")


def run(args):
    """Opens the window for ``run_demo.py``'s ``args`` and runs until it is closed; Ctrl-C in the terminal
    closes it cleanly too. Returns the exit status."""
    problem = display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    qInstallMessageHandler(quiet_qt_messages)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANISATION)
    apply_dark_palette(app)
    try:
        window = MainWindow(args)
    except SettingsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    def excepthook(kind, error, tb):  # a bug in a slot: said on stderr and in the status bar, not an abort
        traceback.print_exception(kind, error, tb)
        window.report(f"internal error: {error} (details on stderr)", error=True)

    sys.excepthook = excepthook
    signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer(interval=200, timeout=lambda: None)  # lets Python see Ctrl-C while Qt waits for events
    wake.start()
    window.show()
    app.exec_()
    window.shutdown()
    return 0
