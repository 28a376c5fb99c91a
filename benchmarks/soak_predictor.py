#!/usr/bin/env python3
"""Memory soak of the predictor: N frames (default 10,000) through ``Predictor``, resident memory sampled
as it goes; the growth after the warm-up must stay under 50 MB. Writes the "Memory soak" section of
BENCHMARKS.md (``--out``), keeping the rest of the file.

    python benchmarks/soak_predictor.py                      # CPU, automatic backend, 10,000 frames
    python benchmarks/soak_predictor.py --device cuda --frames 10000

Frames are real example frames at ``--frame`` HxW with a little noise each, cycled, with a frame of another
size every 1,000 frames (the size change path is soaked too). Exit code 1 when the growth passes ``--limit``.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from model.benchmark.report import BENCHMARKS, replace_section, rss_mb  # noqa: E402
from model.benchmark.run import frames_at, model_for  # noqa: E402
from model.inference.engine import Predictor  # noqa: E402

SOAK_TITLE = "## Memory soak"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10000)
    parser.add_argument("--frame", default="120x160", help="frame HxW (default: %(default)s)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--encoder", default="mobilenet_v2")
    parser.add_argument("--every", type=int, default=1000, help="frames between memory samples")
    parser.add_argument("--warmup", type=int, default=2000,
                        help="frames before the baseline sample: both frame sizes prepared (each keeps its own "
                             "compiled network or CUDA graph, at most four sizes)")
    parser.add_argument("--limit", type=float, default=50.0, help="allowed growth in MB")
    parser.add_argument("--out", default=str(BENCHMARKS))
    args = parser.parse_args(argv)
    try:
        size = tuple(int(v) for v in args.frame.lower().split("x"))
        if len(size) != 2 or min(size) < 32:
            raise ValueError(f"--frame is HxW, 32 at least: {args.frame}")
        predictor = Predictor(model_for(args.encoder), device=args.device, backend=args.backend).warmup(size)
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    rng = np.random.default_rng(0)
    frames = frames_at(size, 8)
    other = frames_at((size[0] // 2 + 1, size[1] // 2 + 3), 1)[0]
    samples, started = [], time.time()
    for i in range(args.frames):
        frame = other if i % 1000 == 999 else frames[i % len(frames)]
        noisy = np.clip(frame.astype(np.int16) + rng.integers(-3, 4, frame.shape), 0, 255).astype(np.uint8)
        predictor(noisy)
        if i + 1 == args.warmup or (i + 1) % args.every == 0 or i + 1 == args.frames:
            samples.append((i + 1, rss_mb()))
            print(f"{i + 1:6d} frames  RSS {samples[-1][1]:7.1f} MB", file=sys.stderr, flush=True)
    base = next(mb for n, mb in samples if n >= min(args.warmup, args.frames))
    growth = max(mb for _, mb in samples) - base
    seconds = time.time() - started
    verdict = "pass" if growth < args.limit else "FAIL"
    command = "python benchmarks/soak_predictor.py " + " ".join(argv if argv is not None else sys.argv[1:])
    trace = ", ".join(f"{n}: {mb:.0f}" for n, mb in samples)
    body = (f"{SOAK_TITLE}\n\nCommand: `{command.strip()}` ({seconds / 60:.1f} min, {predictor.description}, "
            f"{args.encoder}, {args.frame} frames with one of another size every 1,000).  \n"
            f"Resident memory after {args.warmup} warm-up frames {base:.1f} MB; largest growth after it over "
            f"{args.frames:,} frames: **{growth:+.1f} MB** (limit {args.limit:.0f} MB: {verdict}).  \n"
            f"Samples (frames: MB): {trace}.\n")
    replace_section(args.out, SOAK_TITLE, body)
    print(body)
    return 0 if growth < args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
