"""Fixtures of the GUI tests: a weights folder and cache of their own, remembered settings in a file, windows."""
import pytest
from PyQt5.QtCore import QSettings

from ..conftest import REFERENCE_CKPT
from .gui_support import FAST, demo_args


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

    from app.window import MainWindow

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
