"""python -m model benchmark: how fast each way of running the network is here, and how close to fp32.

Written to BENCHMARKS.md (its CPU or CUDA section; the other sections are kept) and printed. Measured in one
run, the paths taking turns every few frames on the same real example frames, so that a change of load on a
shared machine hits every path alike:

  network alone   every backend x precision this machine runs, against ONNX Runtime's default session on the
                  release graph; with its agreement with fp32 on the calibration frame (labels identical,
                  median relative depth error) and whether the accuracy guard lets it run
  end to end      uint8 frame in, colour images and metric depth out at the frame's size: the release's own
                  pipeline (the baseline), ONNX Runtime inside that pipeline, and this project's automatic
                  choice (what a user gets)

The network is one fitted to the example frames (made once and kept in the weights folder): agreement needs a
well-conditioned network, and the automatic choice depends on it. --checkpoint measures another.
"""
import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from model.data import examples
from model.errors import first_line
from model.export.artefacts import Exports
from model.export.guard import Guard, agreement
from model.export.onnx import export_onnx
from model.files import write_atomic
from model.inference import backends
from model.inference.backends.onnx_runtime import session as onnx_session
from model.inference.engine import Predictor, calibration_frame
from model.inference.run_settings import RunSettings, SettingsError, add_arguments, resolve_device
from model.inference.selection import input_for
from model.network.encoders import ENCODERS
from model.network.lwrefinenet import build_model
from model.presets import get_preset
from model.training import examples_fit
from model.weights.catalogue import weights_dir
from model.weights.checkpoint import CheckpointError, load_model

from .release import ReleasePipeline
from .report import BENCHMARKS, cpu_description, replace_section, section, versions

SIZES = ((480, 640), (240, 320))
EPILOG = """examples:
  python -m model benchmark                          CPU: 640x480 and 320x240, a few minutes
  python -m model benchmark --threads 1 --frames 12  one thread each: steadier on a busy machine
  python -m model benchmark --device cuda            CUDA: fp32 and fp16, with and without CUDA graphs
  python -m model benchmark --checkpoint nyud        the official NYUD weights instead of the fitted network
"""


class Row:
    """One path. ``network(prepare(frame))`` is timed alone when given; ``run(frame)`` end to end, its network
    time taken from ``result.timings`` when it is a predictor."""

    def __init__(self, name, run=None, network=None, prepare=None, every=1):
        self.name, self.run, self.network_fn, self.prepare, self.every = name, run, network, prepare, every
        self.e2e, self.network = [], []

    def warm(self, frame):
        if self.run is not None:
            self.run(frame)
        if self.network_fn is not None:
            self.network_fn(self.prepare(frame))

    def measure(self, frame):
        if self.run is not None:
            start = time.perf_counter()
            result = self.run(frame)
            self.e2e.append((time.perf_counter() - start) * 1e3)
            if self.network_fn is None:
                self.network.append(result.timings["network"])
        if self.network_fn is not None:
            x = self.prepare(frame)
            start = time.perf_counter()
            self.network_fn(x)
            self.network.append((time.perf_counter() - start) * 1e3)


def interleaved(rows, frames, warmup=1, block=4):
    """Times the rows on the same frames, taking turns every ``block`` frames."""
    for row in rows:
        for frame in frames[:warmup]:
            row.warm(frame)
    for start in range(0, len(frames), block):
        for row in rows:
            for i in range(start, min(start + block, len(frames))):
                if i % row.every == 0:
                    row.measure(frames[i])
    return rows


def summary(times):
    """'median (p10-p90)' in ms."""
    q = np.percentile(times, [50, 10, 90])
    return f"{q[0]:.1f} ({q[1]:.1f}-{q[2]:.1f})"


def frames_at(size, count):
    """The example frames (NYUD, KITTI) resized to (H, W), cycled."""
    images = examples.frames(size)
    return [images[i % len(images)] for i in range(count)]


