#!/usr/bin/env python3
"""What the 3D view costs: the real window on a real X display (Xvfb and Mesa's llvmpipe here), 640x480 frames
(the NYUD example frames, looped), network input 640 px, the default point budget; in one run, the 3D view
hidden and shown beside the panels in turn (hidden first and last), the same time each: on a shared machine a
load that comes and goes then weighs on both sides alike, and each shown phase is compared with the hidden
phases on either side of it.

    Xvfb :99 -screen 0 1366x768x24 &
    DISPLAY=:99 python benchmarks/cloud_view.py

Measured per phase: the inference rate (frames through the network per second), the display rate, the GUI
thread's busy time per frame shown (everything it does: drawing the 2D panels, handing the cloud to OpenGL, the
repaints), and with the 3D view shown the cloud's own costs (back-projection on its thread; upload and repaint on
the GUI thread). Writes the "## 3D view" section of BENCHMARKS.md (the other sections stay).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TITLE = "## 3D view"


class Phase:
    """What one phase measured."""

    def __init__(self, name):
        self.name = name
        self.inferred = self.shown = 0
        self.busy_s = self.elapsed_s = 0.0
        self.build_ms, self.draw_ms, self.points = [], [], []
        self.back_projections = 0

    @property
    def inference_fps(self):
        return self.inferred / self.elapsed_s

    @property
    def display_fps(self):
        return self.shown / self.elapsed_s

    @property
    def busy_ms_per_frame(self):
        return 1e3 * self.busy_s / max(1, self.shown)


def run_phase(app, window, name, shown, seconds, settle_s, calls):
    """Shows or hides the 3D view, lets it settle, then measures for ``seconds``."""
    if window.semantic3d.beside_action.isChecked() != shown:
        window.semantic3d.beside_action.trigger()
    end = time.perf_counter() + settle_s
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)
    phase = Phase(name)
    first_index, last_index, first_calls = window.output.index, window.output.index, len(calls)
    last_frame = window.semantic3d.panel.frame
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        before = time.perf_counter()
        app.processEvents()
        phase.busy_s += time.perf_counter() - before
        if window.output.index != last_index:
            last_index = window.output.index
            phase.shown += 1
        frame = window.semantic3d.panel.frame
        if shown and frame is not None and frame is not last_frame:
            last_frame = frame
            build, draw, points = window.semantic3d.costs()
            phase.build_ms.append(build)
            phase.draw_ms.append(draw or 0.0)
            phase.points.append(points)
        time.sleep(0.001)
    phase.elapsed_s = time.perf_counter() - start
    phase.inferred = last_index - first_index
    phase.back_projections = len(calls) - first_calls
    return phase


def median(values):
    return statistics.median(values) if values else float("nan")


def against_neighbours(phases, measure):
    """Each shown phase's ``measure`` over the mean of the hidden phases on either side of it."""
    return [measure(phases[i]) / statistics.mean([measure(phases[i - 1]), measure(phases[i + 1])])
            for i in range(1, len(phases) - 1, 2)]


