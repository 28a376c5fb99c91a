"""Fixtures of the GUI tests: an X display for OpenGL, a weights folder and cache of their own, remembered
settings in a file, windows."""
import ctypes
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from PyQt5.QtCore import QCoreApplication, QSettings, Qt

from tests.app.gui_support import FAST, demo_args
from tests.conftest import REFERENCE_CKPT

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_this_process():
    """In the child before it runs: SIGTERM when this process ends (Linux), however it ends. An X server killed
    earlier, while Qt still holds its connection, would make Xlib exit this process with an error."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_for_x_server(number, timeout=20.0):
    """Whether X display ``number`` accepts connections within ``timeout`` seconds (Xvfb names its display
    before its socket is there)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as connection:
            try:
                connection.connect(f"/tmp/.X11-unix/X{number}")
                return True
            except OSError:
                time.sleep(0.05)
    return False


def start_x_server():
    """Xvfb on a free display, living as long as this process; its display (':1'), or None without Xvfb."""
    if shutil.which("Xvfb") is None or not sys.platform.startswith("linux"):
        return None
    read, write = os.pipe()
    subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1920x1200x24", "-nolisten", "tcp"],
                     pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     preexec_fn=die_with_this_process)
    os.close(write)
    number = read_display_number(read)
    os.close(read)
    return f":{number}" if number.isdigit() and wait_for_x_server(number) else None


def read_display_number(read, timeout=20.0):
    """The display number Xvfb writes to ``-displayfd``, read up to its newline. Xvfb writes the number and the
    newline in two writes and dies ('Cannot write display number') if the pipe is closed between them."""
    text, deadline = b"", time.monotonic() + timeout
    while not text.endswith(b"\n"):
        ready, _, _ = select.select([read], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(read, 32) if ready else b""
        if not chunk:  # timed out, or Xvfb ended without a display
            break
        text += chunk
    return text.decode().strip()


def pytest_configure(config):
    """An X display for OpenGL (the 3D view) while windows stay on Qt's offscreen platform: the one set, else
    Xvfb's, else none (the OpenGL tests then skip, saying why). Set before any QApplication: the offscreen
    platform opens its X connection for OpenGL at the first context and keeps it. Every window's OpenGL view
    shares one context's resources: pyqtgraph compiles its shaders once, in the first context."""
    if not os.environ.get("DISPLAY"):
        display = start_x_server()
        if display:
            os.environ["DISPLAY"] = display
    QCoreApplication.setAttribute(Qt.AA_ShareOpenGLContexts)


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_call(item):
    """Qt events a test left queued (a source that failed to open, say) handled while its output is still
    captured: pytest-qt handles them when it closes the test's windows, where what they print is not captured."""
    yield
    if QCoreApplication.instance() is not None:
        QCoreApplication.processEvents()


@pytest.fixture
def opengl(qapp):
    """Skips the test, saying why, where no OpenGL context can be made."""
    from app.cloud3d.view import gl_problem

    problem = gl_problem()
    if problem:
        pytest.skip(f"no OpenGL here: {problem}")


@pytest.fixture
def no_installed_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("JOINTSEG_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def make_window(qtbot, settings, tmp_path, no_installed_weights):
    windows = []

    from app.window.main_window import MainWindow

    def make(*flags, source=None, weights=str(REFERENCE_CKPT), fast=True):
        argv = [*(FAST if fast else ()), "--snapshots", str(tmp_path / "snaps"), *flags]
        if weights:
            argv += ["--weights", weights]
        window = MainWindow(demo_args(*argv), settings=settings, source=source)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        assert window.shutdown()
