#!/usr/bin/env python3
"""The README's screenshots: the real window on a real X display (Xvfb) of a given size, running a network fitted
to the NYUD example frames on those frames, with the automatic device, precision and backend.

    Xvfb :99 -screen 0 1366x768x24 &
    DISPLAY=:99 python docs/screenshots.py --screen 1366x768 --out docs/window_1366x768.png

``--layout blend`` / ``--layout single`` and ``--hover ROW,COL`` (a frame pixel) vary the view; ``--startup``
saves the first-run progress instead. The network comes from ``model.examples.fitted_checkpoint('weights')``.
"""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FRAMES = ("ExpNYUD_three/000433.png", "ExpNYUD_joint/000464.png")  # the NYUD example frames


def main(argv=None):
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
    parser.add_argument("--frame", choices=FRAMES, help="show this frame only (default: both, in turn)")
    options = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    from app.sources import ImageFolderSource
    from app.theme import apply_dark_palette
    from app.window import MainWindow
    from model.examples import FOLDER, fitted_checkpoint
    from model.settings import add_arguments

    app = QApplication(["screenshots"])
    apply_dark_palette(app)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frames = tmp / "nyud-examples"
        frames.mkdir()
        for name in [options.frame] if options.frame else FRAMES:
            shutil.copy(FOLDER / name, frames / Path(name).name)
        flags = argparse.ArgumentParser()
        add_arguments(flags)
        args = flags.parse_args(["--size", str(options.size)])
        args.__dict__.update(weights=options.weights or str(fitted_checkpoint(ROOT / "weights")), download=False,
                             backbone="mobilenet_v2", overlay=options.layout, opacity=0.5, view=options.single,
                             snapshots=str(tmp / "snaps"), record=None, loop=True, camera=None, video=None,
                             images=None, synthetic=False, given={"weights", "size", "overlay", "opacity", "loop"})
        window = MainWindow(args, settings=QSettings(str(tmp / "settings.ini"), QSettings.IniFormat),
                            source=ImageFolderSource(frames, loop=True))
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
            if options.hover:
                row, col = (int(v) for v in options.hover.split(","))
                window.on_hover((row, col))
            window.update_readout()
            for _ in range(20):
                app.processEvents()
                time.sleep(0.01)
        (shots[0] if shots else window.grab()).save(options.out)
        print(f"{options.out}: window {window.width()}x{window.height()} on a {options.screen} screen; "
              f"{window.status.device.text().strip()}")
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
