#!/usr/bin/env python3
"""Soak test of the desktop window, offscreen: N frames through capture, inference and drawing, while the
layout, opacity and recording are toggled and snapshots taken; reports the memory over time, the threads left
after closing, and the rates and latencies the lead puts in BENCHMARKS.md.

    QT_QPA_PLATFORM=offscreen python benchmarks/soak_gui.py --weights CHECKPOINT --frames 10000

Every frame is processed (an image folder of small synthetic frames, looped: the capture waits for the
worker), so the count is exact. Memory should stay flat after the warm-up; zero threads should survive.
Printed at the end: the display and inference rates, the latency from capture to screen (median and 95th
percentile), and the post-processing time as a share of the network's (median).
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

STALL_S = 60


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, help="checkpoint file or catalogue name")
    parser.add_argument("--frames", type=int, default=10000)
    parser.add_argument("--size", type=int, default=64, help="network input long side (default: %(default)s)")
    parser.add_argument("--frame", default="96x128", help="frame HxW (default: %(default)s)")
    parser.add_argument("--every", type=int, default=500, help="frames between memory samples")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args(argv)

    import cv2
    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    import run_demo
    from app.panels.readout import postprocess_share
    from app.sources import ImageFolderSource, SyntheticSource
    from app.window.main_window import MainWindow
    from model.benchmark.report import rss_mb

    app = QApplication(["soak"])
    h, w = (int(v) for v in args.frame.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frames = tmp / "frames"
        frames.mkdir()
        scene = SyntheticSource(width=w, height=h)
        for i in range(8):
            for _ in range(7):
                scene.read()
            cv2.imwrite(str(frames / f"{i:02d}.png"), cv2.cvtColor(scene.read(), cv2.COLOR_RGB2BGR))
        demo = run_demo.parse_args(["--weights", args.weights, "--size", str(args.size), "--device", args.device,
                                    "--precision", args.precision, "--backend", args.backend,
                                    "--snapshots", str(tmp / "out")])
        threads_before = {t.ident for t in threading.enumerate()}
        window = MainWindow(demo, settings=QSettings(str(tmp / "settings.ini"), QSettings.IniFormat),
                            source=ImageFolderSource(frames, loop=True))
        window.show()
        drawn = []  # every result the window drew
        show_output = window.show_output
        window.show_output = lambda output: (drawn.append(output.index), show_output(output))[1]
        samples, latencies, shares = [], [], []
        start = time.perf_counter()
        shown, last_index, next_sample, last_change = 0, -1, 0, start
        measured_from = None  # after the first result: the warm-up is left out of the rates
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
            if measured_from is None:
                measured_from = (last_change, shown)
            elif not output.warmed:
                latencies.append(window.end_to_end_ms)
                share = postprocess_share(output.result.timings)
                if share is not None:
                    shares.append(share)
            if shown >= next_sample:
                samples.append((shown, time.perf_counter() - start, rss_mb(), threading.active_count()))
                print(f"frames {shown:6d}  {samples[-1][1]:7.1f} s  rss {samples[-1][2]:7.1f} MB  "
                      f"threads {samples[-1][3]}", flush=True)
                next_sample += args.every
                k = len(samples)
                window.state.set_layout(layouts[k % 3])
                window.state.set_opacity(0.2 + 0.1 * (k % 7))
                window.controls.record_action.setChecked(k % 4 == 1)  # record for one interval in four
                if k % 5 == 0:
                    window.snapshot()
        elapsed = time.perf_counter() - start
        display_fps = (shown - measured_from[1]) / max(1e-6, time.perf_counter() - measured_from[0])
        inference_fps = window.pipeline.inference_fps()
        processed = window.pipeline.frames
        runs = window.running.applied.description if window.running is not None else "nothing"
        window.close()
        joined = window.shutdown()
        app.processEvents()
        time.sleep(0.2)
        left = [t.name for t in threading.enumerate() if t.ident not in threads_before]
        # Libraries' own module-level pools (torch's prefetch executor) start a thread on first use and keep it.
        pools = [name for name in left if name.startswith("ThreadPoolExecutor")]
        leaked = [name for name in left if name not in pools]
        recordings = sorted((tmp / "out").glob("*.mp4"))

    warm = samples[min(2, len(samples) - 1)]
    end = samples[-1]
    print()
    print(f"frames shown: {shown:,} ({processed:,} captured) in {elapsed:.0f} s, network input {args.size} px, "
          f"frames {h}x{w}, {runs}")
    print(f"display rate: {display_fps:.1f} fps; inference rate: {inference_fps:.1f} fps (the last seconds); "
          f"results drawn: {len(set(drawn)):,} of {processed:,} ({len(set(drawn)) / max(1, processed):.3f})")
    print(f"capture to screen: median {statistics.median(latencies):.1f} ms, 95th percentile "
          f"{percentile(latencies, 0.95):.1f} ms")
    print(f"post-processing: median {100 * statistics.median(shares):.0f} % of the network's time")
    print(f"memory: {warm[2]:.1f} MB after {warm[0]:,} frames, {end[2]:.1f} MB after {end[0]:,} "
          f"({end[2] - warm[2]:+.1f} MB; peak {max(s[2] for s in samples):.1f} MB)")
    print(f"threads: {len(leaked)} left after closing {leaked if leaked else ''}(libraries' pools: {len(pools)}); "
          f"joined within 2 s: {joined}; recordings finalised: {len(recordings)}")
    return 0 if not leaked and joined and shown >= args.frames else 1


if __name__ == "__main__":
    sys.exit(main())
