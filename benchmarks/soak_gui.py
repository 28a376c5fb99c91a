#!/usr/bin/env python3
"""Soak test of the desktop window, offscreen: N frames through capture, inference and drawing, while the
layout, opacity and recording are toggled; reports the memory over time and the threads left after closing.

    QT_QPA_PLATFORM=offscreen python benchmarks/soak_gui.py --weights CHECKPOINT --frames 10000

Every frame is processed (an image folder of small synthetic frames, looped: the capture waits for the
worker), so the count is exact. Memory should stay flat after the warm-up; zero threads should survive.
"""
import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


STALL_S = 60


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, help="checkpoint file or catalogue name")
    parser.add_argument("--frames", type=int, default=10000)
    parser.add_argument("--size", type=int, default=64, help="network input long side (default: %(default)s)")
    parser.add_argument("--frame", default="96x128", help="frame HxW (default: %(default)s)")
    parser.add_argument("--every", type=int, default=500, help="frames between memory samples")
    args = parser.parse_args(argv)

    import cv2
    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    import run_demo
    from app.sources import ImageFolderSource, SyntheticSource
    from app.window import MainWindow
    from model.report import rss_mb

    app = QApplication(["soak"])
    h, w = (int(v) for v in args.frame.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scene = SyntheticSource(width=w, height=h)
        for i in range(8):
            for _ in range(7):
                scene.read()
            cv2.imwrite(str(tmp / f"{i:02d}.png"), cv2.cvtColor(scene.read(), cv2.COLOR_RGB2BGR))
        argv = ["--weights", args.weights, "--size", str(args.size), "--snapshots", str(tmp / "out")]
        cli = run_demo.build_parser()
        parsed = cli.parse_args(argv)
        parsed.given = run_demo.given_flags(cli, argv)
        threads_before = {t.ident for t in threading.enumerate()}
        window = MainWindow(parsed, settings=QSettings(str(tmp / "settings.ini"), QSettings.IniFormat),
                            source=ImageFolderSource(tmp, loop=True))
        window.show()
        samples = []
        start = time.perf_counter()
        shown = 0
        last_index = -1
        next_sample = 0
        last_change = start
        layouts = ["side", "blend", "single"]
        while shown < args.frames:
            app.processEvents()
            output = window.output
            if output is None or output.index == last_index:
                if time.perf_counter() - last_change > STALL_S:
                    print(f"error: no new frame for {STALL_S} s after {shown} frames", file=sys.stderr)
                    break
                time.sleep(0.001)
                continue
            last_change = time.perf_counter()
            shown += output.index - last_index if last_index >= 0 else 1
            last_index = output.index
            if shown >= next_sample:
                samples.append((shown, time.perf_counter() - start, rss_mb(), threading.active_count()))
                print(f"frames {shown:6d}  {samples[-1][1]:7.1f} s  rss {samples[-1][2]:7.1f} MB  "
                      f"threads {samples[-1][3]}", flush=True)
                next_sample += args.every
                k = len(samples)
                window.set_layout(layouts[k % 3])
                window.set_opacity(0.2 + 0.1 * (k % 7))
                window.record_action.setChecked(k % 4 == 1)  # record for one interval in four
                if k % 5 == 0:
                    window.snapshot()
        elapsed = time.perf_counter() - start
        processed = window.capture.frames
        window.close()
        joined = window.shutdown()
        app.processEvents()
        time.sleep(0.2)
        leaked = [t.name for t in threading.enumerate() if t.ident not in threads_before]
        recordings = sorted((tmp / "out").glob("*.mp4"))

    warm = samples[min(2, len(samples) - 1)]
    end = samples[-1]
    print()
    print(f"frames shown: {shown:,} ({processed:,} captured) in {elapsed:.0f} s ({shown / elapsed:.1f} fps), "
          f"network input {args.size} px, frames {h}x{w}")
    print(f"memory: {warm[2]:.1f} MB after {warm[0]:,} frames, {end[2]:.1f} MB after {end[0]:,} "
          f"({end[2] - warm[2]:+.1f} MB; peak {max(s[2] for s in samples):.1f} MB)")
    print(f"threads: {len(leaked)} left after closing {leaked if leaked else ''}; joined within 2 s: {joined}; "
          f"recordings finalised: {len(recordings)}")
    return 0 if not leaked and joined and shown >= args.frames else 1


if __name__ == "__main__":
    sys.exit(main())
