"""Accuracy-aware mixed int8: the quantized layers ranked by how much int8 changes them, and the fewest of the
worst returned to fp32 that let the accuracy guard hold on the calibration frames.

The ranking is ONNX Runtime's own quantization debugger (``qdq_loss_debug``): for each layer (conv, add, pool,
resize, concat), the signal to quantization noise ratio of its output activation on the first calibration frame
and, for a conv, of its weights; the lower ranks it. The search quantizes with the worst ``STEPS`` layers
excluded (``nodes_to_exclude``; the calibration ranges are computed once and reused) and measures each graph
against fp32 in ONNX Runtime with the guard's own measure, on every calibration frame (the worst frame counts).
It bisects the steps for the first one the guard passes: agreement grows as layers return to fp32 (flat, then a
jump, where whole runs of layers are back; BENCHMARKS.md's "CPU int8 search"), so about four graphs are made
instead of one per step. The result, with which layers stay in fp32 and why and the search's curve (ms against
agreement of the graphs it measured, up to the one it returns), is cached by the weights' hash, the calibration
frames' hash, the guard, the recipe, ONNX Runtime's version and the CPU's instruction set (``cpu_isa``), so a
later start reads it instead.
"""
import json
import logging
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from model import processing as pp
from model.errors import first_line

from . import quantize
from .guard import Agreement, agreement
from .onnx import session