def model_for(encoder, checkpoint=None):
    """The network to measure: ``checkpoint``, else the network fitted to the examples (of its encoder), else
    random weights."""
    if checkpoint:
        return load_model(checkpoint)
    if encoder == examples_fit.FITTED_ENCODER:
        return examples_fit.fitted_model(weights_dir())
    torch.manual_seed(0)
    model = build_model(encoder, 40, ("segm",)).eval()
    model.preset = get_preset("nyud")
    return model


def network_rows(model, size, device, guard, log):
    """A network-alone row per backend x precision that runs here, each with its agreement and guard verdict."""
    exports = Exports(model)
    x = input_for(calibration_frame(model.preset, size), size, device)
    with torch.inference_mode():
        expected = tuple(o.float() for o in backends.get("torch")(exports, device, "fp32")(x))
    rows = []
    # int8 twice: the plain graph (first conv and heads in fp32) and the mixed one the engine runs (the guard's
    # search, model.export.mixed; cached by the engine's own run before).
    mixed = Exports(model, guard=guard)
    paths = [(cls, p, exports, "") for cls, p in backends.available(device.type)]
    paths += [(cls, p, mixed, "mixed ") for cls, p in backends.available(device.type, precision="int8")]
    for cls, precision, source, kind in paths:
        try:
            runner = cls(source, device, precision)
            with torch.inference_mode():
                measured = agreement(expected, runner(x.to(runner.input_dtype)), model.tasks)
        except Exception as e:  # a backend that cannot build here is one row fewer, said why
            log(f"  {cls.name} {kind}{precision}: skipped ({first_line(e, 120)})")
            continue
        row = Row(f"{cls.name} {kind}{precision}", network=_inference(runner),
                  prepare=lambda f, r=runner: input_for(f, size, device).to(r.input_dtype))
        row.agreement = measured
        row.passes = precision == "fp32" or guard.passes(measured)
        rows.append(row)
    return rows


def _inference(runner):
    def run(x):
        with torch.inference_mode():
            outputs = runner(x)
            if runner.device.type == "cuda":
                torch.cuda.synchronize(runner.device)
            return outputs

    return run


def bench_cpu(model, size, n, threads, guard, log):
    """(network rows, end-to-end rows) for one model and frame size on the CPU, measured together."""
    device = torch.device("cpu")
    release = ReleasePipeline(model)
    session = onnx_session(export_onnx(release.net), threads=threads)

    def ort_network(x):
        return session.run(None, {"image": x})

    ort = Row("ONNX Runtime default session (release graph)", run=ReleasePipeline(model, ort_network),
              network=ort_network, prepare=release.prepare)
    baseline = Row("release pipeline (fp32 eager NCHW, numpy)", run=release, network=release.network,
                   prepare=release.prepare, every=4)  # several times slower: every 4th frame
    auto = Predictor(model, device="cpu", guard=guard).warmup(size)
    log(f"  auto chose {auto.description}")
    chosen = Row(f"this project, auto: {auto.applied.backend} {auto.applied.precision}", run=auto)
    runners = network_rows(model, size, device, guard, log)
    log(f"  {n} frames, round robin over {len(runners) + 3} paths")
    interleaved([baseline, ort, chosen, *runners], frames_at(size, n))
    auto.close()
    return [ort, *runners], [baseline, ort, chosen], auto.applied


def bench_cuda(model, size, n, device, guard, log):
    rows = []
    for precision, graphs in (("fp32", False), ("fp16", False), ("fp16", True)):
        predictor = Predictor(model, device=str(device), precision=precision, graphs=graphs, guard=guard)
        predictor.warmup(size)
        log(f"  {predictor.description}")
        rows.append(Row(f"this project, {predictor.description}", run=predictor))
    net_rows = network_rows(model, size, device, guard, log)
    interleaved([*rows, *net_rows], frames_at(size, n), warmup=3)
    for row in rows:
        row.run.close()  # each holds its CUDA graphs and their memory pool
    return net_rows, rows


