"""``python -m model.benchmark``: frame-to-colour-images and network-alone times, printed and written to BENCHMARKS.md.

Rows, each measured in the same run on real example frames resized to each size:

- ``release pipeline``: the release's way, re-implemented here: numpy normalisation, fp32 eager NCHW network
  with its 5x5 max pool op, bicubic resize of every output (OpenCV, as the release's notebooks), numpy argmax
  and colour maps.
- ``ONNX Runtime default``: the release graph exported to ONNX in a default ONNX Runtime CPU session (network);
  end to end inside the release pipeline.
- ``this project (...)``: ``model.engine.Predictor`` after its warm-up: the automatic choice and each backend.
- CUDA (``--device cuda``): fp32 and fp16, with and without CUDA graphs.

The weights are random in the official layouts (the times do not depend on their values); ``--checkpoint``
times a real file instead.
"""
import argparse
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from . import examples
from . import postprocess as pp
from .checkpoint import CheckpointError, load_model
from .decoder import CRPBlock
from .engine import Predictor
from .settings import resolve_device
from .export import export_onnx, onnx_session
from .files import write_atomic
from .network import build_model
from .presets import get_preset

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((480, 640), (240, 320), (720, 1280))
ENCODERS = ("mobilenet_v2", "resnet50")
SOAK_TITLE = "## Memory soak"


def rss_mb():
    """This process's resident memory in MB (Linux), for the soak scripts."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def release_network(model):
    """The network as released: BatchNorm as its own layers, NCHW, one 5x5 max pool op in the CRP blocks."""
    import copy

    net = copy.deepcopy(model).cpu().float().eval()
    for part in (net, net.decoder):
        for block in part.modules():
            if isinstance(block, CRPBlock):
                block.pool = nn.MaxPool2d(5, stride=1, padding=2)
    return net


class ReleasePipeline:
    """uint8 frame -> colour images the release's way; ``network`` may be swapped (ONNX Runtime)."""

    def __init__(self, model, network=None):
        self.tasks, self.preset = model.tasks, model.preset
        self.net = release_network(model)
        self.network = network or self._torch_network
        self.lut = pp.depth_lut()
        self.mean, self.std = np.array(pp.MEAN), np.array(pp.STD)

    def _torch_network(self, x):
        with torch.no_grad():
            return [o.numpy() for o in self.net(torch.from_numpy(x))]

    def prepare(self, frame):
        return ((frame / 255.0 - self.mean) / self.std).transpose(2, 0, 1)[None].astype(np.float32)

    def __call__(self, frame):
        outputs = dict(zip(self.tasks, self.network(self.prepare(frame))))
        h, w = frame.shape[:2]
        segm = cv2.resize(outputs["segm"][0].transpose(1, 2, 0), (w, h), interpolation=cv2.INTER_CUBIC)
        images = [self.preset.colours[segm.argmax(axis=2)]]
        if "depth" in outputs:
            depth = np.abs(cv2.resize(outputs["depth"][0, 0], (w, h), interpolation=cv2.INTER_CUBIC))
            index = np.clip(depth * (255.0 / self.preset.max_depth), 0, 255).round().astype(np.int64)
            images.append(self.lut[index])
        if "normals" in outputs:
            n = cv2.resize(outputs["normals"][0].transpose(1, 2, 0), (w, h), interpolation=cv2.INTER_CUBIC)
            n = n / np.maximum(np.linalg.norm(n, axis=2, keepdims=True), 1e-12)
            images.append((np.clip((n * [1, 1, -1] + 1) / 2, 0, 1) * 255).round().astype(np.uint8))
        return images


def frames_at(size, count):
    """The example frames (NYUD, KITTI) resized to (H, W), cycled."""
    images = examples.frames(size)
    return [images[i % len(images)] for i in range(count)]


def interleaved(rows, frames, warmup=1, block=4):
    """Times the ``Row``s on the same frames, taking turns every ``block`` frames, so that a change of load on
    a shared machine hits every row alike. Returns (name, e2e ms, network ms) per row."""
    for row in rows:
        for frame in frames[:warmup]:
            row.run(frame)
    for start in range(0, len(frames), block):
        for row in rows:
            for i in range(start, min(start + block, len(frames))):
                if i % row.every == 0:
                    row.measure(frames[i])
    return [(row.name, row.e2e, row.network) for row in rows]


class Row:
    """One path: ``run(frame)`` end to end; the network alone from ``network(prepare(frame))`` (only the
    network timed) or, for a predictor, from its own timings."""

    def __init__(self, name, run, network=None, prepare=None, every=1):
        self.name, self.run, self.net, self.prepare, self.every = name, run, network, prepare, every
        self.e2e, self.network = [], []

    def measure(self, frame):
        start = time.perf_counter()
        result = self.run(frame)
        self.e2e.append((time.perf_counter() - start) * 1e3)
        if self.net is None:
            self.network.append(result.timings["network"])
        else:
            x = self.prepare(frame)
            start = time.perf_counter()
            self.net(x)
            self.network.append((time.perf_counter() - start) * 1e3)