RECIPE = "mixed-bisect-sqnr-v2"
# How many of the worst-ranked layers are back in fp32 at each step of the search; past the last, all.
STEPS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
SENSITIVITY_SIZE = (240, 320)  # (H, W) the ranking frame is resized to: the SQNR hardly depends on it
LAYERS = ("Conv", "Add", "MaxPool", "Resize", "Concat")  # the ops ONNX Runtime quantizes in this network
ISA = ("amx_int8", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512f", "avx2")  # what int8 speed depends on
METADATA = "jointseg.mixed_int8"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One graph the search measured: how many layers of the ranking were in fp32, its agreement and speed."""

    kept: int
    labels: float
    depth_error: float | None
    ms: float  # ONNX Runtime's median on the first calibration frame
    passed: bool


@dataclass(frozen=True)
class Mixed:
    """A mixed int8 graph: the QDQ bytes, the nodes it keeps in fp32 with why, and the search that found it."""

    graph: bytes
    kept: tuple  # (node name, why), the fixed ones (first conv, heads) first
    curve: tuple  # Step, by layers back in fp32, of the graphs measured up to this one: the last is this graph
    fp32_ms: float  # ONNX Runtime's fp32 median on the same frame, for the curve's speed-up

    @property
    def agreement(self):
        return Agreement(self.curve[-1].labels, self.curve[-1].depth_error)

    def report(self):
        """What stays in fp32 and why, one line each."""
        last = self.curve[-1]
        lines = [f"mixed int8: {len(self.kept)} nodes in fp32, {self.agreement.describe()} (worst calibration "
                 f"frame), {last.ms:.1f} ms vs fp32 {self.fp32_ms:.1f} ms in ONNX Runtime"]
        return lines + [f"  {name}: {why}" for name, why in self.kept]


def cpu_isa():
    """The CPU's instruction sets that int8 speed depends on, e.g. 'avx512_vnni+avx512f+avx2' ('' elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((set(line.partition(":")[2].split()) for line in f if line.startswith("flags")), set())
    except OSError:
        flags = set()
    return "+".join(flag for flag in ISA if flag in flags)


def cache_key(model, frames, guard):
    import onnxruntime

    return "/".join((quantize.weights_hash(model), quantize.frames_hash(frames), RECIPE, quantize.RECIPE,
                     f"{guard.min_labels}:{guard.max_depth_error}", onnxruntime.__version__, cpu_isa()))


def cache_path(model, frames, guard):
    import hashlib

    digest = hashlib.sha1(cache_key(model, frames, guard).encode()).hexdigest()[:16]
    return quantize.cache_folder_name(model, f"int8-mixed-{digest}.onnx")


def mixed_int8(model, onnx_graph, frames, guard, progress=None):
    """The mixed int8 ``Mixed`` of ``onnx_graph`` (bytes) for ``model``, from the cache or searched now;
    ``QuantizationError`` when even the last step fails the guard. ``progress(message)`` hears each step."""
    path, key = cache_path(model, frames, guard), cache_key(model, frames, guard)
    if path.is_file():
        found = _read(path, key)
        if found is not None:
            return found
    found = search(onnx_graph, frames, guard, model.tasks, progress)
    quantize.keep(path, _with_metadata(found, key))
    return found


def _read(path, key):
    """The cached ``Mixed`` at ``path``; None (the file deleted, said where) when it cannot be loaded or was made
    for another key."""
    import onnx

    try:
        graph = onnx.load_from_string(path.read_bytes())
        meta = json.loads({p.key: p.value for p in graph.metadata_props}[METADATA])
        if meta["key"] != key:
            raise ValueError("made for other weights, frames or CPU")
        return Mixed(path.read_bytes(), tuple(map(tuple, meta["kept"])), tuple(Step(**s) for s in meta["curve"]),
                     meta["fp32_ms"])
    except Exception as e:  # protobuf, JSON and key errors alike: the entry is unusable
        log.warning("int8 cache %s cannot be used (%s): deleted, searching again", path, first_line(e, 120))
        path.unlink(missing_ok=True)
        return None


def _with_metadata(found, key):
    import onnx

    graph = onnx.load_from_string(found.graph)
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA, json.dumps({"key": key, "kept": found.kept, "fp32_ms": found.fp32_ms,
                                                   "curve": [asdict(s) for s in found.curve]})
    return graph.SerializeToString()


def _inputs(frames):
    return [pp.normalise(torch.from_numpy(np.ascontiguousarray(f))).numpy() for f in frames]


def _run(runner, inputs):
    return [tuple(torch.from_numpy(o) for o in runner.run(None, {"image": x})) for x in inputs]


def _median_ms(runner, x, repeats=3):
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        runner.run(None, {"image": x})
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times[1:])[repeats // 2]


def _worst(expected, outputs, tasks):
    measured = [agreement(e, o, tasks) for e, o in zip(expected, outputs)]
    depths = [m.depth_error for m in measured if m.depth_error is not None]
    return Agreement(min(m.labels for m in measured), max(depths) if depths else None)


def sensitivity(prepared, int8, frame, folder):
    """The quantized layers of the int8 graph at path ``int8`` (made from the fp32 graph at path ``prepared``),
    most sensitive first, each as (node names, why): the lower SQNR in dB of its weights and its output. A layer
    is a conv, an add, a pool, a resize or a concat; a conv takes the clip that follows it along."""
    import onnx
    from onnxruntime.quantization import qdq_loss_debug as debug

    frame = pp.resize(pp.normalise(torch.from_numpy(frame)), SENSITIVITY_SIZE).numpy()
    activations = {}
    for name, path in (("float", prepared), ("qdq", int8)):
        augmented = Path(folder) / f"{name}-augmented.onnx"
        debug.modify_model_output_intermediate_tensors(str(path), str(augmented))
        activations[name] = debug.collect_activations(str(augmented), quantize.Reader([frame]))
    errors = debug.compute_activation_error(debug.create_activation_matching(activations["qdq"],
                                                                             activations["float"]))
    weights = debug.compute_weight_error(debug.create_weight_matching(str(prepared), str(int8)))
    nodes = onnx.load(str(prepared)).graph.node
    readers = {}
    for node in nodes:
        for tensor in node.input:
            readers.setdefault(tensor, []).append(node)
    ranked = []
    for node in nodes:
        if node.op_type not in LAYERS:
            continue
        names, output = [node.name], node.output[0]
        after = readers.get(output, [])
        if len(after) == 1 and after[0].op_type == "Clip":  # fused into the conv in int8
            names.append(after[0].name)
            output = after[0].output[0]
        scores = {"output": errors.get(output, {}).get("qdq_err"),
                  "weight": weights.get(node.input[1]) if node.op_type == "Conv" else None}
        scores = {k: v for k, v in scores.items() if v is not None}
        if scores:
            kind = min(scores, key=scores.get)
            ranked.append((scores[kind], names, f"{kind} SQNR {scores[kind]:.1f} dB"))
    return [(names, why) for _, names, why in sorted(ranked, key=lambda r: r[0])]


def search(onnx_graph, frames, guard, tasks, progress=None):
    """The search (see the module's doc) on uint8 RGB ``frames``; returns ``Mixed``."""
    import onnx

    say = progress or (lambda message: None)
    inputs = _inputs(frames)
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="jointseg-mixed-") as folder:
        prepared, ranges = quantize.prepare(onnx_graph, folder), Path(folder) / "ranges.json"
        fixed = quantize.kept_in_fp32(onnx.load(str(prepared)))
        reference = session(str(prepared), threads=threads, spinning=False)
        expected = _run(reference, inputs)
        fp32_ms = _median_ms(reference, inputs[0])
        say("int8: calibrating")
        first = quantize.quantize_prepared(prepared, inputs, fixed, Path(folder) / "first.onnx", ranges)
        ranked, probed = [], {}  # probed: layers back in fp32 -> (Step, graph)

        def probe(n):
            back = [name for names, _ in ranked[:n] for name in names]
            graph = quantize.quantize_prepared(prepared, inputs, fixed + back, Path(folder) / "step.onnx",
                                               ranges) if n else first
            runner = session(graph, threads=threads, spinning=False)
            measured = _worst(expected, _run(runner, inputs), tasks)
            probed[n] = (Step(n, measured.labels, measured.depth_error, _median_ms(runner, inputs[0]),
                              guard.passes(measured)), graph)
            say(f"int8: {n} more layers in fp32: {measured.describe()}")
            return probed[n][0].passed

        chosen = 0 if probe(0) else None
        if chosen is None:  # ranked only when the plain int8 graph fails the guard
            say("int8: ranking the layers by their quantization error")
            ranked = sensitivity(prepared, Path(folder) / "first.onnx", frames[0], folder)
            steps = [s for s in STEPS if 0 < s < len(ranked)] + ([len(ranked)] if ranked else [])
            low, high = 0, len(steps)  # steps[:low] fail the guard, steps[high:] pass (measured, or implied)
            while low < high:
                middle = (low + high) // 2
                if probe(steps[middle]):
                    high = middle
                else:
                    low = middle + 1
            chosen = steps[high] if high < len(steps) else None
    if chosen is None:
        worst = probed[max(probed)][0]
        raise quantize.QuantizationError(
            f"no int8 mix passes the accuracy guard ({guard.describe()}): with every layer in fp32, labels "
            f"{100 * worst.labels:.1f} %")
    kept = [(name, "kept by the recipe (first conv or a task head)") for name in fixed]
    kept += [(name, why) for names, why in ranked[:chosen] for name in names]
    curve = tuple(step for n, (step, _) in sorted(probed.items()) if n <= chosen)
    return Mixed(probed[chosen][1], tuple(kept), curve, fp32_ms)
