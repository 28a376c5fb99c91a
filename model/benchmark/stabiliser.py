"""The temporal stabiliser measured: flicker with and without it on a still noisy sequence and on a pan, the
frame-difference gate (``model.inference.stabiliser``) beside the previous result warped by DIS optical flow
first, and its cost beside the network's per backend. Writes the "Temporal stabiliser" section of
BENCHMARKS.md (``--out``), keeping the rest.

    python -m model stabiliser                 # CPU, every backend
    python -m model stabiliser --device cuda

The network is the one fitted to the example frames (``model.training.examples_fit``); the sequences are the
NYUD example frame at 320x240 with Gaussian sensor noise of sigma 6 (still), and a 320x240 window moving 4 px
per frame across the frame at 400x300, with the same noise (pan); the network sees ``--size 160``.
"""
import argparse
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from model.data import examples
from model.inference.backends import names
from model.inference.engine import Predictor, network_size
from model.inference.run_settings import add_arguments, resolve_device
from model.inference.selection import input_for
from model.inference.stabiliser import Stabiliser, blend
from model.training.examples_fit import fitted_model
from model.weights.catalogue import weights_dir

from .report import BENCHMARKS, cpu_description, replace_section, versions

TITLE = "## Temporal stabiliser"
FRAME_HW = (240, 320)
NOISE_SIGMA = 6.0
PAN_STEP = 4  # pixels per frame
NETWORK_SIZE = 160
SETTLED = 4  # frames the stabiliser needs to settle: agreement counts from the 5th frame on


def noisy(image, rng, sigma=NOISE_SIGMA):
    return np.clip(image + rng.normal(0.0, sigma, image.shape), 0, 255).astype(np.uint8)


def still_sequence(count, seed=0):
    """The NYUD example frame at 320x240, each copy with fresh sensor noise."""
    rng = np.random.default_rng(seed)
    frame = examples.frames(FRAME_HW, examples.NYUD[:1])[0]
    return [noisy(frame, rng) for _ in range(count)]


def pan_sequence(count, step=PAN_STEP, seed=0):
    """A 320x240 window moving ``step`` px per frame to the right across the NYUD example frame, noisy."""
    rng = np.random.default_rng(seed)
    h, w = FRAME_HW
    wide = examples.frames((h + 60, max(w + step * count, 400)), examples.NYUD[:1])[0]
    return [noisy(wide[30:30 + h, step * i:step * i + w], rng) for i in range(count)]


def labels_changed(labels):
    """The mean share of labels that changed from one frame to the next."""
    return float(np.mean([np.mean(a != b) for a, b in zip(labels, labels[1:])]))


def agreement(labels, reference, start=SETTLED):
    """The lowest share of labels equal to ``reference``'s, from frame ``start`` on."""
    return float(min(np.mean(a == b) for a, b in zip(labels[start:], reference[start:])))


def depth_noise(depths, start=SETTLED):
    """The temporal standard deviation of the depth per pixel, averaged (metres): on a still sequence, noise."""
    return float(np.stack(depths[start:]).std(0).mean())


class FlowWarped(Stabiliser):
    """The alternative measured: the previous state warped onto the new frame by DIS optical flow (OpenCV,
    on the CPU) before the same gated blend."""

    def __init__(self, tasks, strength=None):
        super().__init__(tasks, True if strength is None else strength)
        self.flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.previous_grey = None

    def warped(self, x, outputs, frame):
        state = self.state_for(x, outputs)
        grey = cv2.cvtColor(cv2.resize(frame, (x.shape[-1], x.shape[-2]), interpolation=cv2.INTER_AREA),
                            cv2.COLOR_RGB2GRAY)
        if self.previous_grey is not None and self.previous_grey.shape == grey.shape:
            flow = self.flow.calc(grey, self.previous_grey, None)  # where each new pixel was in the last frame
            h, w = outputs[0].shape[-2:]
            flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA) * (w / grey.shape[1])
            ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
            grid = np.stack(((xs + 0.5 + flow[..., 0]) / w * 2 - 1, (ys + 0.5 + flow[..., 1]) / h * 2 - 1), -1)
            grid = torch.from_numpy(grid)[None].to(x.device)
            for tensor in (*state.outputs, state.grey):
                tensor.copy_(F.grid_sample(tensor, grid, align_corners=False, padding_mode="border"))
            labels = F.grid_sample(state.labels.float(), grid, mode="nearest", align_corners=False,
                                   padding_mode="border")
            state.labels.copy_(labels.long())
        self.previous_grey = grey
        return blend(state, x, outputs, self.tasks)


