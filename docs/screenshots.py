#!/usr/bin/env python3
"""The README's screenshots: the real window on a real X display (Xvfb) of a given size, running a network fitted
to the NYUD example frames on those frames, with the automatic device, precision and backend.

    Xvfb :99 -screen 0 1366x768x24 &
    DISPLAY=:99 python docs/screenshots.py --screen 1366x768 --out docs/window_1366x768.png

``--layout blend`` / ``--layout single`` and ``--hover ROW,COL`` (a frame pixel) vary the view; ``--startup``
saves the first-run progress instead. The 3D view: ``--cloud beside`` (or ``--single 3d`` alone), ``--colouring``,
``--hide CLASS,...`` (as a legend click does), ``--measure ROW,COL,ROW,COL`` (two Shift-clicks) and ``--orbit
AZIMUTH,ELEVATION`` (degrees, from the reset view). The network comes from
``model.training.examples_fit.fitted_checkpoint('weights')``.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

def main(argv=None):
    from model.data.examples import NYUD, frame_folder
    from model.training.examples_fit import fitted_checkpoint

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--screen", default="1366x768", help="the X screen's size, WxH")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--layout", default="side", choices=("side", "blend", "single"))
    parser.add_argument("--single", default="segmentation")
    parser.add_argument("--hover", help="ROW,COL of a frame pixel to point at")
    parser.add_argument("--startup", action="store_true", help="save the first-run progress screen")
    parser.add_argument("--wait", type=float, default=6.0, help="seconds of streaming before the shot")
    parser.add_argument("--size", type=int, default=160, help="network input long side (the fitted size)")
    parser.add_argument("--weights", help="a checkpoint (default: the network fitted to the example frames)")
    parser.add_argument("--frame", choices=NYUD, help="show this frame only (default: both, in turn)")
    parser.add_argument("--cloud", action="store_true", help="show the 3D view beside the panels")
    parser.add_argument("--colouring", default="class", choices=("class", "image", "depth"))
    parser.add_argument("--hide", default="", help="class names to hide in the 3D view, comma-separated")
    parser.add_argument("--measure", help="ROW,COL,ROW,COL: two frame pixels to measure between")
    parser.add_argument("--orbit", help="AZIMUTH,ELEVATION degrees to turn the 3D view by")
    parser.add_argument("--splitter", type=float, default=0.5, help="the 3D view's share of the views' width")
    options = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    from app.sources import ImageFolderSource
    from app.theme import apply_dark_palette
    from app.window.main_window import MainWindow
    from model.inference.run_settings import add_arguments

    app = QApplication(["screenshots"])
    apply_dark_palette(app)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frames = frame_folder(tmp / "nyud-examples", [options.frame] if options.frame else NYUD)
        flags = argparse.ArgumentParser()
        add_arguments(flags)
        args = flags.parse_args(["--size", str(options.size)])
        args.__dict__.update(weights=options.weights or str(fitted_checkpoint(ROOT / "weights")), download=False,
                             backbone="mobilenet_v2", overlay=options.layout, opacity=0.5, view=options.single,
                             snapshots=str(tmp / "snaps"), record=None, loop=True, camera=None, video=None,
                             images=None, synthetic=False, given={"weights", "size", "overlay", "opacity", "loop"})
        settings = QSettings(str(tmp / "settings.ini"), QSettings.IniFormat)
        settings.setValue("cloud/beside", options.cloud)
        settings.setValue("cloud/colouring", options.colouring)
        window = MainWindow(args, settings=settings, source=ImageFolderSource(frames, loop=True))
        shots = []
        if options.startup:  # the moment the backends are being measured: the window's slot ran first
            window.pipeline.worker.progress.connect(
                lambda fraction, message: message.startswith("measuring") and not shots and shots.append(
                    window.grab()))
        window.show()
        start = time.perf_counter()
        while time.perf_counter() - start < 300 and window.output is None and not shots:
            app.processEvents()
            time.sleep(0.01)
        if not options.startup:
            settle = time.perf_counter()
            while time.perf_counter() - settle < options.wait:
                app.processEvents()
                time.sleep(0.01)
            window.controls.pause_action.setChecked(True)
            arrange_3d(window, options)
            if options.hover:
                row, col = (int(v) for v in options.hover.split(","))
                window.on_hover((row, col))
            window.update_readout()
            for _ in range(20):
                app.processEvents()
                time.sleep(0.01)
        (shots[0] if shots else grab(window)).save(options.out)
        print(f"{options.out}: window {window.width()}x{window.height()} on a {options.screen} screen; "
              f"{window.status.device.text().strip()}")
        window.close()
    return 0


def grab(window):
    """The window as it looks: Qt's grab leaves out the 3D view's own OpenGL window, drawn in here."""
    from PyQt5.QtCore import QPoint
    from PyQt5.QtGui import QPainter

    shot = window.grab()
    panel = window.semantic3d.panel
    if panel.view is not None and panel.container.isVisible():
        painter = QPainter(shot)
        painter.drawImage(panel.container.mapTo(window, QPoint(0, 0)), panel.view.grabFramebuffer())
        painter.end()
    return shot


def arrange_3d(window, options):
    """The 3D view as ``options`` ask: its share of the width, hidden classes, a measurement, an orbit."""
    width = sum(window.splitter.sizes())
    window.splitter.setSizes([round(width * (1 - options.splitter)), round(width * options.splitter)])
    three_d, preset = window.semantic3d, window.result.preset
    for name in filter(None, options.hide.split(",")):
        three_d.toggle_class(preset.classes.index(name))
    if options.measure:
        numbers = [int(v) for v in options.measure.split(",")]
        three_d.add_measure_point(tuple(numbers[:2]))
        three_d.add_measure_point(tuple(numbers[2:]))
    if three_d.panel.view is not None:
        three_d.panel.reset_view()
        if options.orbit:
            three_d.panel.view.orbit(*(float(v) for v in options.orbit.split(",")))


if __name__ == "__main__":
    sys.exit(main())