def network_table(results):
    lines = ["| network | frame | backend precision | ms: median (p10-p90) | x ONNX Runtime default | labels "
             "identical to fp32 | depth median error | guard |", "|---|---|---|---|---|---|---|---|"]
    for (name, size), (net_rows, _) in results.items():
        base = statistics.median(net_rows[0].network) if net_rows[0].name.startswith("ONNX") else None
        for row in net_rows:
            speed = f"{base / statistics.median(row.network):.2f}" if base else "-"
            agreed = getattr(row, "agreement", None)
            labels = f"{100 * agreed.labels:.1f} %" if agreed else "-"
            depth = f"{100 * agreed.depth_error:.2f} %" if agreed and agreed.depth_error is not None else "-"
            verdict = "-" if agreed is None else "runs" if row.passes else "refused"
            lines.append(f"| {name} | {size[1]}x{size[0]} | {row.name} | {summary(row.network)} | {speed} | "
                         f"{labels} | {depth} | {verdict} |")
    return "\n".join(lines)


def end_to_end_table(results):
    lines = ["| network | frame | path | end to end ms: median (p10-p90) | fps | network ms | frames |",
             "|---|---|---|---|---|---|---|"]
    for (name, size), (_, rows) in results.items():
        for row in rows:
            median = statistics.median(row.e2e)
            lines.append(f"| {name} | {size[1]}x{size[0]} | {row.name} | {summary(row.e2e)} | {1e3 / median:.1f} | "
                         f"{statistics.median(row.network):.1f} | {len(row.e2e)} |")
    return "\n".join(lines)


def at_a_glance(results, applied):
    lines = []
    for key, (_, (release, ort, chosen)) in results.items():
        name, (h, w) = key
        e2e = statistics.median(release.e2e) / statistics.median(chosen.e2e)
        network = statistics.median(ort.network) / statistics.median(chosen.network)
        lines.append(f"- {name} {w}x{h}: auto runs **{applied[key].backend} {applied[key].precision}**: network "
                     f"**{network:.2f}x** ONNX Runtime's default session, end to end **{e2e:.1f}x** faster than "
                     f"the release pipeline ({statistics.median(release.e2e):.0f} -> "
                     f"{statistics.median(chosen.e2e):.0f} ms)")
    return "\n".join(lines)