def variants(model, frames, device):
    """Labels and depth of each frame without stabilisation, with the gate, and with the flow-warped gate,
    all from the same raw outputs; and each stabiliser's median ms per frame."""
    predictor = Predictor(model, device=device.type, precision="fp32", backend="torch", size=NETWORK_SIZE)
    predictor.warmup(frames[0].shape[:2])
    gate, warp = Stabiliser(model.tasks, True), FlowWarped(model.tasks)
    maps = {"off": ([], []), "gate": ([], []), "flow": ([], [])}
    costs = {"gate": [], "flow": []}
    with torch.inference_mode():
        for frame in frames:
            x = input_for(frame, network_size(frame.shape[:2], NETWORK_SIZE), device)
            outputs = predictor.runner(x)
            for name in maps:
                t = time.perf_counter()
                if name == "off":
                    stabilised = outputs
                elif name == "gate":
                    stabilised = gate(x, outputs)
                else:
                    stabilised = warp.warped(x, outputs, frame)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                if name in costs:
                    costs[name].append((time.perf_counter() - t) * 1e3)
                images = predictor.finish(stabilised, frame.shape[:2])
                maps[name][0].append(images["labels"].cpu().numpy())
                maps[name][1].append(images["depth"].cpu().numpy())
    predictor.close()
    return maps, {k: float(np.median(v[1:])) for k, v in costs.items()}


def flicker_table(model, device, count):
    still, pan = still_sequence(count), pan_sequence(count)
    (s, s_ms), (p, p_ms) = variants(model, still, device), variants(model, pan, device)
    rows = ["| | labels changed / frame, still | depth noise on still pixels (m) | labels changed / frame, pan | "
            "agreement with unstabilised, pan, from frame 5 | ms / frame (still, pan) |",
            "|---|---|---|---|---|---|"]
    titles = {"off": "without", "gate": "frame-difference gate (chosen)", "flow": "DIS flow warp + gate"}
    for name, title in titles.items():
        cost = f"{s_ms[name]:.2f}, {p_ms[name]:.2f}" if name in s_ms else "-"
        rows.append(f"| {title} | {labels_changed(s[name][0]):.2%} | {depth_noise(s[name][1]):.4f} | "
                    f"{labels_changed(p[name][0]):.2%} | {agreement(p[name][0], p['off'][0]):.1%} | {cost} |")
    return "\n".join(rows)


def cost_table(model, device, count):
    """Per backend, through ``Predictor(stabilise=True)`` (eager, so that the stabiliser is timed alone)."""
    rows = ["| backend | network ms | stabiliser ms | share |", "|---|---|---|---|"]
    frames = still_sequence(count)
    for backend in names() if device.type == "cpu" else ("torch",):
        try:
            predictor = Predictor(model, device=device.type, precision="fp32", backend=backend, size=NETWORK_SIZE,
                                  graphs=False, stabilise=True)
            predictor.warmup(frames[0].shape[:2])
            timings = [predictor(frame).timings for frame in frames]
            predictor.close()
        except Exception as e:  # a runtime that is not installed or fails here: said in its row
            rows.append(f"| {backend} | not measured ({str(e).splitlines()[0][:80]}) | | |")
            continue
        network = float(np.median([t["network"] for t in timings[1:]]))
        stabiliser = float(np.median([t["stabilise"] for t in timings[1:]]))
        rows.append(f"| {backend} | {network:.1f} | {stabiliser:.2f} | {stabiliser / network:.1%} |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model stabiliser", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser, device_only=True, device_default="cpu")  # the CPU figures unless asked for another
    parser.add_argument("--frames", type=int, default=30, help="frames per sequence (default: %(default)s)")
    parser.add_argument("--out", default=str(BENCHMARKS), help="default: BENCHMARKS.md")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    model = fitted_model(weights_dir())
    started = time.time()
    machine = cpu_description() + (f"; GPU: {torch.cuda.get_device_name(device)}" if device.type == "cuda" else "")
    heading = TITLE + (", CUDA" if device.type == "cuda" else "")
    body = (f"{heading}\n\nMachine: {machine}; {versions()}.  \n"
            f"Command: `python -m model stabiliser --device {device.type} --frames {args.frames}`.  \n"
            f"{FRAME_HW[1]}x{FRAME_HW[0]} frames, network at {NETWORK_SIZE}, fp32, the network fitted to the "
            f"examples; noise sigma {NOISE_SIGMA:g}, pan {PAN_STEP} px/frame.\n\n"
            f"Flicker (the same raw outputs through each variant):\n\n{flicker_table(model, device, args.frames)}"
            f"\n\nCost beside the network's, per backend (medians):\n\n{cost_table(model, device, args.frames)}\n")
    print(body)
    replace_section(args.out, heading, body)
    print(f"wrote {args.out} in {time.time() - started:.0f} s", file=sys.stderr)
    return 0
