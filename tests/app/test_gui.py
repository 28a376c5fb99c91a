"""The entry point: without a display the demo says so in one line instead of aborting."""
import run_demo
from app.gui import display_problem, run


def test_without_a_display_the_demo_says_so_instead_of_aborting(monkeypatch, capsys):
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert display_problem() is not None
    assert run(run_demo.parse_args([])) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no display") and "--no-gui" in err and "\n" not in err


def test_a_display_or_a_platform_is_enough(monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    assert display_problem() is None
