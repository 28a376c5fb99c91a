"""``python -m model quantize [CHECKPOINT] --report``: the mixed int8 graph the engine runs on this CPU, what it
keeps in fp32 and why, and the search's curve (speed against agreement as layers return to fp32).

Without a checkpoint: the network fitted to the example frames. The search (``model.export.mixed``) runs on the
calibration frames at 640x480 and is cached, so a second call only reads the cache. ``--write`` puts the curve
into BENCHMARKS.md's "CPU int8 search" section.
"""
import argparse
import os
import sys
import time

import torch

from model.errors import first_line
from model.export.artefacts import Exports
from model.export.guard import Guard
from model.export.quantize import QuantizationError
from model.training import examples_fit
from model.weights.checkpoint import CheckpointError, load_model

from .report import BENCHMARKS, cpu_description, replace_section, versions
from .run import weights_dir

TITLE = "## CPU int8 search"


def curve_table(found):
    rows = ["| layers back in fp32 (beyond first conv and heads) | ONNX Runtime ms | vs its fp32 | labels identical "
            "| depth median error | guard |", "|---|---|---|---|---|---|"]
    for step in found.curve:
        depth = "-" if step.depth_error is None else f"{100 * step.depth_error:.2f} %"
        rows.append(f"| {step.kept} | {step.ms:.1f} | {found.fp32_ms / step.ms:.2f}x | {100 * step.labels:.1f} % "
                    f"| {depth} | {'passes' if step.passed else 'refused'} |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model quantize", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", help="default: the network fitted to the example frames")
    parser.add_argument("--report", action="store_true", help="print what stays in fp32 and why, and the curve")
    parser.add_argument("--write", action="store_true", help=f"write the curve into {BENCHMARKS.name}")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="default: %(default)s")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        model = load_model(args.checkpoint) if args.checkpoint else examples_fit.fitted_model(weights_dir())
        exports = Exports(model, guard=Guard())
        exports.progress = lambda message: print(message, file=sys.stderr, flush=True)
        start = time.perf_counter()
        found = exports.mixed()
    except (OSError, ValueError, CheckpointError, QuantizationError) as e:
        print(f"error: {first_line(e)}", file=sys.stderr)
        return 1
    minutes = (time.perf_counter() - start) / 60
    if args.report:
        print("\n".join(found.report()))
        print(curve_table(found))
    if args.write:
        command = " ".join(["python -m model quantize", *(argv if argv is not None else sys.argv[1:])])
        body = (f"{TITLE}\n\nMachine: {cpu_description()}; {versions()}.  \nCommand: `{command}` "
                f"({minutes:.1f} min; load average {os.getloadavg()[0]:.1f} after).  \n"
                f"{found.report()[0]}. Each row is one graph the search measured (it bisects the steps), up to the "
                f"one it returns, timed in ONNX Runtime on the first calibration frame; the last row is the graph "
                f"the engine runs as int8.\n\n"
                f"{curve_table(found)}\n")
        replace_section(BENCHMARKS, TITLE, body)
    return 0