def parse_sizes(text):
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in text.split(",")]
    if any(len(s) != 2 or min(s) < 32 for s in sizes):
        raise ValueError(f"sizes are HxW, 32 at least: {text}")
    for size in sizes:
        RunSettings(size=max(size))  # a size this machine cannot hold is refused, as in the demo
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model benchmark", description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser, device_only=True, device_default="cpu")  # the CPU section unless asked for another
    parser.add_argument("--encoders", default=examples_fit.FITTED_ENCODER,
                        help=f"comma-separated, of {', '.join(ENCODERS)}: {examples_fit.FITTED_ENCODER} is fitted "
                             "to the example frames, the others have random weights (default: %(default)s)")
    parser.add_argument("--sizes", default=",".join(f"{h}x{w}" for h, w in SIZES),
                        help="frame sizes HxW (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=24, help="frames per path at 640x480 (default: %(default)s)")
    parser.add_argument("--checkpoint", metavar="FILE|NAME", help="measure this checkpoint instead")
    parser.add_argument("--threads", type=int, help="CPU threads of every runtime (default: one per core)")
    parser.add_argument("--out", default=str(BENCHMARKS), help="default: BENCHMARKS.md")
    args = parser.parse_args(argv)
    guard = Guard()
    try:
        sizes = parse_sizes(args.sizes)
        device = resolve_device(args.device)
        if args.threads:
            torch.set_num_threads(args.threads)
        command = " ".join(["python -m model benchmark", *(sys.argv[1:] if argv is None else argv)])
        load_before, started = os.getloadavg(), time.time()
        results, applied = {}, {}
        for encoder in ([None] if args.checkpoint else args.encoders.split(",")):
            model = model_for(encoder, args.checkpoint)
            fitted = not args.checkpoint and encoder == examples_fit.FITTED_ENCODER
            name = model.encoder_name + (" (fitted)" if fitted else "")
            for size in sizes:
                n = max(4, round(args.frames * min(1.0, 480 * 640 / (size[0] * size[1]))))
                _log(f"{name} {size[1]}x{size[0]}: {n} frames")
                if device.type == "cuda":
                    results[(name, size)] = bench_cuda(model, size, max(n, 100), device, guard, _log)
                else:
                    network, end_to_end, chosen = bench_cpu(model, size, n, args.threads, guard, _log)
                    results[(name, size)], applied[(name, size)] = (network, end_to_end), chosen
    except (ValueError, SettingsError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    heading = "## CUDA" if device.type == "cuda" else "## CPU" + (f", {args.threads} thread(s)" if args.threads else "")
    body = report(heading, device, results, applied, command, load_before, os.getloadavg(), time.time() - started)
    print(body)
    write(args.out, heading, body)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def report(heading, device, results, applied, command, load_before, load_after, seconds):
    machine = cpu_description() + (f"; GPU: {torch.cuda.get_device_name(device)}" if device.type == "cuda" else "")
    body = (f"{heading}\n\nMachine: {machine}; {versions()}.  \nCommand: `{command}` ({seconds / 60:.1f} min).  \n"
            f"Load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after (on a shared machine "
            "absolute times swing; the paths took turns on the same frames, so the ratios hold better).\n\n"
            f"Network alone (accuracy guard: {Guard().describe()}, on the calibration frame):\n\n"
            f"{network_table(results)}\n\nEnd to end:\n\n{end_to_end_table(results)}\n")
    if applied:
        body += f"\nAt a glance (medians):\n\n{at_a_glance(results, applied)}\n"
    if device.type == "cuda":
        body += ("\nWith CUDA graphs one replay runs pre-processing, network and post-processing: its network "
                 "time holds all three.\n")
    return body


def write(path, heading, body):
    """This run's section of BENCHMARKS.md under this version's header; a CUDA placeholder until one is run."""
    path = Path(path)
    old = path.read_text() if path.exists() else ""
    start = re.search(r"^## ", old, flags=re.MULTILINE)
    write_atomic(path, HEADER + ("\n" + old[start.start():] if start else ""))
    replace_section(path, heading, body)
    if not section(path.read_text(), "## CUDA"):
        replace_section(path, "## CUDA", CUDA_PENDING)


def _log(text):
    print(text, file=sys.stderr, flush=True)


CUDA_PENDING = """## CUDA

Not measured yet: no GPU was at hand where this file was written, so the CUDA rows (fp32 and fp16, with and
without CUDA graphs) are missing and the CUDA code has run only through its CPU twins in the tests. On a machine
with a GPU, run:

```bash
python -m model benchmark --device cuda            # writes this section
python -m pytest -q -m cuda                        # the CUDA tests
python benchmarks/soak_predictor.py --device cuda  # memory soak on the GPU path
```
"""

HEADER = """# Benchmarks

Written by `python -m model benchmark` (the CPU section; `--device cuda` the CUDA one), by
`python benchmarks/soak_predictor.py` (the memory soak) and `python benchmarks/soak_gui.py` (the window); each
replaces its own section and keeps the others. Times are per frame, in milliseconds. *Network alone* is the
network's forward pass on the prepared input; *end to end* is a uint8 RGB frame in to the colour images and the
depth in metres out, at the frame's size. The MobileNet-v2 is a network fitted to the example frames
(`model.data.examples`): its outputs are well-conditioned like trained weights, so that the agreement of reduced
precisions with fp32 means something; the times do not depend on the weights.
"""