def summary(times):
    """(median, p10, p90, count) in ms."""
    q = np.percentile(times, [50, 10, 90])
    return float(q[0]), float(q[1]), float(q[2]), len(times)


def model_for(encoder):
    tasks = ("segm", "depth") if encoder == "mobilenet_v2" else ("segm",)
    torch.manual_seed(0)
    model = build_model(encoder, 40, tasks).eval()
    model.preset = get_preset("nyud")
    return model


def bench_cpu(model, size, n, log, threads=None):
    """Rows (name, e2e times, network times) for one model and frame size on the CPU."""
    release = ReleasePipeline(model)
    session = onnx_session(export_onnx(release.net), threads=threads)

    def ort_net(x):
        return session.run(None, {"image": x})

    ort = ReleasePipeline(model, ort_net)
    every = 4  # the release is several times slower: every 4th frame
    rows = [Row("release pipeline (fp32 eager NCHW, numpy)", release, release.network, release.prepare, every),
            Row("ONNX Runtime default (release graph, release pre/post)", ort, ort_net, ort.prepare)]
    predictors = []
    for backend in ("auto", "torch", "onnxruntime"):
        predictor = Predictor(model, device="cpu", backend=backend).warmup(size)
        log(f"  this project, backend {backend}: {predictor.description} {predictor.applied.measured or ''}")
        chosen = predictor.applied.backend
        label = f"**this project, auto -> {chosen}**" if backend == "auto" else f"this project, {backend}"
        rows.append(Row(label, predictor))
        predictors.append(predictor)
    log(f"  {n} frames, round robin over {len(rows)} paths")
    results = interleaved(rows, frames_at(size, n))
    for predictor in predictors:
        predictor.close()
    return results


def bench_cuda(model, size, n, device, log):
    rows, predictors = [], []
    for precision, graphs in (("fp32", False), ("fp16", False), ("fp16", True)):
        predictor = Predictor(model, device=str(device), precision=precision, graphs=graphs).warmup(size)
        log(f"  {predictor.description}")
        rows.append(Row(f"this project, {predictor.description}", predictor))
        predictors.append(predictor)
    results = interleaved(rows, frames_at(size, n), warmup=3)
    for predictor in predictors:
        predictor.close()
    return results


def _log(text):
    print(text, file=sys.stderr, flush=True)


def machine(device):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import onnxruntime

    text = (f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}, Python "
            f"{platform.python_version()}, {platform.system()} {platform.release()}")
    if device.type == "cuda":
        text += f"; GPU: {torch.cuda.get_device_name(device)}"
    return text


def table(results):
    lines = [("| encoder | frame | path | end to end ms: median (p10-p90) | fps | network alone ms: median "
              "(p10-p90) | frames |"), "|---|---|---|---|---|---|---|"]
    for (encoder, size), rows in results.items():
        for name, e2e, net in rows:
            m, lo, hi, n = summary(e2e)
            nm, nlo, nhi, _ = summary(net)
            lines.append(f"| {encoder} | {size[1]}x{size[0]} | {name} | {m:.1f} ({lo:.1f}-{hi:.1f}) | {1e3 / m:.1f} "
                         f"| {nm:.1f} ({nlo:.1f}-{nhi:.1f}) | {n} |")
    return "\n".join(lines)


def ratios(results):
    lines = []
    for (encoder, size), rows in results.items():
        by_name = {name: (statistics.median(e2e), statistics.median(net)) for name, e2e, net in rows}
        release = next(v for k, v in by_name.items() if k.startswith("release"))
        ort = next(v for k, v in by_name.items() if k.startswith("ONNX Runtime default"))
        ours_name, ours = next((k, v) for k, v in by_name.items() if "auto" in k)
        lines.append(f"- {encoder} {size[1]}x{size[0]}: end to end **{release[0] / ours[0]:.1f}x** faster than the "
                     f"release pipeline ({release[0]:.0f} -> {ours[0]:.0f} ms); network {ort[1] / ours[1]:.2f}x "
                     f"the speed of ONNX Runtime's default session on the release graph "
                     f"({ort[1]:.0f} vs {ours[1]:.0f} ms; {ours_name.strip('*')})")
    return "\n".join(lines)