def report(phases, args, runs, command):
    from model.benchmark.report import cpu_description, versions

    rows = []
    for p in phases:
        cloud = (f"{median(p.build_ms):.1f} ms | {median(p.draw_ms):.1f} ms | {median(p.points):,.0f}"
                 if p.build_ms else "- | - | -")
        rows.append(f"| {p.name} | {p.inference_fps:.2f} fps | {p.display_fps:.2f} fps | {p.busy_ms_per_frame:.1f} ms "
                    f"| {cloud} | {p.back_projections} |")
    shown = phases[1::2]
    inference = against_neighbours(phases, lambda p: p.inference_fps)
    display = against_neighbours(phases, lambda p: p.display_fps)
    added = [p.busy_ms_per_frame - statistics.mean([phases[i - 1].busy_ms_per_frame, phases[i + 1].busy_ms_per_frame])
             for i, p in zip(range(1, len(phases), 2), shown)]
    build = median([ms for p in shown for ms in p.build_ms])
    draw = median([ms for p in shown for ms in p.draw_ms])
    lines = [
        TITLE, "",
        f"Command: `{command}` ({len(phases)} phases of {args.seconds:g} s, each after {args.settle:g} s to settle; "
        f"the real window under Xvfb, {args.screen}, OpenGL by Mesa's llvmpipe on the CPU; 640x480 NYUD example "
        f"frames, looped; network input {args.size} px, {runs}; default point budget; a shared machine).  ",
        f"Machine: {cpu_description()}; {versions()}.", "",
        "| 3D view | inference | display | GUI thread per frame shown | cloud thread per cloud (back-projection) "
        "| upload, repaint, swap (GUI) | points | back-projections |",
        "|---|---|---|---|---|---|---|---|", *rows, "",
        f"With the 3D view shown, against the hidden phases on either side: inference at "
        f"**{median(inference):.2f}x** the rate without it (per shown phase: "
        f"{', '.join(f'{r:.2f}' for r in inference)}), display at **{median(display):.2f}x**; added cost per "
        f"frame: **{build:.1f} ms** on the cloud's own thread (back-projection at the budget) and "
        f"**{median(added):+.1f} ms** on the GUI thread (of which the 3D view's upload, repaint and buffer swap "
        f"measure {draw:.1f} ms). Hidden, before it was first shown and after: "
        f"{sum(p.back_projections for p in phases[::2])} back-projections.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", help="a checkpoint (default: the network fitted to the example frames)")
    parser.add_argument("--size", type=int, default=640, help="network input long side (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per phase")
    parser.add_argument("--rounds", type=int, default=3, help="shown phases, each between two hidden ones")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after each change before measuring")
    parser.add_argument("--screen", default="1366x768", help="the X screen's size, for the report")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        parser.error("no display: run it under Xvfb (see the usage above)")

    import torch
    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    import run_demo
    from app.cloud3d import cloud as cloud_module
    from app.sources import ImageFolderSource
    from app.theme import apply_dark_palette
    from app.window.main_window import MainWindow
    from model.benchmark.report import BENCHMARKS, replace_section
    from model.data.examples import frame_folder
    from model.training.examples_fit import fitted_checkpoint

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    calls = []
    back_project = cloud_module.back_project
    cloud_module.back_project = lambda *a, **k: calls.append(1) or back_project(*a, **k)

    app = QApplication(["cloud-benchmark"])
    apply_dark_palette(app)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frames = frame_folder(tmp / "frames")
        weights = args.weights or str(fitted_checkpoint(ROOT / "weights"))
        demo = run_demo.parse_args(["--weights", weights, "--size", str(args.size), "--device", args.device,
                                    "--precision", args.precision, "--backend", args.backend,
                                    "--snapshots", str(tmp / "out")])
        window = MainWindow(demo, settings=QSettings(str(tmp / "settings.ini"), QSettings.IniFormat),
                            source=ImageFolderSource(frames, loop=True))
        window.show()
        start = time.perf_counter()
        while window.output is None or window.output.warmed:
            if time.perf_counter() - start > 600:
                parser.exit(1, "error: no result within 600 s\n")
            app.processEvents()
            time.sleep(0.01)
        plan = [("hidden", False)] + [("shown beside the panels", True), ("hidden", False)] * args.rounds
        phases = [run_phase(app, window, name, shown, args.seconds, args.settle, calls) for name, shown in plan]
        runs = window.running.applied.description if window.running is not None else "nothing"
        window.close()
    if window.semantic3d.panel.problem:
        parser.exit(1, f"error: the 3D view could not draw: {window.semantic3d.panel.problem}\n")
    typed = sys.argv[1:] if argv is None else argv
    command = "DISPLAY=:99 python benchmarks/cloud_view.py" + (f" {' '.join(typed)}" if typed else "")
    body = report(phases, args, runs, command)
    print(body)
    if not args.no_write:
        replace_section(BENCHMARKS, TITLE, body)
        print(f"wrote the '{TITLE}' section of {BENCHMARKS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