def section(text, title):
    """The Markdown section ``title`` (up to the next ``## ``) of ``text``, or ''."""
    match = re.search(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", text, flags=re.DOTALL | re.MULTILINE)
    return match.group(0) if match else ""


def replace_section(path, title, body):
    """Writes ``body`` (starting with ``title``) as that section of the Markdown file, keeping the rest."""
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    old = section(text, title)
    text = text.replace(old, body.rstrip() + "\n\n") if old else text.rstrip() + "\n\n" + body
    write_atomic(path, text.strip() + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model.benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--encoders", default=",".join(ENCODERS), help="default: %(default)s")
    parser.add_argument("--sizes", default=",".join(f"{h}x{w}" for h, w in SIZES),
                        help="frame sizes HxW, default: %(default)s")
    parser.add_argument("--frames", type=int, default=24,
                        help="frames per row at 480x640 MobileNet-v2 (fewer for bigger frames and ResNet-50)")
    parser.add_argument("--checkpoint", help="time this checkpoint file instead of random weights")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="default: BENCHMARKS.md")
    parser.add_argument("--threads", type=int,
                        help="CPU threads of torch and of every ONNX Runtime session (default: theirs, one per "
                             "physical core); written to its own section")
    args = parser.parse_args(argv)
    try:
        device = resolve_device(args.device)
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
        if any(len(s) != 2 or min(s) < 32 for s in sizes):
            raise ValueError(f"sizes are HxW, 32 at least: {args.sizes}")
        if args.threads:
            torch.set_num_threads(args.threads)
        command = " ".join(["python -m model.benchmark", *(sys.argv[1:] if argv is None else argv)])
        load_before = os.getloadavg()
        results, started = {}, time.time()
        models = [load_model(args.checkpoint)] if args.checkpoint else [model_for(e) for e in args.encoders.split(",")]
        for model in models:
            name = model.encoder_name
            for size in sizes:
                scale = (480 * 640) / (size[0] * size[1]) * (1.0 if name == "mobilenet_v2" else 0.3)
                n = max(4, round(args.frames * min(1.0, scale)))
                print(f"{name} {size[1]}x{size[0]}: {n} frames", file=sys.stderr, flush=True)
                if device.type == "cuda":
                    results[(name, size)] = bench_cuda(model, size, max(n, 100), device, _log)
                else:
                    results[(name, size)] = bench_cpu(model, size, n, _log, args.threads)
    except (ValueError, RuntimeError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    load_after = os.getloadavg()
    text = table(results)
    print(text)
    summary_lines = ratios(results) if device.type == "cpu" else ""
    if summary_lines:
        print(summary_lines)
    write_report(Path(args.out), device, text, summary_lines, command, load_before, load_after,
                 time.time() - started, args.threads)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def write_report(path, device, text, summary_lines, command, load_before, load_after, seconds, threads=None):
    """Writes this run's section (CPU, CPU with N threads, or CUDA) of BENCHMARKS.md; the others are kept."""
    heading = "## CUDA" if device.type == "cuda" else "## CPU" + (f", {threads} thread(s)" if threads else "")
    body = (f"{heading}\n\nMachine: {machine(device)}.  \nCommand: `{command}` ({seconds / 60:.1f} min).  \n"
            f"Load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after (this machine is shared "
            f"with other jobs: under load absolute times swing; the paths took turns every 4 frames on the same "
            f"frames, so the ratios hold better than the times).\n\n{text}\n")
    if summary_lines:
        body += f"\nAt a glance (medians):\n\n{summary_lines}\n"
    if device.type == "cuda":
        body += ("\nWith CUDA graphs one replay runs pre-processing, network and post-processing: its *network* "
                 "time holds all three.\n")
    old = path.read_text() if path.exists() else ""
    start = re.search(r"^## ", old, flags=re.MULTILINE)
    write_atomic(path, HEADER + ("\n" + old[start.start():] if start else ""))  # always this version's header
    replace_section(path, heading, body)
    if not section(path.read_text(), "## CUDA"):
        replace_section(path, "## CUDA", CUDA_PENDING)


CUDA_PENDING = """## CUDA

Not measured: no GPU was available where this file was written, so the CUDA rows (fp32 and fp16, with and
without CUDA graphs) are missing and the CUDA code has run only through its CPU twins in the tests. On a machine
with a GPU, run:

```bash
python -m model.benchmark --device cuda            # writes this section
python benchmarks/soak_predictor.py --device cuda  # memory soak on the GPU path
python -m pytest -q tests/test_engine.py           # the same correctness tests, CPU
```
"""


HEADER = """# Benchmarks

Written by `python -m model.benchmark` (the CPU section) and `python -m model.benchmark --device cuda` (the CUDA
section); each run replaces its own section and keeps the others (the memory soak's, from
`python benchmarks/soak_predictor.py`, and the notes). Times are per frame, in milliseconds: *end to end* is a
uint8 RGB frame in to the colour images (and depth in metres) out at the frame's size; *network alone* is the
network's forward pass on the prepared input. Weights are random in the official layouts: the times do not
depend on their values.
"""


if __name__ == "__main__":
    sys.exit(main())
